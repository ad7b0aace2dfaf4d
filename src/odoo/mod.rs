//! Odoo operations and parity gates: the rendered runtime config (`odoo.conf`, cloud-init),
//! addon manifests and the module graph, backup retention, and database neutralization.
//!
//! Everything here returns plain report structs (serde `Serialize`) so a caller can record
//! them as evidence; nothing here writes to the evidence store.

pub mod backup;
pub mod bootstrap;
pub mod core_addons;
pub mod graph;
pub mod manifest;
pub mod neutralize;
pub mod render;
pub mod retention;
