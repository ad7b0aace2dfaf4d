//! The addons of a commit, read from the mirror without exporting: for each directory holding a
//! `__manifest__.py` directly under an addons path, its name, manifest `version`, `depends`
//! and a content checksum computed the way OCA `module_auto_update` decides that an installed
//! module needs an update.
//!
//! # The checksum
//!
//! OCA's `addon_hash` digests, for every file of the addon not excluded, its relative path and
//! its bytes. We do the same with SHA-256 (OCA uses SHA-1, so the values differ from the
//! `module_auto_update.installed_checksums` it stores), over the files sorted by relative path
//! (bytewise), each framed as `path NUL length(u64, big-endian) bytes` so that no two trees
//! share a digest by concatenation. Excluded ([`ChecksumRules::default`]):
//!
//! - OCA's default patterns (`module_auto_update.exclude_patterns`):
//!   `*.pyc`, `*.pyo`, `i18n/*.pot`, `i18n_extra/*.pot`, `static/*` — static assets are served
//!   and bundled from disk without a module update;
//! - `__pycache__/*` and `*/__pycache__/*` (bytecode caches, never meant to be committed);
//! - `.po` files directly under `i18n/` or `i18n_extra/` whose language is not in
//!   [`ChecksumRules::keep_langs`]. OCA keeps the `.po` of the database's active languages; we
//!   do not know them here, so the default keeps none (a translation-only change is not an
//!   update). Pass the environment's languages to count theirs (`fr_BE` keeps `fr*.po`).
//!
//! Patterns follow Python's `fnmatch` (as OCA): `*` also matches `/`, case-sensitive. A
//! symlink counts as its target path (the blob git stores), a submodule inside an addon as the
//! commit it records. Permissions do not count.

use super::cmd::kill_group;
use super::mirror::{EntryKind, Mirror, TreeEntry};
use super::GitError;
use crate::odoo::manifest::Manifest;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::Path;
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};

/// What the checksum leaves out (see the module documentation).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChecksumRules {
    /// `fnmatch` patterns matched against the path relative to the addon.
    pub exclude: Vec<String>,
    /// Language codes (`fr_FR`, `nl`) whose `i18n/*.po` files count; empty: none count.
    pub keep_langs: Vec<String>,
}

impl Default for ChecksumRules {
    fn default() -> Self {
        ChecksumRules {
            exclude: [
                "*.pyc",
                "*.pyo",
                "i18n/*.pot",
                "i18n_extra/*.pot",
                "static/*",
                "__pycache__/*",
                "*/__pycache__/*",
            ]
            .map(String::from)
            .to_vec(),
            keep_langs: Vec::new(),
        }
    }
}

impl ChecksumRules {
    /// Does the file at `rel` (relative to the addon, `/`-separated) stay out of the checksum?
    pub fn excludes(&self, rel: &str) -> bool {
        if self.exclude.iter().any(|p| fnmatch(p, rel)) {
            return true;
        }
        let (dir, file) = rel.rsplit_once('/').unwrap_or(("", rel));
        if let Some(base) = file.strip_suffix(".po") {
            if dir == "i18n" || dir == "i18n_extra" {
                let lang = base.split('_').next().unwrap_or(base);
                return !self
                    .keep_langs
                    .iter()
                    .any(|k| k.split('_').next() == Some(lang));
            }
        }
        false
    }
}

/// One addon at one commit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModuleState {
    /// SHA-256 (hex) of the addon's files, see the module documentation.
    pub checksum: String,
    /// The manifest's `version` as written (`None` when absent: Odoo then uses `1.0`).
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub depends: Vec<String>,
    /// The addon directory, relative to the repository root.
    pub path: String,
    #[serde(default = "yes")]
    pub installable: bool,
    #[serde(default)]
    pub auto_install: bool,
    /// Why the manifest could not be read (file:line:column); its fields are then empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest_error: Option<String>,
}

fn yes() -> bool {
    true
}

/// The addons under `addons_paths` (repository-relative; `""` or `"."` is the root) at
/// `commit`, by name. The first path holding a name wins, as in Odoo. One `git ls-tree` and one
/// `git cat-file --batch` process per call, whatever the number of files.
pub async fn module_states(
    mirror: &Mirror,
    commit: &str,
    addons_paths: &[String],
) -> Result<BTreeMap<String, ModuleState>, GitError> {
    module_states_with(mirror, commit, addons_paths, &ChecksumRules::default()).await
}

