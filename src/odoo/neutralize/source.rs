//! Where a module's neutralization comes from: the Odoo source the database belongs to (its
//! `odoo/addons` and `addons` folders, then the project's addons paths — the order in which
//! `odoo-bin` looks files up), or the built-in rules when asked for explicitly. Planning
//! happens before anything is changed: a module that cannot be found is a refusal, not a
//! silent skip.

use super::catalog;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use thiserror::Error;

/// The file every module may ship.
pub const SCRIPT: &str = "data/neutralize.sql";

#[derive(Debug, Error)]
pub enum SourceError {
    #[error("Odoo source {path}: {reason}")]
    Invalid { path: String, reason: String },
    #[error("{path}:{line}: cannot read the Odoo series from `version_info` ({reason})")]
    Release {
        path: String,
        line: usize,
        reason: String,
    },
}

/// An Odoo source tree (`odoo-bin`, `odoo/`, `addons/`) of one series.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OdooSource {
    /// The directory holding `odoo-bin`.
    pub path: PathBuf,
    /// `17.0`, from `odoo/release.py`.
    pub series: String,
    /// The git commit checked out, when the tree is a git checkout.
    pub revision: Option<String>,
    /// sha256 over every `<module>/data/neutralize.sql` of the tree (relative path and bytes,
    /// sorted): identifies the scripts even without git.
    pub scripts_sha256: String,
    /// How many modules of the tree ship a script.
    pub scripts: usize,
    /// Where the source was named: `--odoo-src`, `ODOOOPS_ODOO_SRC`, …
    pub origin: String,
}

impl OdooSource {
    /// Open and identify the Odoo source at `dir`.
    pub fn open(dir: &Path, origin: &str) -> Result<OdooSource, SourceError> {
        let invalid = |reason: String| SourceError::Invalid {
            path: dir.display().to_string(),
            reason,
        };
        let path = dir
            .canonicalize()
            .map_err(|e| invalid(format!("{e} (expected the directory holding odoo-bin)")))?;
        let base = path.join("odoo/addons/base/__manifest__.py");
        if !base.is_file() {
            return Err(invalid(
                "odoo/addons/base/__manifest__.py is missing: not an Odoo source (expected the directory holding odoo-bin, odoo/ and addons/)".into(),
            ));
        }
        let release = path.join("odoo/release.py");
        let text = std::fs::read_to_string(&release)
            .map_err(|e| invalid(format!("cannot read odoo/release.py: {e}")))?;
        let series = series_of(&release.display().to_string(), &text)?;
        let dirs = addons_dirs_of(&path);
        let (scripts_sha256, scripts) =
            digest_scripts(&dirs).map_err(|e| invalid(format!("reading its scripts: {e}")))?;
        Ok(OdooSource {
            revision: git_revision(&path),
            path,
            series,
            scripts_sha256,
            scripts,
            origin: origin.to_string(),
        })
    }

    /// Odoo's own addons folders, in lookup order: `odoo/addons`, then `addons`.
    pub fn addons_dirs(&self) -> Vec<PathBuf> {
        addons_dirs_of(&self.path)
    }

    /// `17.0 at /src/odoo (revision abc…)`, for messages.
    pub fn describe(&self) -> String {
        format!(
            "Odoo {} at {} ({})",
            self.series,
            self.path.display(),
            match &self.revision {
                Some(r) => format!("git {r}"),
                None => format!("no git metadata; scripts sha256 {}", self.scripts_sha256),
            }
        )
    }
}

fn addons_dirs_of(root: &Path) -> Vec<PathBuf> {
    [root.join("odoo/addons"), root.join("addons")]
        .into_iter()
        .filter(|d| d.is_dir())
        .collect()
}

