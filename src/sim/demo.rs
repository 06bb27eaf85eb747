//! The demo scenario: an insurance call centre with three hunt groups, sixteen agents and a
//! supervisor, busy enough that something is always happening.

use std::time::Duration;

use super::site::{
    AbsenceText, MailboxCounts, MemberSpec, OverflowSpec, ParkedSpec, QueueSpec, RingMode, Site,
    Traffic, TrunkKind, UserSpec,
};

/// (extension, name, full name) of the agents.
const AGENTS: &[(&str, &str, &str)] = &[
    ("4101", "Achterberg", "Femke Achterberg"),
    ("4102", "Nakashima", "Kenji Nakashima"),
    ("4103", "Oyelaran", "Tolu Oyelaran"),
    ("4104", "Vasquez-Roe", "Marisol Vasquez-Roe"),
    ("4105", "Lindqvist", "Annika Lindqvist"),
    ("4106", "Brennan", "Siobhan Brennan"),
    ("4107", "Kowalczyk", "Piotr Kowalczyk"),
    ("4108", "Haddad", "Rania Haddad"),
    ("4109", "Okonkwo", "Chidi Okonkwo"),
    ("4110", "Fitzgerald", "Liam Fitzgerald"),
    ("4111", "Moreau", "Camille Moreau"),
    ("4112", "Sandhu", "Harpreet Sandhu"),
    ("4113", "Petrov", "Dmitri Petrov"),
    ("4114", "Albright", "Grace Albright"),
    ("4115", "Nguyen", "Thanh Nguyen"),
    ("4116", "Esposito", "Marco Esposito"),
];

fn email(fullname: &str) -> String {
    let local: String = fullname
        .to_lowercase()
        .chars()
        .map(|c| if c == ' ' { '.' } else { c })
        .filter(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '-')
        .collect();
    format!("{local}@harbourmutual.example")
}

fn members(extns: std::ops::RangeInclusive<u32>) -> Vec<MemberSpec> {
    extns.map(|e| MemberSpec::enabled(&e.to_string())).collect()
}

impl Site {
    /// The demo site: Claims Desk (7301, ring idle), Roadside (7302, sequential, overflows to
    /// Claims Desk after 40 s) and Sales (7303, group ringing; Claims Desk overflows there after
    /// 60 s); agents 4101-4116, supervisor
    /// 4100. Achterberg (4101) is in DND, Vasquez-Roe (4104) is logged off, Haddad (4108) is
    /// disabled in Claims Desk, and one call is parked in slot 1. Twenty minutes of traffic run
    /// before the start, then calls are topped up so that at least two wait in each group and
    /// two agents ring: calls are waiting, ringing and connected from the first second.
    pub fn demo() -> Site {
        let mut users = Vec::new();
        let mut sup = UserSpec::new("4100", "Oduya", "Margaret Oduya");
        sup.email = email("Margaret Oduya");
        sup.direct_calls = true;
        sup.did = "03007100".to_string();
        sup.mailbox = MailboxCounts {
            new: 2,
            old: 5,
            saved: 1,
        };
        users.push(sup);
        for (i, &(extn, name, full)) in AGENTS.iter().enumerate() {
            let mut u = UserSpec::new(extn, name, full);
            u.email = email(full);
            u.direct_calls = i % 2 == 1;
            u.did = format!("0300{extn}");
            u.mailbox = MailboxCounts {
                new: (i % 3) as u32,
                old: (i % 5) as u32 + 1,
                saved: 0,
            };
            match extn {
                "4101" => u.dnd = true,
                "4104" => {
                    u.logged_off = true;
                    u.absence = Some(AbsenceText {
                        msg: 1,
                        text: "Monday".to_string(),
                    });
                }
                "4111" => u.language = "fra".to_string(),
                _ => {}
            }
            users.push(u);
        }

        let mut claims = QueueSpec::new("7301", "Claims Desk", members(4101..=4109));
        claims.members[7].enabled = false;
        claims.overflow = Some(OverflowSpec {
            queue_extn: "7303".to_string(),
            after: Duration::from_secs(60),
        });
        claims.calls_per_hour = 54.0;
        claims.voicemail = true;
        claims.voicemail_time = 240;
        claims.mailbox = MailboxCounts {
            new: 3,
            old: 12,
            saved: 2,
        };
        claims.did = "03007301".to_string();
        claims.email = "claims@harbourmutual.example".to_string();

        let mut roadside = QueueSpec::new("7302", "Roadside", members(4105..=4112));
        roadside.ring_mode = RingMode::Sequential;
        roadside.calls_per_hour = 42.0;
        roadside.overflow = Some(OverflowSpec {
            queue_extn: "7301".to_string(),
            after: Duration::from_secs(40),
        });
        roadside.did = "03007302".to_string();
        roadside.trunk = TrunkKind::Isdn;
        roadside.no_answer_time = 12;

        let mut sales = QueueSpec::new("7303", "Sales", members(4110..=4116));
        sales.ring_mode = RingMode::Group;
        sales.calls_per_hour = 36.0;
        sales.voicemail = true;
        sales.voicemail_time = 180;
        sales.did = "03007303".to_string();
        sales.email = "sales@harbourmutual.example".to_string();

        Site {
            system_name: "HM-IPO-HQ".to_string(),
            users,
            queues: vec![claims, roadside, sales],
            park_slots: (1..=8).map(|s| s.to_string()).collect(),
            parked: vec![ParkedSpec {
                slot: "1".to_string(),
                number: "01614960000".to_string(),
                name: "Pennine Haulage".to_string(),
                hangup_after: Some(Duration::from_secs(150)),
            }],
            account_codes: vec![
                "1001".to_string(),
                "1002".to_string(),
                "2001".to_string(),
                "2002".to_string(),
                "3100".to_string(),
                "3200".to_string(),
                "7777".to_string(),
            ],
            // Agents are seldom free at the peak, so users' own calls are offered often; they
            // happen only when the user is free.
            traffic: Traffic {
                direct_in_per_user_hour: 2.0,
                direct_out_per_user_hour: 2.0,
                internal_per_user_hour: 1.0,
                park_chance: 0.5,
                parked_for: 45..=150,
                ..Traffic::default()
            },
            warmup: Duration::from_secs(20 * 60),
            // Whatever the warm-up left, the first second shows the whole life of a call.
            start_waiting: 2,
            start_ringing: 2,
            ..Site::default()
        }
    }
}
