//! The reconcile engine: desired state from the SSOT, observation through the provider
//! adapters (one client per account), diff, plan, apply through one actuator per object
//! kind, evidence.

pub mod accounts;
pub mod actuate;
pub mod desired;
pub mod diff;
pub mod engine;
pub mod evidence;
pub mod notify;
pub mod observe;
pub mod plan;
pub mod release;
pub mod render;
pub mod secrets;
