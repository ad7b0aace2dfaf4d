//! The reconcile engine: desired state from the SSOT, observation through the provider
//! adapters, diff, plan, apply, evidence.

pub mod desired;
pub mod diff;
pub mod engine;
pub mod notify;
pub mod observe;
pub mod plan;
pub mod render;
pub mod secrets;
