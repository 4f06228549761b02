//! Blocking HTTP/1.1 plumbing: request heads and bodies with limits, JSON
//! responses, and a bounded thread-per-connection server over UDS and TCP.

pub mod client;
pub mod http;
pub mod server;
