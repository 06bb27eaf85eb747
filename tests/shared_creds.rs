//! A viewer logging in with a NATS creds file, as `nsc` makes them, against the real
//! nats-server in operator mode (an operator, an account with JetStream, users by JWT): the
//! viewer takes its name from the JWT (`carol`), says hello on `ipo-top.hq.cmd.carol` with
//! replies under `_INBOX_carol`, the only subjects her JWT allows, and `serve` (itself logged
//! in by creds) takes her functions as hers. Both creds files are read through the
//! configuration, as a user's would be (a file whose final line break was trimmed on reading
//! no longer logged in).

mod cli_support;
mod nats_support;

use std::collections::BTreeMap;

use base64::Engine as _;
use ipo_top::app::config::{NatsCredentials, SharedSettings};
use ipo_top::app::desk::ViewerSender;
use ipo_top::app::serve::ServeTarget;
use ipo_top::app::shared::spawn_with_functions;
use ipo_top::session::SessionConfig;
use ipo_top::share::functions::Standing;
use nats_support::{Nats, Serving};
use nkeys::{KeyPair, KeyPairType};
use serde_json::json;

use cli_support::{PATIENCE, endpoint};

fn key(kind: KeyPairType, byte: u8) -> KeyPair {
    KeyPair::new_from_raw(kind, [byte; 32]).expect("a key pair")
}

/// A JWT of `claims` signed by `issuer`, as the NATS tools write them.
fn jwt(issuer: &KeyPair, subject: &str, name: &str, nats: serde_json::Value) -> String {
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let header = b64(br#"{"typ":"JWT","alg":"ed25519-nkey"}"#);
    let claims = json!({
        "jti": format!("JTI{}", name.to_ascii_uppercase()),
        "iat": 1_700_000_000,
        "iss": issuer.public_key(),
        "name": name,
        "sub": subject,
        "nats": nats,
    });
    let claims = b64(claims.to_string().as_bytes());
    let signed = format!("{header}.{claims}");
    let sig = issuer.sign(signed.as_bytes()).expect("a signature");
    format!("{signed}.{}", b64(&sig))
}

/// A creds file for `user`, named `name`, allowed `permissions`.
fn creds(account: &KeyPair, user: &KeyPair, name: &str, permissions: serde_json::Value) -> String {
    let mut nats = json!({"subs": -1, "data": -1, "payload": -1, "type": "user", "version": 2});
    if let (Some(n), Some(p)) = (nats.as_object_mut(), permissions.as_object()) {
        n.extend(p.clone());
    }
    format!(
        "-----BEGIN NATS USER JWT-----\n{}\n------END NATS USER JWT------\n\n\
         ************************* IMPORTANT *************************\n\
         NKEY Seed printed below can be used to sign and prove identity.\n\n\
         -----BEGIN USER NKEY SEED-----\n{}\n------END USER NKEY SEED------\n",
        jwt(account, &user.public_key(), name, nats),
        user.seed().expect("a seed")
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_creds_viewer_is_named_by_its_jwt_and_sends_as_that_user() {
    let operator = key(KeyPairType::Operator, 11);
    let account = key(KeyPairType::Account, 12);
    let op_jwt = jwt(
        &operator,
        &operator.public_key(),
        "ops",
        json!({"type": "operator", "version": 2}),
    );
    let acc_jwt = jwt(
        &operator,
        &account.public_key(),
        "site",
        json!({
            "limits": {
                "subs": -1, "data": -1, "payload": -1, "imports": -1, "exports": -1,
                "wildcards": true, "conn": -1, "leaf": -1,
                "mem_storage": -1, "disk_storage": -1, "streams": -1, "consumer": -1
            },
            "type": "account", "version": 2
        }),
    );
    // JetStream needs a system account.
    let system = key(KeyPairType::Account, 15);
    let sys_jwt = jwt(
        &operator,
        &system.public_key(),
        "SYS",
        json!({"type": "account", "version": 2}),
    );
    let conf = format!(
        "operator: \"{op_jwt}\"\nsystem_account: {sys}\nresolver: MEMORY\n\
         resolver_preload: {{\n  {acc}: \"{acc_jwt}\"\n  {sys}: \"{sys_jwt}\"\n}}\n",
        acc = account.public_key(),
        sys = system.public_key(),
    );
    let nats = tokio::task::spawn_blocking(move || Nats::with_config(&conf))
        .await
        .expect("the harness");
    let sim = cli_support::start_sim().await;

    let serve_creds = creds(&account, &key(KeyPairType::User, 13), "serve", json!({}));
    // Carol may publish on her command subject and JetStream's API, and subscribe to her
    // inbox only.
    let carol_creds = creds(
        &account,
        &key(KeyPairType::User, 14),
        "carol",
        json!({
            "pub": {"allow": ["ipo-top.hq.cmd.carol", "$JS.API.>", "$JS.FC.>", "$JS.ACK.>"]},
            "sub": {"allow": ["_INBOX_carol.>"]}
        }),
    );
    let site = |credentials: NatsCredentials| SharedSettings {
        credentials,
        users: BTreeMap::from([("carol".to_owned(), "4102".to_owned())]),
        ..nats.site("hq")
    };
    // The name is read from the JWT as the configuration reads it.
    let name = |text: &str| {
        let dir = tempfile::tempdir().expect("a directory");
        let path = dir.path().join("v.creds");
        std::fs::write(&path, text).expect("the creds file");
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("0600");
        }
        let toml = format!(
            "[shared]\nnats = \"{}\"\nsite = \"hq\"\ncreds_file = \"{}\"\n",
            nats.url(),
            path.display()
        );
        let cfg = dir.path().join("v.toml");
        std::fs::write(&cfg, toml).expect("the configuration");
        let c = ipo_top::app::config::load(Some(&cfg)).expect("the configuration reads");
        c.shared.expect("[shared]").credentials
    };
    let serve_login = name(&serve_creds);
    let carol_login = name(&carol_creds);
    assert_eq!(carol_login.user(), Some("carol"));

    let serving = Serving::start(ServeTarget {
        shared: site(serve_login),
        endpoint: endpoint(&sim),
        session: SessionConfig::default(),
        audit: None,
        alerts: ipo_top::model::AlertConfig::default(),
    });
    let (reports, _got) = tokio::sync::mpsc::unbounded_channel();
    let (sender, queue) = ViewerSender::new("hq", reports);
    let mut rx = spawn_with_functions(site(carol_login), Some((sender.clone(), queue)));
    let mut learnt = sender.learnt();
    let allowed = tokio::time::timeout(
        PATIENCE,
        learnt.wait_for(|s| s.as_ref() == Some(&Standing::Allowed)),
    )
    .await
    .map(|r| r.map(|_| ()));
    let mut said = Vec::new();
    while let Ok(u) = rx.try_recv() {
        if let ipo_top::app::shared::ViewerUpdate::Model(evs) = u {
            said.extend(
                evs.into_iter()
                    .filter(|e| matches!(e, ipo_top::model::ModelEvent::Connection { .. })),
            );
        }
    }
    assert!(
        matches!(allowed, Ok(Ok(()))),
        "carol was never allowed: {:?}; her link: {said:?}",
        *learnt.borrow()
    );
    let _ = serving.stop(PATIENCE).await;
}
