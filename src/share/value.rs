//! The values of the model bucket: versioned JSON (`"schema": 1`), readable with
//! `nats kv get` and by other tools. Users, queues and appearances are written as
//! `events --json` writes them, plus what that leaves out for a screen: times as Unix
//! milliseconds (an `Instant` means nothing on another machine) and the raw statistics.
//!
//! Each reader turns the Unix times back into its own `Instant`s through its [`WallClock`].

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::model::{
    AccountCodes, AgentState, AgentStats, AgentStatus, Appearance, AppearanceId, AppearanceKey,
    CallFeatureBits, CallSnapshot, ConnectionState, EndReason, Guid, LineLabel, PbxSystem,
    PeriodStart, PhoneState, Queue, QueueStats, QueueStatus, StatsPeriod, StopKind, Text, User,
    UserFeatureBits, UserStatus, WallClock,
};

/// The version of the values; it changes only when a field changes meaning or goes away.
pub const SCHEMA: u32 = 1;

/// A value that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ValueError {
    /// Not the JSON this schema writes.
    #[error("not an ipo-top value: {0}")]
    Json(#[from] serde_json::Error),
    /// Not UTF-8 text, so not JSON.
    #[error("not an ipo-top value: {0}")]
    Utf8(std::str::Utf8Error),
    /// Written by a newer (or older) ipo-top.
    #[error("schema {found}, this ipo-top reads schema {SCHEMA}: run the same version")]
    Schema {
        /// The value's schema.
        found: u32,
    },
}

/// How every value this version writes begins: its schema first, so that a reader knows it
/// before the fields whose meaning the schema fixes.
fn schema_prefix() -> String {
    format!("{{\"schema\":{SCHEMA}")
}

pub(super) fn encode<T: Serialize>(body: &T) -> Vec<u8> {
    // `{"schema":1,` then the body's own fields: the body's object with the schema put in
    // front (serde's `flatten` would take its slower, buffering path for every value).
    let mut out = schema_prefix().into_bytes();
    let start = out.len();
    // Serialising these plain structs cannot fail (string keys, no maps of other keys).
    if serde_json::to_writer(&mut out, body).is_err() {
        return Vec::new();
    }
    match out.get_mut(start..) {
        Some([b'{', b'}']) => {
            out.truncate(start);
            out.push(b'}');
        }
        Some([brace @ b'{', ..]) => *brace = b',',
        // Not an object: every body is one.
        _ => return Vec::new(),
    }
    out
}

