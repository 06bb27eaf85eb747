//! Scope: the session subscribes only to the queues and agents in scope, plus the
//! supervisor's own line and the park server, and follows a queue's members live. The client's
//! engine and the simulator run on virtual time.

#[path = "session_support/mod.rs"]
mod support;

use std::time::Duration;

use ipo_top::model::{LineId, Scope, ScopeAgents, ScopeSummary, Text, UnknownQueue};
use ipo_top::session::{Entity, SessionConfig};
use ipo_top::sim::conn::ConnConfig;
use support::Pair;

/// The demo site (Claims Desk 7301: 4101-4109; Roadside 7302: 4105-4112; Sales 7303:
/// 4110-4116; supervisor 4100) with one caller in Roadside; nobody answers unless the test
/// says so.
/// (The steps, on `support::quiet_demo`.)
const STEPS: &str = r#"
[[step]]
at = 1
call = { queue = "7302", number = "01632960302", name = "B" }
"#;

const B: &str = "01632960302";

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn scoped(queues: &[&str], agents: ScopeAgents) -> Pair {
    let mut l = Pair::scripted(
        &support::quiet_demo(STEPS),
        ConnConfig::default(),
        SessionConfig {
            supervisor_extension: Some("4100".into()),
            scope: Scope {
                queues: queues.iter().map(|q| Text::from(*q)).collect(),
                agents,
            },
            ..SessionConfig::default()
        },
    );
    l.advance(secs(3));
    assert!(!l.syncs.is_empty(), "synced");
    l
}

/// Whether the user is subscribed, as the client has it and as the PBX holds it.
fn user_subscribed(l: &Pair, extn: &str) -> bool {
    subscribed(l, &Entity::User(l.user_guid(extn)))
}

fn subscribed(l: &Pair, entity: &Entity) -> bool {
    let client = l.client.subscribe_id(entity);
    let server = l.server.connection(1).expect("connected");
    client.is_some_and(|id| server.has_subscription(id))
}

fn extns(range: std::ops::RangeInclusive<u32>) -> Vec<String> {
    range.map(|e| e.to_string()).collect()
}

#[test]
fn a_scope_of_one_queue_subscribes_that_queue_its_members_the_supervisor_and_the_park_server() {
    let l = scoped(&["Roadside"], ScopeAgents::Members);
    for extn in extns(4100..=4116) {
        let n: u32 = extn.parse().expect("a number");
        let want = n == 4100 || (4105..=4112).contains(&n);
        assert_eq!(user_subscribed(&l, &extn), want, "user {extn}");
    }
    assert!(subscribed(&l, &Entity::Queue(l.queue_guid("7302"))));
    assert!(!subscribed(&l, &Entity::Queue(l.queue_guid("7301"))));
    assert!(!subscribed(&l, &Entity::Queue(l.queue_guid("7303"))));
    assert!(subscribed(&l, &Entity::ParkServer));
    assert!(subscribed(&l, &Entity::Lines));
    // Lines, presence, the park server, one queue and nine users: nothing else.
    let server = l.server.connection(1).expect("connected");
    assert_eq!(server.subscription_count(), 13);
    // Every user and queue stays known by name and number.
    assert_eq!(l.client.model().users().count(), 17);
    assert_eq!(l.client.model().queues().count(), 3);
    let report = l.syncs.last().expect("a sync");
    assert_eq!(
        report.scope,
        Some(ScopeSummary {
            queues: 1,
            agents: 8,
            unknown: vec![],
        })
    );
    // The caller waiting in the queue in scope is seen.
    let q = LineId::Queue(l.queue_guid("7302"));
    assert!(l.appearance(&q, B).is_some());
}