/// [`module_states`] with explicit [`ChecksumRules`].
pub async fn module_states_with(
    mirror: &Mirror,
    commit: &str,
    addons_paths: &[String],
    rules: &ChecksumRules,
) -> Result<BTreeMap<String, ModuleState>, GitError> {
    let entries = mirror.ls_tree(commit, "").await?;
    let plan = plan_addons(&entries, addons_paths, rules);
    let blobs: Vec<String> = plan
        .values()
        .flat_map(|a| a.files.iter())
        .filter(|f| f.kind == EntryKind::Blob)
        .map(|f| f.oid.clone())
        .collect();
    let mut running = mirror.git(&["cat-file", "--batch"])?.spawn(true)?;
    let pid = running.child.id();
    let meta = running.meta.clone();
    let (Some(mut stdin), Some(stdout)) = (running.child.stdin.take(), running.child.stdout.take())
    else {
        kill_group(pid);
        return Err(GitError::Protocol {
            what: "cat-file".into(),
            detail: "no pipes".into(),
        });
    };
    let writer = tokio::spawn(async move {
        let mut requests = String::with_capacity(blobs.len() * 41);
        for oid in blobs {
            requests.push_str(&oid);
            requests.push('\n');
        }
        let _ = stdin.write_all(requests.as_bytes()).await;
        // Dropping stdin ends the batch.
    });
    let read = async {
        let mut out = BufReader::with_capacity(1 << 16, stdout);
        let mut states = BTreeMap::new();
        for (name, addon) in &plan {
            let mut hash = Sha256::new();
            let mut manifest: Option<Vec<u8>> = None;
            for f in &addon.files {
                let bytes = match f.kind {
                    EntryKind::Blob => read_blob(&mut out, &f.oid).await?,
                    _ => format!("{} {}", f.mode, f.oid).into_bytes(),
                };
                frame(&mut hash, &f.rel, &bytes);
                if f.rel == "__manifest__.py" {
                    manifest = Some(bytes);
                }
            }
            let shown = format!("{}/__manifest__.py", addon.dir);
            states.insert(
                name.clone(),
                state(hex::encode(hash.finalize()), &addon.dir, manifest, &shown),
            );
        }
        Ok::<_, GitError>(states)
    };
    match tokio::time::timeout(mirror.timeout(), read).await {
        Err(_) => {
            kill_group(pid);
            Err(meta.timeout())
        }
        Ok(Err(e)) => {
            kill_group(pid);
            Err(e)
        }
        Ok(Ok(states)) => {
            let _ = writer.await;
            running.finish().await?;
            Ok(states)
        }
    }
}

/// The checksum of an addon directory on disk, by the same rules (for a tree exported from a
/// commit it equals that commit's [`ModuleState::checksum`], submodules inside addons aside).
pub fn checksum_dir(dir: &Path, rules: &ChecksumRules) -> std::io::Result<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) -> std::io::Result<()> {
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let path = entry.path();
            let ft = entry.file_type()?;
            let rel = path
                .strip_prefix(root)
                .map_err(std::io::Error::other)?
                .to_string_lossy()
                .replace('\\', "/");
            if ft.is_dir() {
                walk(root, &path, out)?;
            } else if ft.is_symlink() {
                use std::os::unix::ffi::OsStrExt as _;
                out.push((
                    rel,
                    std::fs::read_link(&path)?.as_os_str().as_bytes().to_vec(),
                ));
            } else {
                out.push((rel, Vec::new()));
            }
        }
        Ok(())
    }
    let mut files = Vec::new();
    walk(dir, dir, &mut files)?;
    files.retain(|(rel, _)| !rules.excludes(rel));
    files.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let mut hash = Sha256::new();
    for (rel, link) in files {
        let path = dir.join(&rel);
        let bytes = if std::fs::symlink_metadata(&path)?.is_symlink() {
            link
        } else {
            std::fs::read(&path)?
        };
        frame(&mut hash, &rel, &bytes);
    }
    Ok(hex::encode(hash.finalize()))
}

fn frame(hash: &mut Sha256, rel: &str, bytes: &[u8]) {
    hash.update(rel.as_bytes());
    hash.update([0]);
    hash.update((bytes.len() as u64).to_be_bytes());
    hash.update(bytes);
}

fn state(checksum: String, dir: &str, manifest: Option<Vec<u8>>, shown: &str) -> ModuleState {
    let parsed = match manifest.map(String::from_utf8) {
        None => Err(format!("{shown}: not a file")),
        Some(Err(_)) => Err(format!("{shown}: not valid UTF-8")),
        Some(Ok(text)) => Manifest::parse(&text, shown).map_err(|e| e.to_string()),
    };
    match parsed {
        Ok(m) => ModuleState {
            checksum,
            version: m.version,
            depends: m.depends,
            path: dir.to_string(),
            installable: m.installable,
            auto_install: m.auto_install,
            manifest_error: None,
        },
        Err(e) => ModuleState {
            checksum,
            version: None,
            depends: Vec::new(),
            path: dir.to_string(),
            installable: false,
            auto_install: false,
            manifest_error: Some(e),
        },
    }
}

