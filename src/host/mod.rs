//! Reaching a host (SSH, or this machine) and what runs there: releases of the code and of
//! Odoo's source, virtualenvs, the Odoo service in two slots, the HTTPS proxy, health.
//! The engine's release actuator ([`crate::reconcile::actuate`]) composes these into a
//! deploy that is a transaction.

pub mod conf;
pub mod deploy;
pub mod layout;
pub mod lock;
pub mod prepare;
pub mod proxy;
pub mod service;
pub mod state;
pub mod transport;

pub use layout::{Layout, Slot};
pub use proxy::ProxySpec;
pub use service::{SlotRun, Supervisor};
pub use state::HostState;
pub use transport::{sh_quote, Exec, HostError, SshTarget, Transport};