/// The series (`MAJOR.MINOR`, with a `saas~` prefix kept) of a `release.py`.
pub fn series_of(path: &str, text: &str) -> Result<String, SourceError> {
    let (n, line) = text
        .lines()
        .enumerate()
        .find(|(_, l)| l.trim_start().starts_with("version_info"))
        .ok_or_else(|| SourceError::Release {
            path: path.into(),
            line: 0,
            reason: "no `version_info = (…)` line".into(),
        })?;
    let err = |reason: &str| SourceError::Release {
        path: path.into(),
        line: n + 1,
        reason: reason.into(),
    };
    let inner = line
        .split_once('(')
        .and_then(|(_, rest)| rest.split_once(')'))
        .map(|(inside, _)| inside)
        .ok_or_else(|| err("expected a tuple"))?;
    let mut parts = inner.split(',').map(|p| p.trim().trim_matches('\''));
    let major = parts.next().ok_or_else(|| err("no major version"))?;
    let minor = parts.next().ok_or_else(|| err("no minor version"))?;
    let numeric = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
    let major_ok = numeric(major) || major.strip_prefix("saas~").is_some_and(numeric);
    if !major_ok || !numeric(minor) {
        return Err(err("major and minor must be numbers"));
    }
    Ok(format!("{major}.{minor}"))
}

/// The series of a module version such as `17.0.1.3` (`None` when it has no `X.Y.` prefix).
pub fn series_of_version(version: &str) -> Option<String> {
    let mut it = version.split('.');
    let (a, b) = (it.next()?, it.next()?);
    let numeric = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
    let a_ok = numeric(a) || a.strip_prefix("saas~").is_some_and(numeric);
    (a_ok && numeric(b) && it.next().is_some()).then(|| format!("{a}.{b}"))
}

fn git_revision(root: &Path) -> Option<String> {
    if !root.join(".git").exists() {
        return None;
    }
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(root)
        .args(["rev-parse", "HEAD"])
        .output()
        .ok()?;
    let rev = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && rev.len() >= 7 && rev.chars().all(|c| c.is_ascii_hexdigit()))
        .then_some(rev)
}

fn digest_scripts(dirs: &[PathBuf]) -> std::io::Result<(String, usize)> {
    let mut found: Vec<(String, String)> = Vec::new();
    for (i, dir) in dirs.iter().enumerate() {
        for entry in std::fs::read_dir(dir)? {
            let module = entry?.file_name().to_string_lossy().into_owned();
            let file = dir.join(&module).join(SCRIPT);
            if file.is_file() {
                found.push((format!("{i}/{module}/{SCRIPT}"), sha256_file(&file)?));
            }
        }
    }
    found.sort();
    let mut h = Sha256::new();
    for (rel, sha) in &found {
        h.update(rel.as_bytes());
        h.update([0]);
        h.update(sha.as_bytes());
        h.update([b'\n']);
    }
    Ok((hex::encode(h.finalize()), found.len()))
}

pub(crate) fn sha256_file(path: &Path) -> std::io::Result<String> {
    Ok(hex::encode(Sha256::digest(std::fs::read(path)?)))
}

/// Which rules neutralize: the Odoo source's own scripts, or (explicitly) the built-in ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rules {
    Odoo(OdooSource),
    Builtin,
}

/// The variable naming the Odoo source when no flag does.
pub const SOURCE_VAR: &str = "ODOOOPS_ODOO_SRC";

/// How a caller named the rules, before the source is opened.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum RulesChoice {
    /// Nothing named: neutralization is refused.
    #[default]
    Unknown,
    /// An Odoo source directory, and who named it (`--odoo-src`, `ODOOOPS_ODOO_SRC`, …).
    OdooSrc { dir: PathBuf, origin: String },
    /// The built-in rules, explicitly.
    Builtin,
}

impl RulesChoice {
    /// `ODOOOPS_ODOO_SRC` from the process environment, else [`RulesChoice::Unknown`]. Read at
    /// the edges only (the command line, the controller's queued jobs).
    pub fn from_env() -> RulesChoice {
        match std::env::var_os(SOURCE_VAR) {
            Some(v) if !v.is_empty() => RulesChoice::OdooSrc {
                dir: PathBuf::from(v),
                origin: SOURCE_VAR.to_string(),
            },
            _ => RulesChoice::Unknown,
        }
    }

