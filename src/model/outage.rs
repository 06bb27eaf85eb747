//! What was known when the link went down, to tell a reconnect from a PBX restart.

use std::collections::HashSet;

use super::ids::{AppearanceId, Text};

/// What was known when the link went down, to tell a reconnect from a PBX restart.
#[derive(Debug, Default)]
pub(super) struct Outage {
    /// The appearances that existed then.
    pub(super) known: HashSet<AppearanceId>,
    /// The PBX's version then.
    pub(super) version: Option<Text>,
}
