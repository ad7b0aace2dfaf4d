//! Putting a release in place on its host, each step idempotent (a marker file says a
//! directory is complete; an interrupted step starts over): Odoo's source at its revision,
//! a virtualenv per requirements digest, the code at its commit, the config of a slot and
//! the secrets file.

use super::layout::{Layout, Slot};
use super::transport::{HostError, Transport};
use crate::provider::SecretValue;
use sha2::{Digest, Sha256};
use std::path::Path;
use std::time::Duration;

/// A digest of bytes, short enough for a directory name.
pub fn digest(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))[..16].to_string()
}

/// A tar of `dir` (without `.git`) on this machine, streamed to the host.
fn tar_of(dir: &Path) -> tokio::process::Command {
    let mut c = tokio::process::Command::new("tar");
    c.arg("-C")
        .arg(dir)
        .args(["--exclude=.git", "--exclude=__pycache__", "-cf", "-", "."]);
    c
}

/// Unpack standard input into `$1` unless `$1/.odooops-complete` exists (a partial one is
/// replaced).
const UNPACK: &str = r#"
if [ -e "$1/.odooops-complete" ]; then cat > /dev/null; exit 0; fi
rm -rf "$1.partial"; mkdir -p "$1.partial"
tar -x -C "$1.partial"
touch "$1.partial/.odooops-complete"
rm -rf "$1"; mv "$1.partial" "$1"
"#;

/// Odoo's source at `revision`, from the directory `src` on this machine: linked where the
/// host is this machine, copied (once per revision) to a remote host.
pub async fn odoo_source(
    t: &Transport,
    layout: &Layout,
    revision: &str,
    src: &Path,
) -> Result<String, HostError> {
    let dest = layout.odoo_source(revision);
    match t {
        Transport::Local => {
            t.run(
                "linking Odoo's source",
                r#"mkdir -p "$(dirname "$1")"; [ -e "$1" ] || ln -s "$2" "$1"; [ -f "$1/odoo-bin" ]"#,
                &[&dest, &src.display().to_string()],
                None,
                Duration::from_secs(30),
            )
            .await?;
        }
        Transport::Ssh(_) => {
            t.run_piped(
                "copying Odoo's source",
                UNPACK,
                &[&dest],
                tar_of(src),
                Duration::from_secs(1800),
            )
            .await?;
        }
    }
    Ok(dest)
}

/// The code at `commit`, exported to `src` on this machine, in place on the host.
pub async fn code(
    t: &Transport,
    layout: &Layout,
    commit: &str,
    src: &Path,
) -> Result<String, HostError> {
    let dest = layout.release(commit);
    t.run_piped(
        "uploading the release",
        UNPACK,
        &[&dest],
        tar_of(src),
        Duration::from_secs(900),
    )
    .await?;
    Ok(dest)
}

/// A virtualenv with `requirements` installed, one per requirements digest, reused while
/// they are unchanged. `python` is the host's interpreter (`python3`).
pub async fn venv(
    t: &Transport,
    layout: &Layout,
    python: &str,
    requirements: &[u8],
    timeout: Duration,
) -> Result<String, HostError> {
    let dest = layout.venv(&digest(requirements));
    let script = r#"
if [ -e "$1/.odooops-complete" ]; then cat > /dev/null; exit 0; fi
rm -rf "$1"; mkdir -p "$1"
cat > "$1.requirements.txt"
"$2" -m venv "$1"
"$1/bin/pip" install --quiet --disable-pip-version-check --upgrade "setuptools<70" wheel
"$1/bin/pip" install --quiet --disable-pip-version-check -r "$1.requirements.txt"
touch "$1/.odooops-complete"
"#;
    t.run(
        "creating the virtualenv",
        script,
        &[&dest, python],
        Some(requirements),
        timeout,
    )
    .await?;
    Ok(dest)
}

/// The odoo.conf of a slot (references only, no secret).
pub async fn config(
    t: &Transport,
    layout: &Layout,
    slot: Slot,
    conf: &str,
) -> Result<(), HostError> {
    t.write_file(
        "writing odoo.conf",
        &layout.config(slot),
        conf.as_bytes(),
        0o644,
    )
    .await
}

/// The secrets file (`NAME=value` lines, 0600), written through standard input.
pub async fn secrets(
    t: &Transport,
    layout: &Layout,
    values: &[(String, SecretValue)],
) -> Result<(), HostError> {
    let mut text = String::new();
    for (k, v) in values {
        // One line per value; a newline inside a value would break the format.
        text.push_str(k);
        text.push('=');
        text.push_str(&v.expose().replace('\n', ""));
        text.push('\n');
    }
    t.write_file(
        "writing the secrets file",
        &layout.secrets(),
        text.as_bytes(),
        0o600,
    )
    .await
}

/// A digest of secret values (what a release records; never the values).
pub fn secrets_digest(values: &[(String, SecretValue)]) -> String {
    let mut h = Sha256::new();
    for (k, v) in values {
        h.update(k.as_bytes());
        h.update([0]);
        h.update(v.expose().as_bytes());
        h.update([0]);
    }
    format!("sha256:{}", hex::encode(h.finalize()))
}
