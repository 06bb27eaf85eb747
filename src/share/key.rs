//! The bucket names and key names of shared mode. Key-value keys allow only
//! `[-/_=.a-zA-Z0-9]`, so GUIDs go in as the hex the document prints them in and appearances
//! by the model's numeric identity; nothing from the PBX reaches a key unencoded.

use crate::model::{AppearanceId, Guid};

/// The model bucket of a site: `ipo-top-SITE`.
pub fn model_bucket(site: &str) -> String {
    format!("ipo-top-{site}")
}

/// The bucket that elects the one serving process of a site: `ipo-top-lock-SITE`.
pub fn lock_bucket(site: &str) -> String {
    format!("ipo-top-lock-{site}")
}

/// The one key of the lock bucket.
pub const LOCK_KEY: &str = "holder";

/// One object of the model bucket.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum Key {
    /// A user, by GUID: `user.<HEX>`.
    User(Guid),
    /// A queue, by GUID: `queue.<HEX>`.
    Queue(Guid),
    /// A call appearance (user, queue or park server line), by the serving side's stable
    /// identity: `call.<N>`. The line and callid are in the value; the identity outlives a
    /// callid that changes on a resubscription, so the key does too.
    Call(AppearanceId),
    /// The serving side's link to the PBX: `pbx.link`.
    Link,
    /// The PBX's version: `pbx.version`.
    Version,
    /// Primary or secondary: `pbx.system`.
    System,
    /// Whether the park server can be followed: `pbx.park`.
    Park,
    /// The account codes: `pbx.account_codes`.
    AccountCodes,
    /// The statistics' counting period: `stats.period`.
    Period,
    /// The serving side's last sync report: `sync.report`.
    Sync,
    /// A queue's alert levels, trends and 15-minute window as the serving side judged them:
    /// `alerts.queue.<HEX>`.
    Alerts(Guid),
    /// Whether the serving side's alerts are paused: `alerts.paused`.
    AlertsPaused,
}

/// Written for a GUID the PBX sent empty (hex would leave the key ending in a dot).
const EMPTY_GUID: &str = "_";

fn guid_part(g: &Guid) -> String {
    if g.is_empty() {
        EMPTY_GUID.to_owned()
    } else {
        g.to_hex()
    }
}

fn parse_guid(s: &str) -> Option<Guid> {
    if s == EMPTY_GUID {
        Some(Guid::from_bytes(&[]))
    } else {
        Guid::from_hex(s)
    }
}

impl Key {
    /// The key's name in the bucket.
    pub fn name(&self) -> String {
        match self {
            Key::User(g) => format!("user.{}", guid_part(g)),
            Key::Queue(g) => format!("queue.{}", guid_part(g)),
            Key::Call(id) => format!("call.{}", id.0),
            Key::Link => "pbx.link".to_owned(),
            Key::Version => "pbx.version".to_owned(),
            Key::System => "pbx.system".to_owned(),
            Key::Park => "pbx.park".to_owned(),
            Key::AccountCodes => "pbx.account_codes".to_owned(),
            Key::Period => "stats.period".to_owned(),
            Key::Sync => "sync.report".to_owned(),
            Key::Alerts(g) => format!("alerts.queue.{}", guid_part(g)),
            Key::AlertsPaused => "alerts.paused".to_owned(),
        }
    }

    /// The key a name in the bucket stands for; `None` for a name ipo-top does not write.
    pub fn parse(name: &str) -> Option<Key> {
        let (kind, rest) = name.split_once('.')?;
        Some(match (kind, rest) {
            ("user", g) => Key::User(parse_guid(g)?),
            ("queue", g) => Key::Queue(parse_guid(g)?),
            ("call", n) => Key::Call(AppearanceId(n.parse().ok()?)),
            ("pbx", "link") => Key::Link,
            ("pbx", "version") => Key::Version,
            ("pbx", "system") => Key::System,
            ("pbx", "park") => Key::Park,
            ("pbx", "account_codes") => Key::AccountCodes,
            ("stats", "period") => Key::Period,
            ("sync", "report") => Key::Sync,
            ("alerts", "paused") => Key::AlertsPaused,
            ("alerts", q) => Key::Alerts(parse_guid(q.strip_prefix("queue.")?)?),
            _ => return None,
        })
    }
}

/// Whether `name` is a key JetStream's key-value store accepts: `[-/_=.a-zA-Z0-9]`, not empty,
/// not starting or ending with a dot.
pub fn is_valid_key(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && !name.ends_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-/_=.".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_is_valid_and_reads_back() {
        let keys = [
            Key::User(Guid::from_bytes(&[0xDC, 0x51, 0xBA, 0x00])),
            Key::User(Guid::from_bytes(&[])),
            Key::Queue(Guid::from_bytes(&[0x01, 0xFF])),
            Key::Call(AppearanceId(0)),
            Key::Call(AppearanceId(u64::MAX)),
            Key::Link,
            Key::Version,
            Key::System,
            Key::Park,
            Key::AccountCodes,
            Key::Period,
            Key::Sync,
            Key::Alerts(Guid::from_bytes(&[0x01, 0xFF])),
            Key::Alerts(Guid::from_bytes(&[])),
            Key::AlertsPaused,
        ];
        for k in keys {
            let name = k.name();
            assert!(is_valid_key(&name), "{name}");
            assert_eq!(Key::parse(&name), Some(k), "{name}");
        }
        assert_eq!(
            Key::User(Guid::from_bytes(&[0xDC, 0x51])).name(),
            "user.DC51"
        );
    }

    #[test]
    fn names_ipo_top_does_not_write_are_not_keys() {
        for name in [
            "",
            "user",
            "user.XYZ",
            "user.ABC",
            "call.-1",
            "pbx.other",
            "x.y",
            "alerts.01FF",
            "alerts.queue.XYZ",
        ] {
            assert_eq!(Key::parse(name), None, "{name}");
        }
        for name in ["", ".a", "a.", "a b", "a*", "a>", "ünï"] {
            assert!(!is_valid_key(name), "{name}");
        }
        assert!(is_valid_key(&lock_bucket("hq-1")));
        assert!(is_valid_key(LOCK_KEY));
    }
}
