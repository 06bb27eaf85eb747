//! ipo-top: a terminal dashboard for call-centre supervisors on Avaya IP Office, speaking
//! MTCTI3 (protobuf over a secure websocket).
//!
//! The modules depend on each other one way only: `ui -> model <- session -> protocol`,
//! `sim -> protocol`, `share -> model`. The binary's edge (`main.rs`, `cli`, `app`) wires them together.

pub mod app;
pub mod model;
pub mod protocol;
pub mod session;
pub mod share;
pub mod sim;
pub mod ui;