pub(super) fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, ValueError> {
    #[derive(Deserialize)]
    struct Schema {
        schema: u32,
    }
    // What this version writes says its schema first: then one pass reads it. Another
    // writer may order the fields otherwise: its schema is read first.
    let ours = bytes.strip_prefix(schema_prefix().as_bytes());
    if !matches!(ours, Some([b',' | b'}', ..])) {
        let s: Schema = serde_json::from_slice(bytes)?;
        if s.schema != SCHEMA {
            return Err(ValueError::Schema { found: s.schema });
        }
    }
    // The body's fields, the schema among them, which the body ignores. The text is checked
    // for UTF-8 once, whole: read from a slice, serde_json checks each string on its own.
    let text = std::str::from_utf8(bytes).map_err(ValueError::Utf8)?;
    Ok(serde_json::from_str(text)?)
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[derive(Serialize, Deserialize)]
struct UserValue {
    guid: Guid,
    extn: Text,
    name: Text,
    status: Option<UserStatus>,
    phone: Option<PhoneState>,
    agent: AgentState,
    agent_observed: bool,
    agent_since_ms: i64,
    /// `featuresavailable` as the PBX sent it (the status lists the bits ipo-top names).
    features_bits: u32,
    stats: AgentStatsValue,
}

#[derive(Serialize, Deserialize)]
struct AgentStatsValue {
    answered: u32,
    talk_ms: u64,
    acw_ms: u64,
    since_ms: i64,
}

/// A user as the bucket holds it.
pub fn user_to_json(u: &User, clock: &WallClock) -> Vec<u8> {
    encode(&UserValue {
        guid: u.guid.clone(),
        extn: u.extn.clone(),
        name: u.name.clone(),
        status: u.status.clone(),
        phone: u.phone,
        agent: u.agent.state,
        agent_observed: u.agent.observed,
        agent_since_ms: clock.unix_ms_at(u.agent.since),
        features_bits: u.status.as_ref().map_or(0, |s| s.features.bits()),
        stats: AgentStatsValue {
            answered: u.stats.answered,
            talk_ms: ms(u.stats.talk),
            acw_ms: ms(u.stats.acw),
            since_ms: clock.unix_ms_at(u.stats.since),
        },
    })
}

/// A user from the bucket.
pub fn user_from_json(bytes: &[u8], clock: &WallClock) -> Result<User, ValueError> {
    let v: UserValue = decode(bytes)?;
    let mut status = v.status;
    if let Some(s) = status.as_mut() {
        s.features = UserFeatureBits(v.features_bits);
    }
    Ok(User {
        guid: v.guid,
        extn: v.extn,
        name: v.name,
        status,
        phone: v.phone,
        agent: AgentStatus {
            state: v.agent,
            since: clock.instant_at(v.agent_since_ms),
            observed: v.agent_observed,
        },
        stats: AgentStats {
            answered: v.stats.answered,
            talk: Duration::from_millis(v.stats.talk_ms),
            acw: Duration::from_millis(v.stats.acw_ms),
            since: clock.instant_at(v.stats.since_ms),
        },
    })
}

#[derive(Serialize, Deserialize)]
struct QueueValue {
    guid: Guid,
    extn: Text,
    name: Text,
    status: Option<QueueStatus>,
    stats: QueueStatsValue,
}

/// The statistics as counted by the serving side, every field (a viewer shows these, and
/// computes nothing of its own).
#[derive(Serialize, Deserialize)]
struct QueueStatsValue {
    waiting: u32,
    offered: u32,
    answered: u32,
    abandoned: u32,
    short_abandoned: u32,
    lower_bound: u32,
    timed_answered: u32,
    answered_in_sl: u32,
    timed_abandoned: u32,
    answer_wait_ms: u64,
    oldest_waiting_ms: Option<i64>,
    oldest_is_lower_bound: bool,
}

/// A queue as the bucket holds it.
pub fn queue_to_json(q: &Queue, clock: &WallClock) -> Vec<u8> {
    let s = &q.stats;
    encode(&QueueValue {
        guid: q.guid.clone(),
        extn: q.extn.clone(),
        name: q.name.clone(),
        status: q.status.clone(),
        stats: QueueStatsValue {
            waiting: s.waiting,
            offered: s.offered,
            answered: s.answered,
            abandoned: s.abandoned,
            short_abandoned: s.short_abandoned,
            lower_bound: s.lower_bound,
            timed_answered: s.timed_answered,
            answered_in_sl: s.answered_in_sl,
            timed_abandoned: s.timed_abandoned,
            answer_wait_ms: s.answer_wait_ms,
            oldest_waiting_ms: s.oldest_waiting.map(|t| clock.unix_ms_at(t)),
            oldest_is_lower_bound: s.oldest_is_lower_bound,
        },
    })
}

/// A queue from the bucket.
pub fn queue_from_json(bytes: &[u8], clock: &WallClock) -> Result<Queue, ValueError> {
    let v: QueueValue = decode(bytes)?;
    let s = v.stats;
    Ok(Queue {
        guid: v.guid,
        extn: v.extn,
        name: v.name,
        status: v.status,
        stats: QueueStats {
            waiting: s.waiting,
            offered: s.offered,
            answered: s.answered,
            abandoned: s.abandoned,
            short_abandoned: s.short_abandoned,
            lower_bound: s.lower_bound,
            timed_answered: s.timed_answered,
            answered_in_sl: s.answered_in_sl,
            timed_abandoned: s.timed_abandoned,
            answer_wait_ms: s.answer_wait_ms,
            oldest_waiting: s.oldest_waiting_ms.map(|t| clock.instant_at(t)),
            oldest_is_lower_bound: s.oldest_is_lower_bound,
        },
    })
}

#[derive(Serialize, Deserialize)]
struct CallValue {
    id: AppearanceId,
    key: AppearanceKey,
    line: LineLabel,
    first_seen_ms: i64,
    state_since_ms: i64,
    state_observed: bool,
    present_at_connect: bool,
    /// Set on the appearance's last value, written just before its key is purged, so that
    /// viewers say why it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ended: Option<EndValue>,
    /// `featuresavailable` as the PBX sent it (the call lists the functions ipo-top names).
    features_bits: u32,
    call: CallSnapshot,
}

/// Why an appearance ended (the model's [`EndReason`], readable back).
#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum EndValue {
    Lost {
        cause: i32,
        this_end_dropped: bool,
        description: Text,
    },
    NotReported,
    LineRemoved,
    ParkServerGone,
}

