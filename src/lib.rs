//! LatchGate: an execution security kernel for AI agents.
//!
//! Every tool call goes lease ⇒ policy ⇒ WASM sandbox ⇒ signed receipt,
//! recorded in a tamper-evident ledger. See README.md for the map.

pub mod approval;
pub mod auth;
pub mod bridge;
pub mod cli;
pub mod config;
pub mod crypto;
pub mod doctor;
pub mod egress;
pub mod evidence;
pub mod gate;
pub mod gateway;
pub mod json;
pub mod mcp;
pub mod net;
pub mod policy;
pub mod proxy;
pub mod registry;
pub mod sandbox;
pub mod secrets;
pub mod sys;
pub mod time;
pub mod toml;
pub mod wasm;
