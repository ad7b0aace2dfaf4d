//! The SSOT: resource kinds, the loader, schema and semantic validation.
//!
//! `load(dir)` is the pipeline's first stage: read every YAML file under budgets, check each
//! document against its kind's generated JSON Schema, then the cross-document rules, and
//! collect every diagnostic. Only a tree with no error yields a usable [`Ssot`].

pub mod cron;
pub mod diag;
pub mod loader;
pub mod model;
pub mod node;
pub mod schema;
pub mod secrets;
pub mod semantic;
pub mod structural;
pub mod suggest;

pub use diag::{Diagnostic, Level};
pub use loader::{Limits, Loaded};
pub use model::*;
pub use structural::Entry;

use std::collections::BTreeMap;
use std::path::Path;

/// The outcome of loading and validating an SSOT tree.
#[derive(Debug)]
pub struct Report {
    pub loaded: Loaded,
    pub entries: Vec<Entry>,
    pub diagnostics: Vec<Diagnostic>,
}

impl Report {
    pub fn error_count(&self) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| d.level == Level::Error)
            .count()
    }
    pub fn is_valid(&self) -> bool {
        self.error_count() == 0
    }
    /// Number of resources per kind (every kind listed, zero included).
    pub fn counts(&self) -> BTreeMap<&'static str, usize> {
        let mut m: BTreeMap<&'static str, usize> =
            Kind::ALL.iter().map(|k| (k.as_str(), 0)).collect();
        for e in &self.entries {
            *m.entry(e.resource.kind().as_str()).or_default() += 1;
        }
        m
    }
    /// Source text of a file by its display name (for rendering diagnostics).
    pub fn source(&self, file: &str) -> Option<&str> {
        self.loaded
            .files
            .iter()
            .find(|f| f.display == file)
            .map(|f| f.text.as_str())
    }
    /// The validated SSOT, or `None` when any error was found.
    pub fn into_ssot(self) -> Option<Ssot> {
        if !self.is_valid() {
            return None;
        }
        let revision = self.loaded.content_hash();
        Some(Ssot {
            resources: self.entries.into_iter().map(|e| e.resource).collect(),
            revision,
        })
    }
}

/// Load and validate every resource under `dir`.
///
/// Each document is checked on its own (schema, secret-shaped values) as its file is read,
/// then dropped; the cross-document rules run over the typed resources.
pub fn load(dir: &Path, limits: &Limits) -> Report {
    let mut diagnostics = Vec::new();
    let mut entries = Vec::new();
    let mut broken = structural::Broken::default();
    let loaded = loader::load_dir(dir, limits, &mut |file, i, doc| {
        structural::check_document(file, i, &doc, &mut entries, &mut broken, &mut diagnostics);
        semantic::secret_values(file, &doc, &mut diagnostics);
    });
    broken.incomplete |= !loaded.diagnostics.is_empty();
    diagnostics.extend(loaded.diagnostics.iter().cloned());
    semantic::check(&loaded, &entries, &broken, &mut diagnostics);
    diag::sort(&mut diagnostics);
    Report {
        loaded,
        entries,
        diagnostics,
    }
}

/// Load and validate the tree: the SSOT, or its rendered diagnostics and a one-line summary.
pub fn load_checked(dir: &Path) -> Result<Ssot, (String, String)> {
    let report = load(dir, &Limits::default());
    if !report.is_valid() {
        let diagnostics: String = report
            .diagnostics
            .iter()
            .map(|d| d.render(report.source(&d.file)))
            .collect();
        let summary = format!(
            "{} is invalid ({} errors): run `odooops validate --ssot {}`",
            dir.display(),
            report.error_count(),
            dir.display()
        );
        return Err((diagnostics, summary));
    }
    report
        .into_ssot()
        .ok_or_else(|| (String::new(), "invalid SSOT".to_string()))
}

/// A valid, typed SSOT: the desired state's input.
#[derive(Debug, Clone)]
pub struct Ssot {
    pub resources: Vec<Resource>,
    /// Content hash of the tree (`sha256:…`).
    pub revision: String,
}

macro_rules! accessor {
    ($fn:ident, $kind:ident) => {
        pub fn $fn(&self) -> impl Iterator<Item = &$kind> {
            self.resources.iter().filter_map(|r| match r {
                Resource::$kind(x) => Some(&**x),
                _ => None,
            })
        }
    };
}

impl Ssot {
    accessor!(projects, Project);
    accessor!(environments, Environment);
    accessor!(backup_policies, BackupPolicy);
    accessor!(gates, Gate);
    accessor!(module_sets, ModuleSet);
    accessor!(secret_registries, SecretRegistry);
    accessor!(notifiers, Notifier);
    accessor!(database_clusters, DatabaseCluster);

    pub fn project(&self, name: &str) -> Option<&Project> {
        self.projects().find(|p| p.metadata.name == name)
    }
    pub fn environment(&self, name: &str) -> Option<&Environment> {
        self.environments().find(|e| e.metadata.name == name)
    }
    pub fn database_cluster(&self, name: &str) -> Option<&DatabaseCluster> {
        self.database_clusters().find(|c| c.metadata.name == name)
    }
    pub fn module_set(&self, name: &str) -> Option<&ModuleSet> {
        self.module_sets().find(|m| m.metadata.name == name)
    }
    /// Every registry key, across registries.
    pub fn secret_keys(&self) -> impl Iterator<Item = &SecretKey> {
        self.secret_registries().flat_map(|r| r.spec.keys.iter())
    }
}
