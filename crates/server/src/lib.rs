//! The switchboard signaling server.
//!
//! ```text
//! clients ──► transport (axum WebSocket) ──► dialect codec ──► driver ──► core (sans-IO)
//!         ◄──                            ◄── dialect codec ◄── session queue ◄──
//! ```
//!
//! [`Application`] binds the listeners and serves; one driver task owns the
//! [`switchboard_core::Core`] and feeds it inputs with the [`Clock`]'s time;
//! every connection runs the same loop (`ws.rs`) with its dialect's codec.

#![warn(missing_docs)]

mod admission;
mod app;
mod auth;
mod calls_log;
mod clock;
mod cluster;
mod config;
pub mod config_file;
pub mod config_print;
mod dialects;
mod driver;
mod edge;
mod guard;
mod ice;
mod lazy_read;
mod metrics;
mod origin;
pub mod probe;
mod rate;
mod room_openings;
mod serve;
mod session_start;
mod socketio;
mod stop;
mod telemetry;
mod tls;
mod web;
mod websocket;
mod ws;

pub use app::Application;
pub use auth::{AuthError, Authenticator, Grants, request_token};
pub use clock::{Clock, ManualClock};
pub use cluster::{ClusterConfig, NodeId};
pub use config::{Config, LogFormat};
pub use driver::{DriverGone, DriverHandle, DriverSettings, OpenSession, ResumeSettings};
pub use ice::{IceConfig, turn_password};
pub use metrics::{DropCause, Metrics, SessionsByDialect};
pub use origin::Origin;
pub use telemetry::init_tracing;
