//! What a host serves now (`state.json` beside the releases): written when a release has
//! become healthy and the proxy points at it, read before the next deploy (which slot is
//! free, what to roll back to).

use super::layout::{Layout, Slot};
use super::transport::{HostError, Transport};
use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HostState {
    pub release_id: String,
    pub commit: String,
    pub odoo_revision: String,
    pub slot: Slot,
    /// Odoo's source and the virtualenv on the host.
    pub odoo: String,
    pub venv: String,
    pub config_digest: String,
}

pub async fn read(t: &Transport, layout: &Layout) -> Result<Option<HostState>, HostError> {
    let out = t
        .run(
            "reading the host state",
            r#"[ -f "$1" ] && cat "$1" || true"#,
            &[&layout.state()],
            None,
            Duration::from_secs(30),
        )
        .await?;
    if out.stdout.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    serde_json::from_slice(&out.stdout)
        .map(Some)
        .map_err(|e| HostError::Invalid(format!("{} is unreadable: {e}", layout.state())))
}

pub async fn write(t: &Transport, layout: &Layout, s: &HostState) -> Result<(), HostError> {
    let bytes = serde_json::to_vec_pretty(s)
        .map_err(|e| HostError::Invalid(format!("the host state does not serialize: {e}")))?;
    t.write_file("recording the host state", &layout.state(), &bytes, 0o644)
        .await
}
