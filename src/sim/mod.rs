//! The IP Office simulator: a sans-IO PBX model of a living call centre ([`Pbx`], built from a
//! [`Site`]) with the document's call functions ([`Pbx::call_control`]), the server side of
//! MTCTI3 as a sans-IO state machine per connection ([`conn::Connection`]), the two together
//! with a script as one sans-IO [`Exchange`], and a thin tokio shell serving it over TLS
//! websockets ([`server`]), with faults on demand.
//!
//! Sites: the demo ([`Site::demo`]), the scale site for benchmarks ([`scale`]), and scripts
//! whose calls happen at fixed times ([`script`]).
//!
//! It is the peer every test and the demo run against, so it is as strict as the protocol
//! document: where the document says what IP Office does, the simulator does that, and where a
//! request is wrong it answers with the document's error codes.

pub mod conn;
pub mod demo;
mod exchange;
pub mod http;
pub mod pbx;
pub mod scale;
pub mod script;
pub mod server;
pub mod site;
pub mod tls;

pub use exchange::Exchange;
pub use pbx::{
    CallKey, Caller, Change, Line, LineEntry, LineKind, LinesOp, Pbx, PhoneState, QueueId,
    SiteStats, UserId,
};
pub use site::{Site, SiteError, TimeOfDay};