/// Read one `git cat-file --batch` answer: `<oid> blob <size>\n<bytes>\n`.
async fn read_blob<R: tokio::io::AsyncBufRead + Unpin>(
    out: &mut R,
    oid: &str,
) -> Result<Vec<u8>, GitError> {
    let bad = |detail: String| GitError::Protocol {
        what: "cat-file --batch".into(),
        detail,
    };
    let mut header = String::new();
    out.read_line(&mut header)
        .await
        .map_err(|e| bad(e.to_string()))?;
    let mut parts = header.split_whitespace();
    let (Some(got), Some(kind), Some(size)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad(format!("answer {:?} for {oid}", header.trim())));
    };
    if got != oid || kind != "blob" {
        return Err(bad(format!("asked {oid}, got {got} {kind}")));
    }
    let size: usize = size
        .parse()
        .map_err(|_| bad(format!("size {size:?} for {oid}")))?;
    let mut bytes = vec![0u8; size];
    out.read_exact(&mut bytes)
        .await
        .map_err(|e| bad(e.to_string()))?;
    let mut newline = [0u8; 1];
    out.read_exact(&mut newline)
        .await
        .map_err(|e| bad(e.to_string()))?;
    Ok(bytes)
}

/// One file of an addon, in checksum order.
struct PlannedFile {
    rel: String,
    kind: EntryKind,
    mode: String,
    oid: String,
}

struct PlannedAddon {
    dir: String,
    files: Vec<PlannedFile>,
}

/// Addons found in the tree (first addons path wins) with their counted files, sorted.
fn plan_addons(
    entries: &[TreeEntry],
    addons_paths: &[String],
    rules: &ChecksumRules,
) -> BTreeMap<String, PlannedAddon> {
    let roots: Vec<String> = addons_paths
        .iter()
        .map(|p| p.trim().trim_matches('/').to_string())
        .map(|p| if p == "." { String::new() } else { p })
        .collect();
    let prefix = |root: &str| {
        if root.is_empty() {
            String::new()
        } else {
            format!("{root}/")
        }
    };
    // name → addon dir, first root wins.
    let mut addons: BTreeMap<String, PlannedAddon> = BTreeMap::new();
    for root in &roots {
        let p = prefix(root);
        for e in entries {
            let Some(rest) = e.path.strip_prefix(&p) else {
                continue;
            };
            let Some(name) = rest.strip_suffix("/__manifest__.py") else {
                continue;
            };
            if e.kind != EntryKind::Blob || name.contains('/') || name.starts_with('.') {
                continue;
            }
            addons
                .entry(name.to_string())
                .or_insert_with(|| PlannedAddon {
                    dir: format!("{p}{name}"),
                    files: Vec::new(),
                });
        }
    }
    let dirs: BTreeMap<String, String> = addons
        .iter()
        .map(|(name, a)| (format!("{}/", a.dir), name.clone()))
        .collect();
    for e in entries {
        // The addon dir is the longest `dirs` key that prefixes the path; addon dirs never nest
        // within one root, so the candidate is the greatest key not above the path.
        let Some((dir, name)) = dirs.range(..=e.path.clone()).next_back() else {
            continue;
        };
        let Some(rel) = e.path.strip_prefix(dir.as_str()) else {
            continue;
        };
        if rules.excludes(rel) {
            continue;
        }
        if let Some(addon) = addons.get_mut(name) {
            addon.files.push(PlannedFile {
                rel: rel.to_string(),
                kind: e.kind,
                mode: e.mode.clone(),
                oid: e.oid.clone(),
            });
        }
    }
    for addon in addons.values_mut() {
        addon
            .files
            .sort_by(|a, b| a.rel.as_bytes().cmp(b.rel.as_bytes()));
    }
    addons
}

