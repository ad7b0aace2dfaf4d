//! OdooOps: an Odoo.sh-equivalent control plane for Odoo Community, shaped as a declarative
//! reconciler. See `spec/` for the product and `../shared/DESIGN.md` for the architecture.

pub mod cli;
pub mod console;
pub mod controller;
pub mod gates;
pub mod git;
pub mod jobs;
pub mod odoo;
pub mod provider;
pub mod reconcile;
pub mod sim;
pub mod ssot;
pub mod store;