impl From<&EndReason> for EndValue {
    fn from(r: &EndReason) -> Self {
        match r {
            EndReason::Lost {
                cause,
                this_end_dropped,
                description,
            } => EndValue::Lost {
                cause: *cause,
                this_end_dropped: *this_end_dropped,
                description: description.clone(),
            },
            EndReason::NotReported => EndValue::NotReported,
            EndReason::LineRemoved => EndValue::LineRemoved,
            EndReason::ParkServerGone => EndValue::ParkServerGone,
        }
    }
}

impl From<EndValue> for EndReason {
    fn from(v: EndValue) -> Self {
        match v {
            EndValue::Lost {
                cause,
                this_end_dropped,
                description,
            } => EndReason::Lost {
                cause,
                this_end_dropped,
                description,
            },
            EndValue::NotReported => EndReason::NotReported,
            EndValue::LineRemoved => EndReason::LineRemoved,
            EndValue::ParkServerGone => EndReason::ParkServerGone,
        }
    }
}

/// A call appearance as the bucket holds it; with `ended`, its last value.
pub fn call_to_json(a: &Appearance, ended: Option<&EndReason>, clock: &WallClock) -> Vec<u8> {
    encode(&CallValue {
        id: a.id,
        key: a.key.clone(),
        line: a.line.clone(),
        first_seen_ms: clock.unix_ms_at(a.first_seen),
        state_since_ms: clock.unix_ms_at(a.state_since),
        state_observed: a.state_observed,
        present_at_connect: a.present_at_connect,
        ended: ended.map(EndValue::from),
        features_bits: a.call.features.bits(),
        call: a.call.clone(),
    })
}

/// A call appearance from the bucket, and why it ended when this is its last value.
pub fn call_from_json(
    bytes: &[u8],
    clock: &WallClock,
) -> Result<(Appearance, Option<EndReason>), ValueError> {
    let v: CallValue = decode(bytes)?;
    let mut call = v.call;
    call.features = CallFeatureBits(v.features_bits);
    Ok((
        Appearance {
            id: v.id,
            key: v.key,
            line: v.line,
            first_seen: clock.instant_at(v.first_seen_ms),
            state_since: clock.instant_at(v.state_since_ms),
            state_observed: v.state_observed,
            present_at_connect: v.present_at_connect,
            call,
        },
        v.ended.map(EndReason::from),
    ))
}

/// The serving side's link to the PBX ([`ConnectionState`] with its instant as Unix time).
#[derive(Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
enum LinkValue {
    Idle,
    Connecting {
        attempt: u32,
    },
    Syncing {
        confirmed: usize,
        wanted: usize,
    },
    Connected {
        round_trip_ms: Option<f64>,
    },
    Reconnecting {
        at_ms: i64,
        retry_in_ms: u64,
        reason: Text,
    },
    Stopped {
        kind: StopKind,
        reason: Text,
    },
}

/// The link state as the bucket holds it.
pub fn link_to_json(c: &ConnectionState, clock: &WallClock) -> Vec<u8> {
    encode(&match c {
        ConnectionState::Idle => LinkValue::Idle,
        ConnectionState::Connecting { attempt } => LinkValue::Connecting { attempt: *attempt },
        ConnectionState::Syncing { confirmed, wanted } => LinkValue::Syncing {
            confirmed: *confirmed,
            wanted: *wanted,
        },
        ConnectionState::Connected { round_trip_ms } => LinkValue::Connected {
            round_trip_ms: *round_trip_ms,
        },
        ConnectionState::Reconnecting {
            at,
            retry_in_ms,
            reason,
        } => LinkValue::Reconnecting {
            at_ms: clock.unix_ms_at(*at),
            retry_in_ms: *retry_in_ms,
            reason: reason.clone(),
        },
        ConnectionState::Stopped { kind, reason } => LinkValue::Stopped {
            kind: *kind,
            reason: reason.clone(),
        },
    })
}