/// Python `fnmatch.fnmatchcase`: `*` any run (`/` included), `?` one character, `[seq]`,
/// `[!seq]` with ranges.
pub fn fnmatch(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    let (mut pi, mut ni) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() {
            match p[pi] {
                '*' => {
                    star = Some((pi, ni));
                    pi += 1;
                    continue;
                }
                '?' => {
                    pi += 1;
                    ni += 1;
                    continue;
                }
                '[' => {
                    if let Some((matched, next)) = class(&p, pi, n[ni]) {
                        if matched {
                            pi = next;
                            ni += 1;
                            continue;
                        }
                    } else if n[ni] == '[' {
                        // An unclosed `[` is a literal.
                        pi += 1;
                        ni += 1;
                        continue;
                    }
                }
                c if c == n[ni] => {
                    pi += 1;
                    ni += 1;
                    continue;
                }
                _ => {}
            }
        }
        match star {
            Some((sp, sn)) => {
                pi = sp + 1;
                ni = sn + 1;
                star = Some((sp, sn + 1));
            }
            None => return false,
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// Match `c` against the class starting at `p[start] == '['`: (matched, index after `]`), or
/// `None` when the class is not closed.
fn class(p: &[char], start: usize, c: char) -> Option<(bool, usize)> {
    let mut i = start + 1;
    let negate = matches!(p.get(i), Some('!'));
    if negate {
        i += 1;
    }
    let first = i;
    let mut matched = false;
    while i < p.len() {
        if p[i] == ']' && i > first {
            return Some((matched != negate, i + 1));
        }
        if i + 2 < p.len() && p[i + 1] == '-' && p[i + 2] != ']' {
            if p[i] <= c && c <= p[i + 2] {
                matched = true;
            }
            i += 3;
        } else {
            if p[i] == c {
                matched = true;
            }
            i += 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnmatch_is_pythons() {
        assert!(fnmatch("*.pyc", "models/x.pyc"));
        assert!(fnmatch("static/*", "static/src/js/a.js"));
        assert!(!fnmatch("static/*", "models/static/a.js"));
        assert!(fnmatch("i18n/*.pot", "i18n/x.pot"));
        assert!(!fnmatch("i18n/*.pot", "i18n/x.po"));
        assert!(fnmatch(
            "*/__pycache__/*",
            "models/__pycache__/a.cpython-311.pyc"
        ));
        assert!(fnmatch("a?c", "abc") && !fnmatch("a?c", "ac"));
        assert!(fnmatch("[ab]x", "bx") && !fnmatch("[!ab]x", "bx"));
        assert!(fnmatch("[a-c]*", "cat") && !fnmatch("[a-c]*", "dog"));
        assert!(fnmatch("[x", "[x"));
        assert!(fnmatch("*", "") && !fnmatch("?", ""));
        assert!(fnmatch("**a*b", "xxaYYb"));
    }

    #[test]
    fn default_rules_follow_oca() {
        let r = ChecksumRules::default();
        for excluded in [
            "models/a.pyc",
            "a.pyo",
            "i18n/acme.pot",
            "i18n_extra/acme.pot",
            "static/src/a.js",
            "static/description/icon.png",
            "__pycache__/x.pyc",
            "models/__pycache__/x.cpython-311.pyc",
            "i18n/fr.po",
            "i18n_extra/nl_NL.po",
        ] {
            assert!(r.excludes(excluded), "{excluded}");
        }
        for counted in [
            "__manifest__.py",
            "models/a.py",
            "views/a.xml",
            "data/static/x.xml",
            "README.rst",
            "po/fr.po",
        ] {
            assert!(!r.excludes(counted), "{counted}");
        }
        let fr = ChecksumRules {
            keep_langs: vec!["fr_BE".into()],
            ..ChecksumRules::default()
        };
        assert!(!fr.excludes("i18n/fr.po") && !fr.excludes("i18n/fr_FR.po"));
        assert!(fr.excludes("i18n/nl.po"));
    }

    fn entry(path: &str, oid: &str) -> TreeEntry {
        TreeEntry {
            mode: "100644".into(),
            kind: EntryKind::Blob,
            oid: oid.into(),
            path: path.into(),
        }
    }

    #[test]
    fn first_addons_path_wins_and_files_are_grouped() {
        let entries = vec![
            entry("README.md", "1"),
            entry("addons/a/__manifest__.py", "2"),
            entry("addons/a/models/x.py", "3"),
            entry("addons/a/models/x.pyc", "4"),
            entry("addons/ab/__manifest__.py", "5"),
            entry("oca/a/__manifest__.py", "6"),
            entry("oca/b/__manifest__.py", "7"),
            entry("oca/b/sub/c/__manifest__.py", "8"),
            entry("addons/.hidden/__manifest__.py", "9"),
        ];
        let plan = plan_addons(
            &entries,
            &["addons".into(), "/oca/".into()],
            &ChecksumRules::default(),
        );
        assert_eq!(plan.keys().collect::<Vec<_>>(), vec!["a", "ab", "b"]);
        assert_eq!(plan["a"].dir, "addons/a");
        let rels: Vec<&str> = plan["a"].files.iter().map(|f| f.rel.as_str()).collect();
        assert_eq!(rels, vec!["__manifest__.py", "models/x.py"]);
        let rels: Vec<&str> = plan["b"].files.iter().map(|f| f.rel.as_str()).collect();
        assert_eq!(rels, vec!["__manifest__.py", "sub/c/__manifest__.py"]);
        let root = plan_addons(&entries, &[".".into()], &ChecksumRules::default());
        assert!(
            root.is_empty(),
            "no manifest directly under the root's children"
        );
    }
}
