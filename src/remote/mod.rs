//! Agents on other machines, over SSH. A host runs `doeff-agents serve
//! --stdio` (started by `ssh`, never listening on a port of its own); only
//! JSON crosses the link, and classification, adapters and tmux stay next
//! to the agents.
//!
//! - [`protocol`]: the wire format (hello, requests, responses, events);
//! - `serve`, `ops`, `events`, `stream`, `journal`: the host side (internal);
//! - [`hosts`] (hosts.toml), `ssh` (the ssh command), [`client`] (one
//!   multiplexed channel per host with deadlines): the client side;
//!
//! `docs/protocol.md` documents the protocol for other implementations.

pub(crate) mod cache;
pub mod client;
pub(crate) mod events;
pub mod follow;
pub mod hosts;
pub(crate) mod journal;
pub(crate) mod ops;
pub mod protocol;
pub(crate) mod serve;
pub(crate) mod ssh;
pub(crate) mod stream;

pub use protocol::{Event, Hello, PROTOCOL_VERSION, ServerMessage, SessionRow};