    /// Open the named source (`None`: nothing named).
    pub fn open(&self) -> Result<Option<Rules>, SourceError> {
        Ok(match self {
            RulesChoice::Unknown => None,
            RulesChoice::Builtin => Some(Rules::Builtin),
            RulesChoice::OdooSrc { dir, origin } => {
                Some(Rules::Odoo(OdooSource::open(dir, origin)?))
            }
        })
    }
}

/// What will run for one module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Planned {
    /// Its `data/neutralize.sql`.
    Script(PathBuf),
    /// The built-in rules (`--builtin-rules` only).
    Builtin,
    /// The module is there and ships no script.
    NoScript,
    /// Not found anywhere (`--builtin-rules` only; otherwise a refusal).
    NotFound,
}

/// Modules that could not be found in the Odoo source nor in the addons paths.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Missing {
    /// Those known to ship a script in the source's series.
    pub with_script: Vec<String>,
    /// The others (a custom module may ship one: nobody can tell without its code).
    pub unknown: Vec<String>,
}

impl std::fmt::Display for Missing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts = Vec::new();
        if !self.with_script.is_empty() {
            parts.push(format!(
                "shipping a neutralize script: {}",
                self.with_script.join(", ")
            ));
        }
        if !self.unknown.is_empty() {
            parts.push(format!(
                "not found anywhere (their scripts, if any, cannot run): {}",
                self.unknown.join(", ")
            ));
        }
        write!(f, "{}", parts.join("; "))
    }
}

/// The folders searched, in order: Odoo's own (source rules only), then the project's.
pub fn search_path(rules: &Rules, project: &[PathBuf]) -> Vec<PathBuf> {
    let mut v = match rules {
        Rules::Odoo(src) => src.addons_dirs(),
        Rules::Builtin => Vec::new(),
    };
    v.extend(project.iter().cloned());
    v
}

