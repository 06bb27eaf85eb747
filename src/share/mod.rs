//! Shared mode: one serving process holds the MTCTI3 session and publishes the model into
//! NATS JetStream; viewers build their model from it and send functions through it.

pub mod desk;
pub mod functions;