/// The link state from the bucket.
pub fn link_from_json(bytes: &[u8], clock: &WallClock) -> Result<ConnectionState, ValueError> {
    Ok(match decode::<LinkValue>(bytes)? {
        LinkValue::Idle => ConnectionState::Idle,
        LinkValue::Connecting { attempt } => ConnectionState::Connecting { attempt },
        LinkValue::Syncing { confirmed, wanted } => ConnectionState::Syncing { confirmed, wanted },
        LinkValue::Connected { round_trip_ms } => ConnectionState::Connected { round_trip_ms },
        LinkValue::Reconnecting {
            at_ms,
            retry_in_ms,
            reason,
        } => ConnectionState::Reconnecting {
            at: clock.instant_at(at_ms),
            retry_in_ms,
            reason,
        },
        LinkValue::Stopped { kind, reason } => ConnectionState::Stopped { kind, reason },
    })
}

#[derive(Serialize, Deserialize)]
struct PeriodValue {
    since_ms: i64,
    until_ms: Option<i64>,
    start: PeriodStart,
    label: Text,
    service_level_secs: u64,
    short_abandon_secs: u64,
}

/// The counting period as the bucket holds it.
pub fn period_to_json(p: &StatsPeriod, clock: &WallClock) -> Vec<u8> {
    encode(&PeriodValue {
        since_ms: clock.unix_ms_at(p.since),
        until_ms: p.until.map(|t| clock.unix_ms_at(t)),
        start: p.start,
        label: p.label.clone(),
        service_level_secs: p.service_level_secs,
        short_abandon_secs: p.short_abandon_secs,
    })
}

/// The counting period from the bucket.
pub fn period_from_json(bytes: &[u8], clock: &WallClock) -> Result<StatsPeriod, ValueError> {
    let v: PeriodValue = decode(bytes)?;
    Ok(StatsPeriod {
        since: clock.instant_at(v.since_ms),
        until: v.until_ms.map(|t| clock.instant_at(t)),
        start: v.start,
        label: v.label,
        service_level_secs: v.service_level_secs,
        short_abandon_secs: v.short_abandon_secs,
    })
}

#[derive(Serialize, Deserialize)]
struct TextValue {
    text: Text,
}

#[derive(Serialize, Deserialize)]
struct SystemValue {
    system: PbxSystem,
}

#[derive(Serialize, Deserialize)]
struct ParkValue {
    available: bool,
}

#[derive(Serialize, Deserialize)]
struct CodesValue {
    codes: AccountCodes,
}

/// The PBX's version text as the bucket holds it.
pub fn version_to_json(t: &Text) -> Vec<u8> {
    encode(&TextValue { text: t.clone() })
}

/// The PBX's version text from the bucket.
pub fn version_from_json(bytes: &[u8]) -> Result<Text, ValueError> {
    decode::<TextValue>(bytes).map(|v| v.text)
}

/// Primary or secondary, as the bucket holds it.
pub fn system_to_json(s: PbxSystem) -> Vec<u8> {
    encode(&SystemValue { system: s })
}

/// Primary or secondary, from the bucket.
pub fn system_from_json(bytes: &[u8]) -> Result<PbxSystem, ValueError> {
    decode::<SystemValue>(bytes).map(|v| v.system)
}

/// Whether the park server can be followed, as the bucket holds it.
pub fn park_to_json(available: bool) -> Vec<u8> {
    encode(&ParkValue { available })
}

/// Whether the park server can be followed, from the bucket.
pub fn park_from_json(bytes: &[u8]) -> Result<bool, ValueError> {
    decode::<ParkValue>(bytes).map(|v| v.available)
}

/// The account codes as the bucket holds them.
pub fn codes_to_json(c: &AccountCodes) -> Vec<u8> {
    encode(&CodesValue { codes: c.clone() })
}

/// The account codes from the bucket.
pub fn codes_from_json(bytes: &[u8]) -> Result<AccountCodes, ValueError> {
    decode::<CodesValue>(bytes).map(|v| v.codes)
}

/// The serving side's last sync, for `check --shared` (the session's report in plain figures:
/// this module knows the model, not the session).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SyncValue {
    /// Users in the model.
    pub users: usize,
    /// Queues in the model.
    pub queues: usize,
    /// The PBX says the park server can be subscribed.
    pub park_available: bool,
    /// Subscriptions confirmed.
    pub subscribed: usize,
    /// Subscriptions the PBX refused.
    pub failed: usize,
    /// The request round trip, in milliseconds.
    pub round_trip_ms: Option<f64>,
    /// The serving side's scope, in words (`None`: the whole site).
    pub scope: Option<String>,
    /// The PBX the serving side is connected to (`host:port`).
    pub pbx: String,
}

