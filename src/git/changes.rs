//! What a release does to the database: modules to install, modules to update (and why), the
//! installed dependents the update cascades to, and modules that left the repository. Pure:
//! the inputs are [`ModuleState`] maps of two commits (see [`super::module_states`]) and what
//! the environment wants and the database has.
//!
//! The rules, after OCA `module_auto_update` and Odoo's own `-u`:
//!
//! - **installed** is the database's list when known; otherwise, with a deployed commit, what
//!   that release would have installed (the wanted modules and their in-repository
//!   dependencies), and nothing on a first deploy.
//! - **install**: the wanted modules and their in-repository dependencies (transitively),
//!   minus the installed ones. Core Odoo addons (not in the repository) may be wanted and are
//!   then installed too; their own dependencies are Odoo's business.
//! - **update**: installed modules of the new commit whose version changed
//!   ([`Reason::VersionBumped`], which implies a content change: the manifest is content), else
//!   whose checksum changed ([`Reason::ContentChanged`]), else installed modules with no
//!   recorded state in the deployed commit ([`Reason::NoBaseline`] — like `module_auto_update`
//!   updating a module whose checksum was never saved). Modules not in the repository (core
//!   addons) are never updated by content here.
//! - **cascade**: installed modules that depend, transitively, on an updated one (Odoo's
//!   `button_upgrade` updates them too), minus the updated ones. Cycle-safe.
//! - **removed**: modules of the deployed commit missing from the new one that are installed
//!   (all of them when the installed list is unknown).

use super::modules::ModuleState;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Why a module is updated.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Reason {
    /// The checksum changed, the version did not.
    ContentChanged,
    /// The manifest version changed (Odoo runs the module's migration scripts).
    VersionBumped {
        from: Option<String>,
        to: Option<String>,
    },
    /// Installed, but the deployed commit's state of the module is unknown.
    NoBaseline,
}

impl Reason {
    /// `content_changed`, `version_bumped` or `no_baseline`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Reason::ContentChanged => "content_changed",
            Reason::VersionBumped { .. } => "version_bumped",
            Reason::NoBaseline => "no_baseline",
        }
    }
}

/// The consequence of a release for the database. Every list is sorted by module name.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModuleChanges {
    pub install: Vec<String>,
    pub update: Vec<(String, Reason)>,
    pub cascade: Vec<String>,
    pub removed: Vec<String>,
}

impl ModuleChanges {
    pub fn is_empty(&self) -> bool {
        self.install.is_empty()
            && self.update.is_empty()
            && self.cascade.is_empty()
            && self.removed.is_empty()
    }

    /// The modules Odoo is asked to update (`-u`): the updated ones (cascaded dependents
    /// follow by themselves).
    pub fn update_names(&self) -> Vec<String> {
        self.update.iter().map(|(n, _)| n.clone()).collect()
    }
}

/// See the module documentation. `deployed`: the module states of the commit the environment
/// serves (`None` on a first deploy); `new`: those of the commit to deploy; `wanted`: the
/// modules the environment installs; `installed`: the modules installed in the database, when
/// known.
pub fn module_changes(
    deployed: Option<&BTreeMap<String, ModuleState>>,
    new: &BTreeMap<String, ModuleState>,
    wanted: &[String],
    installed: Option<&[String]>,
) -> ModuleChanges {
    let known = installed.is_some();
    let installed: BTreeSet<String> = match (installed, deployed) {
        (Some(list), _) => list.iter().cloned().collect(),
        (None, Some(old)) => closure(wanted, old),
        (None, None) => BTreeSet::new(),
    };
    let install: Vec<String> = closure(wanted, new)
        .into_iter()
        .filter(|m| !installed.contains(m))
        .collect();

    let mut update = Vec::new();
    for name in &installed {
        let Some(now) = new.get(name) else {
            continue;
        };
        let before = deployed.and_then(|d| d.get(name));
        let reason = match before {
            None => Some(Reason::NoBaseline),
            Some(b) if b.version != now.version => Some(Reason::VersionBumped {
                from: b.version.clone(),
                to: now.version.clone(),
            }),
            Some(b) if b.checksum != now.checksum => Some(Reason::ContentChanged),
            Some(_) => None,
        };
        if let Some(r) = reason {
            update.push((name.clone(), r));
        }
    }

    // Reverse edges among installed modules of the new commit: dependency → dependents.
    let mut dependents: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for name in &installed {
        if let Some(state) = new.get(name) {
            for d in &state.depends {
                dependents
                    .entry(d.as_str())
                    .or_default()
                    .push(name.as_str());
            }
        }
    }
    let updated: BTreeSet<&str> = update.iter().map(|(n, _)| n.as_str()).collect();
    let mut seen: BTreeSet<&str> = updated.clone();
    let mut queue: Vec<&str> = updated.iter().copied().collect();
    let mut cascade = BTreeSet::new();
    while let Some(m) = queue.pop() {
        for &dep in dependents.get(m).map(Vec::as_slice).unwrap_or(&[]) {
            if seen.insert(dep) {
                cascade.insert(dep.to_string());
                queue.push(dep);
            }
        }
    }

    let removed: Vec<String> = deployed
        .map(|old| {
            old.keys()
                .filter(|m| !new.contains_key(*m))
                .filter(|m| !known || installed.contains(*m))
                .cloned()
                .collect()
        })
        .unwrap_or_default();

    ModuleChanges {
        install,
        update,
        cascade: cascade.into_iter().collect(),
        removed,
    }
}

/// `wanted` and, transitively, the dependencies found in `states` (cycle-safe). Names not in
/// `states` (core addons) are kept but not expanded.
fn closure(wanted: &[String], states: &BTreeMap<String, ModuleState>) -> BTreeSet<String> {
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut queue: Vec<&str> = wanted.iter().map(String::as_str).collect();
    while let Some(m) = queue.pop() {
        if !seen.insert(m.to_string()) {
            continue;
        }
        if let Some(state) = states.get(m) {
            queue.extend(state.depends.iter().map(String::as_str));
        }
    }
    // Core dependencies of repository modules are Odoo's to install: keep only what was asked
    // for and what the repository holds.
    seen.into_iter()
        .filter(|m| wanted.contains(m) || states.contains_key(m))
        .collect()
}

#[cfg(test)]
#[path = "changes_tests.rs"]
mod tests;
