//! One deploy per host environment at a time: `<root>/deploy.lock/` is created atomically
//! (`mkdir`) by the deploy that takes it and names its release in `owner`. Whoever finds it
//! taken learns which release holds it; the engine settles a lock its own dead deploy left
//! (see the engine's interrupted-release recovery) with [`release`] before deploying again.

use super::layout::Layout;
use super::transport::{HostError, Transport};
use std::time::Duration;

fn dir(layout: &Layout) -> String {
    format!("{}/deploy.lock", layout.root)
}

/// Take the lock for `release`. Taken by another release: an error naming it. Taken by
/// this one already (a retried step): fine.
pub async fn acquire(t: &Transport, layout: &Layout, release: &str) -> Result<(), HostError> {
    let script = r#"mkdir -p "$1"
if mkdir "$2" 2>/dev/null; then printf '%s\n' "$3" > "$2/owner"; echo taken; exit 0; fi
owner=$(cat "$2/owner" 2>/dev/null || true)
if [ "$owner" = "$3" ]; then echo taken; else echo "held $owner"; fi"#;
    let out = t
        .run(
            "taking the deploy lock",
            script,
            &[&layout.root, &dir(layout), release],
            None,
            Duration::from_secs(60),
        )
        .await?;
    let text = out.stdout_text();
    let text = text.trim();
    if text == "taken" {
        return Ok(());
    }
    let owner = text.strip_prefix("held").unwrap_or(text).trim();
    Err(HostError::Invalid(format!(
        "another deploy holds {} (release {}): one deploy per environment at a time",
        dir(layout),
        if owner.is_empty() { "unknown" } else { owner }
    )))
}

/// The release holding the lock, if any.
pub async fn holder(t: &Transport, layout: &Layout) -> Result<Option<String>, HostError> {
    let out = t
        .run(
            "reading the deploy lock",
            r#"if [ -d "$1" ]; then cat "$1/owner" 2>/dev/null || echo unknown; fi"#,
            &[&dir(layout)],
            None,
            Duration::from_secs(60),
        )
        .await?;
    let text = out.stdout_text().trim().to_string();
    Ok((!text.is_empty()).then_some(text))
}

/// Give the lock up, if `release` holds it.
pub async fn release(t: &Transport, layout: &Layout, release: &str) -> Result<(), HostError> {
    let script = r#"owner=$(cat "$1/owner" 2>/dev/null || true)
if [ "$owner" = "$2" ] || [ -z "$owner" ]; then rm -rf "$1"; fi"#;
    t.run(
        "giving the deploy lock up",
        script,
        &[&dir(layout), release],
        None,
        Duration::from_secs(60),
    )
    .await
    .map(|_| ())
}