impl SyncValue {
    /// As the bucket holds it.
    pub fn to_json(&self) -> Vec<u8> {
        encode(self)
    }

    /// From the bucket.
    pub fn from_json(bytes: &[u8]) -> Result<SyncValue, ValueError> {
        decode(bytes)
    }
}

/// Who holds a site's lock, as the lock bucket holds it (for people reading it: the lock
/// itself is the key's revision).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HolderValue {
    /// The serving machine's host name.
    pub host: String,
    /// The serving process.
    pub pid: u32,
}

impl HolderValue {
    /// As the bucket holds it.
    pub fn to_json(&self) -> Vec<u8> {
        encode(self)
    }

    /// From the bucket.
    pub fn from_json(bytes: &[u8]) -> Result<HolderValue, ValueError> {
        decode(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize, Deserialize, PartialEq, Debug)]
    struct Body {
        text: String,
    }

    #[derive(Serialize, Deserialize, PartialEq, Debug)]
    struct Nothing {}

    #[test]
    fn a_value_says_its_schema_first_and_is_read_whatever_the_order() {
        let body = Body { text: "x".into() };
        assert_eq!(encode(&body), br#"{"schema":1,"text":"x"}"#);
        assert_eq!(encode(&Nothing {}), br#"{"schema":1}"#);
        assert_eq!(decode::<Nothing>(br#"{"schema":1}"#).ok(), Some(Nothing {}));
        // Another tool may write the fields in another order, or with spaces.
        for text in [
            r#"{"schema":1,"text":"x"}"#,
            r#"{"text":"x","schema":1}"#,
            r#"{ "schema": 1, "text": "x" }"#,
        ] {
            assert_eq!(
                decode::<Body>(text.as_bytes()).ok(),
                Some(Body { text: "x".into() }),
                "{text}"
            );
        }
    }

    #[test]
    fn a_call_carries_only_what_it_has_and_reads_back_whole() {
        use crate::model::{CallState, LineId, Party};
        use std::time::Instant;
        let now = Instant::now();
        let clock = WallClock::utc(now, 1_765_000_000_000);
        let call = CallSnapshot {
            callid: 7,
            state: CallState::from_code(CallState::default().code() + 1),
            calling: Some(Party {
                number: "02079460393".into(),
                ..Party::default()
            }),
            ..CallSnapshot::default()
        };
        let a = Appearance {
            id: AppearanceId(3),
            key: AppearanceKey {
                line: LineId::Queue(Guid::from_hex("03590224DB55D53312060050569F6EF8").unwrap()),
                callid: 7,
            },
            line: LineLabel {
                extn: "70073".into(),
                name: "Sales".into(),
            },
            first_seen: now,
            state_since: now,
            state_observed: true,
            present_at_connect: false,
            call,
        };
        let bytes = call_to_json(&a, None, &clock);
        let text = String::from_utf8(bytes.clone()).unwrap();
        // Empty texts, false flags, zero numbers, absent details and empty lists stay out.
        for absent in [
            "\"tag\"",
            "\"mute\"",
            "\"related_callid\"",
            "\"failed_cause\"",
            "\"dial\"",
            "\"targets\"",
            "\"conference\"",
        ] {
            assert!(!text.contains(absent), "{absent} in {text}");
        }
        assert!(
            text.contains(r#""calling":{"number":"02079460393"}"#),
            "{text}"
        );
        let (back, ended) = call_from_json(&bytes, &clock).unwrap();
        assert_eq!(ended, None);
        assert_eq!(back.call, a.call);
        assert_eq!((back.id, &back.key, &back.line), (a.id, &a.key, &a.line));
    }

    #[test]
    fn a_value_that_is_not_utf8_is_refused_and_says_so() {
        let err = decode::<Body>(b"{\"schema\":1,\"text\":\"\xff\"}").unwrap_err();
        assert!(matches!(err, ValueError::Utf8(_)), "{err:?}");
        assert!(err.to_string().starts_with("not an ipo-top value"), "{err}");
    }

    #[test]
    fn another_schema_is_refused_wherever_it_stands() {
        for text in [
            r#"{"schema":10,"text":"x"}"#,
            r#"{"schema":2,"text":"x"}"#,
            r#"{"text":"x","schema":2}"#,
            r#"{"text":"x"}"#,
        ] {
            assert!(decode::<Body>(text.as_bytes()).is_err(), "{text}");
        }
    }
}
