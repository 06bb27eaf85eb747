use super::*;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn drain(h: &mut Holder) -> Vec<LockAction> {
    std::iter::from_fn(|| h.poll_action()).collect()
}

#[test]
fn a_claimant_connects_only_after_its_create_succeeded_and_renews_every_three_seconds() {
    let t0 = Instant::now();
    let mut h = Holder::new(t0);
    h.handle_timeout(t0);
    assert_eq!(drain(&mut h), [LockAction::Create]);
    assert!(!h.holds());
    // Another process holds the key: try again a second later, never connect.
    h.create_failed(t0 + Duration::from_millis(5));
    assert_eq!(drain(&mut h), []);
    assert_eq!(
        h.poll_timeout(),
        Some(t0 + Duration::from_millis(5) + secs(1))
    );
    let t1 = t0 + secs(2);
    h.handle_timeout(t1);
    assert_eq!(drain(&mut h), [LockAction::Create]);
    h.created(t1, 7);
    assert_eq!(drain(&mut h), [LockAction::Connect]);
    assert!(h.holds());
    assert_eq!(h.poll_timeout(), Some(t1 + RENEW_EVERY));
    h.handle_timeout(t1 + RENEW_EVERY);
    assert_eq!(drain(&mut h), [LockAction::Update { revision: 7 }]);
    h.renewed(t1 + RENEW_EVERY, 9);
    h.handle_timeout(t1 + RENEW_EVERY * 2);
    assert_eq!(drain(&mut h), [LockAction::Update { revision: 9 }]);
}

#[test]
fn a_holder_that_cannot_renew_closes_its_link_after_seven_seconds_before_the_key_expires() {
    let t0 = Instant::now();
    let mut h = Holder::new(t0);
    h.handle_timeout(t0);
    h.created(t0, 1);
    drain(&mut h);
    // NATS stops answering: every renewal fails, retried each second.
    let mut now = t0;
    let mut disconnected_at = None;
    while now < t0 + secs(12) {
        now += Duration::from_millis(250);
        h.handle_timeout(now);
        for a in drain(&mut h) {
            match a {
                LockAction::Update { .. } => h.renew_failed(now, false),
                LockAction::Disconnect => disconnected_at = disconnected_at.or(Some(now)),
                LockAction::Create => h.create_failed(now),
                other => panic!("{other:?}"),
            }
        }
        for a in drain(&mut h) {
            if a == LockAction::Disconnect {
                disconnected_at = disconnected_at.or(Some(now));
            }
        }
    }
    let at = disconnected_at.expect("gave up the link");
    assert!(at >= t0 + HOLDER_GIVES_UP, "not before 7 s");
    assert!(at < t0 + LOCK_MAX_AGE, "before the key can expire");
    assert!(!h.holds());
}

#[test]
fn a_renewal_refused_for_its_revision_tries_create_and_loses_the_lock_only_if_that_fails() {
    let t0 = Instant::now();
    let mut h = Holder::new(t0);
    h.handle_timeout(t0);
    h.created(t0, 1);
    drain(&mut h);
    h.handle_timeout(t0 + RENEW_EVERY);
    assert_eq!(drain(&mut h), [LockAction::Update { revision: 1 }]);
    // A restarted server lost the bucket: nobody holds the key, create wins it back and the
    // link stays up.
    h.renew_failed(t0 + RENEW_EVERY, true);
    assert_eq!(drain(&mut h), [LockAction::Create]);
    assert!(h.holds());
    h.created(t0 + RENEW_EVERY, 1);
    assert_eq!(drain(&mut h), []);
    assert!(h.holds());
    h.handle_timeout(t0 + RENEW_EVERY * 2);
    assert_eq!(drain(&mut h), [LockAction::Update { revision: 1 }]);
    // Another process holds it: create fails, the link goes at once.
    h.renew_failed(t0 + RENEW_EVERY * 2, true);
    assert_eq!(drain(&mut h), [LockAction::Create]);
    h.create_failed(t0 + RENEW_EVERY * 2);
    assert_eq!(drain(&mut h), [LockAction::Disconnect]);
    assert!(!h.holds());
    // An answer to a request from before does not make it a holder again.
    h.renewed(t0 + RENEW_EVERY * 2, 5);
    assert!(!h.holds());
    assert_eq!(drain(&mut h), []);
}

#[test]
fn a_create_answered_too_late_is_given_up_at_once_and_stopping_releases_the_key() {
    let t0 = Instant::now();
    let mut h = Holder::new(t0);
    h.handle_timeout(t0);
    drain(&mut h);
    // The answer took 8 s: the key was written at the latest 8 s ago, so it may expire soon.
    h.created(t0 + secs(8), 3);
    assert_eq!(drain(&mut h), []);
    assert!(!h.holds());

    let mut h = Holder::new(t0);
    h.handle_timeout(t0);
    h.created(t0, 4);
    drain(&mut h);
    h.stop();
    assert_eq!(
        drain(&mut h),
        [LockAction::Disconnect, LockAction::Release { revision: 4 }]
    );
    assert_eq!(h.poll_timeout(), None);
}
