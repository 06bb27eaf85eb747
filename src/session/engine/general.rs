//! General requests: the PBX's version (asked on every connection, never waited on) and the
//! account code list (read once after the first sync), both answered in a GeneralData that
//! carries the request's id.

use std::time::Instant;

use super::core::{Brief, DUMP_BYTES, Request, SUMMARY_BYTES, Session};
use crate::model::{AccountCodes, Capped, Text};
use crate::protocol::codes::ResultCode;
use crate::protocol::limits::{MAX_ACCOUNT_CODES, MAX_TEXT_BYTES, clip};
use crate::protocol::msg;
use crate::protocol::pb;
use crate::session::convert;

impl Session {
    /// Asks the PBX's version. Never waited on: systems before R11.1 do not answer.
    pub(super) fn ask_version(&mut self, now: Instant) {
        let requestid = self.request_id();
        self.requests.insert(requestid, (Request::Version, now));
        self.send(&msg::get_version_info(requestid));
    }

    pub(super) fn on_general_data(&mut self, now: Instant, d: pb::GeneralData) {
        let asked = self.requests.get(&d.responseid).map(|(r, _)| r.clone());
        use pb::general_data::Payload as G;
        match d.payload {
            Some(G::Getfile(f)) if asked == Some(Request::AccountCodes) => {
                self.requests.remove(&d.responseid);
                let codes = if f.result != 0 {
                    AccountCodes::FreeText {
                        reason: Text::from(format!(
                            "the PBX would not give the list ({})",
                            ResultCode::from_code(f.result)
                        )),
                    }
                } else {
                    match convert::account_codes(&f.payload) {
                        Ok((codes, capped)) => {
                            if capped {
                                self.cap_reached(Capped::AccountCodes, MAX_ACCOUNT_CODES);
                            }
                            AccountCodes::List { codes }
                        }
                        Err(why) => AccountCodes::FreeText {
                            reason: Text::from(format!(
                                "the PBX's account code list could not be read: {why}"
                            )),
                        },
                    }
                };
                self.account_codes_done(codes);
            }
            Some(G::Versioninfo(v)) if asked == Some(Request::Version) => {
                self.requests.remove(&d.responseid);
                tracing::info!(version = %v, "PBX version");
                let (v, cut) = clip(&v, MAX_TEXT_BYTES);
                if cut {
                    self.cap_reached(Capped::Text, MAX_TEXT_BYTES);
                }
                self.model.version_reported(now, Text::from(v));
            }
            other => {
                self.counters.unmatched_responses += 1;
                tracing::warn!(responseid = d.responseid, payload = %Brief(&other, SUMMARY_BYTES), "general data we did not ask for");
                tracing::trace!(responseid = d.responseid, payload = %Brief(&other, DUMP_BYTES), "the whole payload");
            }
        }
    }

    pub(super) fn account_codes_done(&mut self, codes: AccountCodes) {
        match &codes {
            AccountCodes::List { codes } => tracing::info!(count = codes.len(), "account codes"),
            AccountCodes::FreeText { reason } => {
                tracing::info!(%reason, "account codes: free text")
            }
            AccountCodes::Unknown => {}
        }
        self.account_codes_fetched = true;
        self.model.set_account_codes(codes);
    }

    /// After the sync, the account codes are read once (until an answer comes).
    pub(super) fn fetch_account_codes(&mut self, now: Instant) {
        if self.account_codes_fetched
            || self
                .requests
                .values()
                .any(|(r, _)| *r == Request::AccountCodes)
        {
            return;
        }
        let requestid = self.request_id();
        self.requests
            .insert(requestid, (Request::AccountCodes, now));
        self.send(&msg::get_file(requestid, 1, msg::ACCOUNT_CODE_FILE));
    }
}