/// Plan every module (given in run order). With the Odoo source, a module found nowhere makes
/// the whole plan fail with the list of such modules.
pub fn plan(
    rules: &Rules,
    project: &[PathBuf],
    modules: &[String],
) -> Result<Vec<Planned>, Missing> {
    let paths = search_path(rules, project);
    let mut out = Vec::with_capacity(modules.len());
    let mut missing = Missing {
        with_script: Vec::new(),
        unknown: Vec::new(),
    };
    for module in modules {
        // Like odoo-bin: the first folder holding `<module>/data/neutralize.sql`.
        let script = paths
            .iter()
            .map(|p| p.join(module).join(SCRIPT))
            .find(|f| f.is_file());
        let present = || {
            paths
                .iter()
                .any(|p| p.join(module).join("__manifest__.py").is_file())
        };
        let planned = match (script, rules) {
            (Some(f), _) => Planned::Script(f),
            (None, Rules::Builtin) if super::rules::has_builtin(module) => Planned::Builtin,
            (None, _) if present() => Planned::NoScript,
            (None, Rules::Builtin) => Planned::NotFound,
            (None, Rules::Odoo(src)) => {
                if catalog::ships_script(&src.series, module) == Some(true) {
                    missing.with_script.push(module.clone());
                } else {
                    missing.unknown.push(module.clone());
                }
                Planned::NotFound
            }
        };
        out.push(planned);
    }
    missing.with_script.sort();
    missing.unknown.sort();
    if missing.with_script.is_empty() && missing.unknown.is_empty() {
        Ok(out)
    } else {
        Err(missing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_from_release_py() {
        let t = "# x\nversion_info = (17, 0, 0, FINAL, 0, '')\n";
        assert_eq!(series_of("r.py", t).expect("series"), "17.0");
        let t = "version_info = ('saas~17', 2, 0, 'final', 0, '')\n";
        assert_eq!(series_of("r.py", t).expect("saas"), "saas~17.2");
        let e = series_of("odoo/release.py", "a = 1\nversion_info = (x, 0)\n")
            .expect_err("not numeric")
            .to_string();
        assert!(e.starts_with("odoo/release.py:2:"), "{e}");
        assert!(series_of("r.py", "nothing").is_err());
    }

    #[test]
    fn series_from_module_versions() {
        assert_eq!(series_of_version("17.0.1.3").as_deref(), Some("17.0"));
        assert_eq!(series_of_version("16.0.1.0.0").as_deref(), Some("16.0"));
        assert_eq!(series_of_version("1.3"), None);
        assert_eq!(series_of_version("x.0.1"), None);
    }

    fn module(root: &Path, name: &str, script: Option<&str>) {
        let d = root.join(name);
        std::fs::create_dir_all(d.join("data")).expect("mkdir");
        std::fs::write(d.join("__manifest__.py"), "{}").expect("manifest");
        if let Some(s) = script {
            std::fs::write(d.join(SCRIPT), s).expect("script");
        }
    }

    fn fake_source(root: &Path) -> OdooSource {
        std::fs::create_dir_all(root.join("odoo/addons")).expect("mkdir");
        std::fs::write(
            root.join("odoo/release.py"),
            "version_info = (17, 0, 0, FINAL, 0, '')\n",
        )
        .expect("release");
        module(&root.join("odoo/addons"), "base", Some("SELECT 1;"));
        module(&root.join("addons"), "web", Some("SELECT 2;"));
        module(&root.join("addons"), "sale", None);
        OdooSource::open(root, "test").expect("source")
    }

    #[test]
    fn odoo_source_is_identified_and_planned_like_odoo_bin() {
        let tmp = tempfile::tempdir().expect("tmp");
        let src = fake_source(tmp.path());
        assert_eq!(src.series, "17.0");
        assert_eq!(src.revision, None);
        assert_eq!(src.scripts, 2);
        assert_eq!(src.scripts_sha256.len(), 64);
        let project = tempfile::tempdir().expect("project");
        module(project.path(), "acme", Some("SELECT 3;"));
        // A project copy of `web` without a script does not hide Odoo's script (odoo-bin looks
        // for the file, folder by folder).
        module(project.path(), "web", None);
        let rules = Rules::Odoo(src.clone());
        let names: Vec<String> = ["base", "web", "sale", "acme"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let p = plan(&rules, &[project.path().to_path_buf()], &names).expect("plan");
        assert!(matches!(&p[0], Planned::Script(f) if f.starts_with(src.path.join("odoo/addons"))));
        assert!(matches!(&p[1], Planned::Script(f) if f.starts_with(src.path.join("addons"))));
        assert_eq!(p[2], Planned::NoScript);
        assert!(matches!(&p[3], Planned::Script(f) if f.starts_with(project.path())));

        let names: Vec<String> = ["base", "payment_stripe", "acme"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let missing = plan(&rules, &[], &names).expect_err("refused");
        assert_eq!(missing.with_script, vec!["payment_stripe"]);
        assert_eq!(missing.unknown, vec!["acme"]);
        let shown = missing.to_string();
        assert!(
            shown.contains("shipping a neutralize script: payment_stripe"),
            "{shown}"
        );

        let p = plan(&Rules::Builtin, &[], &names).expect("builtin never refuses");
        assert_eq!(
            p,
            vec![Planned::Builtin, Planned::Builtin, Planned::NotFound]
        );
    }

    #[test]
    fn a_folder_that_is_not_odoo_is_refused() {
        let tmp = tempfile::tempdir().expect("tmp");
        let e = OdooSource::open(tmp.path(), "--odoo-src")
            .expect_err("empty dir")
            .to_string();
        assert!(
            e.contains("odoo/addons/base/__manifest__.py is missing"),
            "{e}"
        );
        let e = OdooSource::open(&tmp.path().join("nope"), "--odoo-src")
            .expect_err("absent")
            .to_string();
        assert!(e.contains("nope"), "{e}");
    }
}