#[test]
fn a_member_added_is_subscribed_a_member_removed_is_ended_and_disabling_changes_nothing() {
    let mut l = scoped(&["7302"], ScopeAgents::Members);
    let roadside = l.server.pbx.queue_by_extn("7302").expect("7302");
    let newcomer = l.user("4101");
    assert!(!user_subscribed(&l, "4101"));
    assert!(l.server.pbx.set_member(roadside, newcomer, true));
    l.advance(secs(2));
    assert!(user_subscribed(&l, "4101"), "a new member is subscribed");

    let leaver = l.user("4112");
    assert!(user_subscribed(&l, "4112"));
    assert!(l.server.pbx.set_member(roadside, leaver, false));
    l.advance(secs(2));
    assert!(user_subscribed(&l, "4112"), "a disabled member stays");

    let id = l.client.subscribe_id(&Entity::User(l.user_guid("4101")));
    assert!(l.server.pbx.remove_member(roadside, newcomer));
    l.advance(secs(2));
    assert!(!user_subscribed(&l, "4101"), "a member removed is ended");
    let id = id.expect("it had an id");
    assert!(
        !l.server
            .connection(1)
            .expect("connected")
            .has_subscription(id),
        "the PBX was told (SubscribeEnd)"
    );
    // The supervisor is never ended, member or not.
    assert!(user_subscribed(&l, "4100"));
}

#[test]
fn an_unknown_queue_name_is_reported_with_close_matches_and_the_rest_works() {
    let l = scoped(&["Roadsde", "7301"], ScopeAgents::Members);
    let report = l.syncs.last().expect("a sync");
    assert_eq!(
        report.scope,
        Some(ScopeSummary {
            queues: 1,
            agents: 9,
            unknown: vec![UnknownQueue {
                name: "Roadsde".into(),
                close: vec!["Roadside".into()],
            }],
        })
    );
    assert!(subscribed(&l, &Entity::Queue(l.queue_guid("7301"))));
    assert!(!subscribed(&l, &Entity::Queue(l.queue_guid("7302"))));
    assert!(user_subscribed(&l, "4101"));
    assert!(!user_subscribed(&l, "4110"));
}

#[test]
fn a_call_answered_by_an_agent_outside_the_scope_counts_as_answered_and_names_the_agent() {
    // Only the queue and the supervisor's own line: every agent is outside the scope.
    let mut l = scoped(&["Roadside"], ScopeAgents::Listed(vec!["4100".into()]));
    for extn in extns(4101..=4116) {
        assert!(!user_subscribed(&l, &extn), "user {extn}");
    }
    let agent = l.ringing_with(B).expect("an agent rings");
    let id = l.user(&agent);
    assert!(l.server.pbx.answer_ringing(id));
    l.advance(secs(2));
    let q = l.queue_guid("7302");
    let model = l.client.model();
    let queue = model.queue(&q).expect("the queue");
    assert_eq!(queue.stats.answered, 1, "answered");
    let call = l
        .appearance(&LineId::Queue(q.clone()), B)
        .expect("the call");
    let connected = call
        .call
        .connected
        .as_ref()
        .expect("connected to the agent");
    assert_eq!(connected.number, agent.as_str());
    let name = &model
        .user_by_extn(&agent)
        .expect("known by the lines list")
        .name;
    assert!(!name.is_empty());
}

#[test]
fn a_member_removed_during_a_call_is_ended_once_the_call_ends() {
    let mut l = scoped(&["Roadside"], ScopeAgents::Members);
    let agent = l.ringing_with(B).expect("an agent rings");
    let id = l.user(&agent);
    assert!(l.server.pbx.answer_ringing(id));
    l.advance(secs(2));
    let roadside = l.server.pbx.queue_by_extn("7302").expect("7302");
    assert!(l.server.pbx.remove_member(roadside, id));
    l.advance(secs(2));
    assert!(user_subscribed(&l, &agent), "kept while its call lasts");
    assert!(l.server.pbx.far_end_hangs_up(id));
    l.advance(secs(2));
    assert!(!user_subscribed(&l, &agent), "ended with its last call");
}
