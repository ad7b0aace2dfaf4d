//! The reconcile engine: desired state from the SSOT, observation through the provider
//! adapters, diff, plan, apply, evidence.

pub mod diff;
pub mod plan;
