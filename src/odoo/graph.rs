//! The module graph: discover addons in addons paths, resolve transitive dependencies against
//! the paths and Odoo Community's core addons, and report what is missing, cyclic,
//! uninstallable, mis-versioned and how each addon is licensed. Semantics follow OCA
//! manifestoo's `list-depends` / `check-dev-status`: `base` and the other core addons are
//! leaves satisfied by Odoo, the selection itself is excluded from `depends`, and an addon
//! depending on an uninstallable one is still listed (the uninstallable one is reported).

use super::core_addons;
use super::manifest::Manifest;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum GraphError {
    #[error("addons path {0}: {1} (check --addons-path)")]
    Path(String, std::io::Error),
    #[error("unknown Odoo series `{0}` (known: {known})", known = core_addons::SERIES.join(", "))]
    UnknownSeries(String),
}

/// One discovered addon.
#[derive(Debug, Clone)]
pub struct Addon {
    pub name: String,
    pub dir: PathBuf,
    /// The parsed manifest, or the error that names file, line and column.
    pub manifest: Result<Manifest, String>,
}

/// Addons found in the addons paths; the first path holding a name wins (like Odoo).
#[derive(Debug, Default)]
pub struct AddonsIndex {
    pub addons: BTreeMap<String, Addon>,
    /// Later directories with an already-found name: (name, ignored dir).
    pub shadowed: Vec<(String, PathBuf)>,
}

impl AddonsIndex {
    pub fn get(&self, name: &str) -> Option<&Addon> {
        self.addons.get(name)
    }
}

/// Scan addons paths: every non-dot folder holding a `__manifest__.py` is an addon.
pub fn discover(paths: &[PathBuf]) -> Result<AddonsIndex, GraphError> {
    let mut index = AddonsIndex::default();
    for root in paths {
        let entries =
            std::fs::read_dir(root).map_err(|e| GraphError::Path(root.display().to_string(), e))?;
        let mut dirs: Vec<(String, PathBuf)> = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| GraphError::Path(root.display().to_string(), e))?;
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            if name.starts_with('.') {
                continue;
            }
            let dir = entry.path();
            if dir.join("__manifest__.py").is_file() {
                dirs.push((name, dir));
            }
        }
        dirs.sort();
        for (name, dir) in dirs {
            if index.addons.contains_key(&name) {
                index.shadowed.push((name, dir));
                continue;
            }
            let file = dir.join("__manifest__.py");
            let shown = file.display().to_string();
            let manifest = match std::fs::read(&file) {
                Err(e) => Err(format!("{shown}: {e}")),
                Ok(bytes) => match String::from_utf8(bytes) {
                    Err(_) => Err(format!("{shown}: not valid UTF-8")),
                    Ok(text) => Manifest::parse(&text, &shown).map_err(|e| e.to_string()),
                },
            };
            index.addons.insert(
                name.clone(),
                Addon {
                    name,
                    dir,
                    manifest,
                },
            );
        }
    }
    Ok(index)
}

/// An addon whose manifest could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ManifestProblem {
    pub addon: String,
    pub error: String,
}

/// The dependency report of a selection (manifestoo-shaped).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct DepsReport {
    pub series: String,
    pub selection: Vec<String>,
    /// Transitive dependencies, core addons included, the selection excluded; sorted.
    pub depends: Vec<String>,
    /// Needed names neither in the addons paths nor in the series' core addons.
    pub missing: Vec<String>,
    /// Each cycle's members, sorted; cycles sorted.
    pub cycles: Vec<Vec<String>>,
    /// License of every addon found in the paths among selection + depends.
    pub licenses: BTreeMap<String, String>,
    pub not_installable: Vec<String>,
    pub version_mismatch: Vec<String>,
    /// Unreadable manifests among selection + depends (their dependencies are unknown).
    pub errors: Vec<ManifestProblem>,
}

impl DepsReport {
    /// Nothing missing, cyclic, uninstallable, mis-versioned or unreadable.
    pub fn is_clean(&self) -> bool {
        self.missing.is_empty()
            && self.cycles.is_empty()
            && self.not_installable.is_empty()
            && self.version_mismatch.is_empty()
            && self.errors.is_empty()
    }
}

/// Resolve `selection` (all discovered addons when empty) against the index and the core
/// addons of `series`.
pub fn deps(
    index: &AddonsIndex,
    selection: &[String],
    series: &str,
) -> Result<DepsReport, GraphError> {
    let core: HashSet<&str> = core_addons::core_addons(series)
        .ok_or_else(|| GraphError::UnknownSeries(series.to_string()))?
        .collect();
    let selection: Vec<String> = if selection.is_empty() {
        index.addons.keys().cloned().collect()
    } else {
        let set: BTreeSet<String> = selection.iter().cloned().collect();
        set.into_iter().collect()
    };
    let selected: HashSet<&str> = selection.iter().map(String::as_str).collect();

    // Breadth-first closure over the declared dependencies.
    let mut seen: HashSet<&str> = HashSet::new();
    let mut queue: Vec<&str> = Vec::new();
    for s in &selection {
        if seen.insert(s.as_str()) {
            queue.push(s.as_str());
        }
    }
    let mut i = 0;
    while i < queue.len() {
        let name = queue[i];
        i += 1;
        if let Some(Ok(m)) = index.get(name).map(|a| &a.manifest) {
            for d in &m.depends {
                if seen.insert(d.as_str()) {
                    queue.push(d.as_str());
                }
            }
        }
    }

    let mut report = DepsReport {
        series: series.to_string(),
        selection: selection.clone(),
        ..DepsReport::default()
    };
    let mut found: Vec<&str> = Vec::new();
    for name in &queue {
        if !selected.contains(name) {
            report.depends.push(name.to_string());
        }
        match index.get(name) {
            Some(addon) => {
                found.push(name);
                match &addon.manifest {
                    Ok(m) => {
                        report.licenses.insert(name.to_string(), m.license.clone());
                        if !m.installable {
                            report.not_installable.push(name.to_string());
                        }
                        if !m.version_matches(series) {
                            report.version_mismatch.push(name.to_string());
                        }
                    }
                    Err(e) => report.errors.push(ManifestProblem {
                        addon: name.to_string(),
                        error: e.clone(),
                    }),
                }
            }
            None if core.contains(name) => {}
            None => report.missing.push(name.to_string()),
        }
    }
    report.cycles = cycles(index, &found);
    report.depends.sort();
    report.missing.sort();
    report.not_installable.sort();
    report.version_mismatch.sort();
    report.errors.sort_by(|a, b| a.addon.cmp(&b.addon));
    Ok(report)
}

/// Strongly connected components with more than one member, or a self-dependency, among
/// `nodes` (iterative Tarjan: no recursion, so long chains cannot overflow the stack).
fn cycles(index: &AddonsIndex, nodes: &[&str]) -> Vec<Vec<String>> {
    let pos: HashMap<&str, usize> = nodes.iter().enumerate().map(|(i, n)| (*n, i)).collect();
    let edges: Vec<Vec<usize>> = nodes
        .iter()
        .map(|n| match index.get(n).map(|a| &a.manifest) {
            Some(Ok(m)) => m
                .depends
                .iter()
                .filter_map(|d| pos.get(d.as_str()).copied())
                .collect(),
            _ => Vec::new(),
        })
        .collect();
    let n = nodes.len();
    let mut idx = vec![usize::MAX; n];
    let mut low = vec![0usize; n];
    let mut on_stack = vec![false; n];
    let mut stack: Vec<usize> = Vec::new();
    let mut next = 0usize;
    let mut out: Vec<Vec<String>> = Vec::new();
    for root in 0..n {
        if idx[root] != usize::MAX {
            continue;
        }
        // (node, next edge to visit)
        let mut call: Vec<(usize, usize)> = vec![(root, 0)];
        idx[root] = next;
        low[root] = next;
        next += 1;
        stack.push(root);
        on_stack[root] = true;
        while let Some(&mut (v, ref mut ei)) = call.last_mut() {
            if *ei < edges[v].len() {
                let w = edges[v][*ei];
                *ei += 1;
                if idx[w] == usize::MAX {
                    idx[w] = next;
                    low[w] = next;
                    next += 1;
                    stack.push(w);
                    on_stack[w] = true;
                    call.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(idx[w]);
                }
                continue;
            }
            call.pop();
            if let Some(&(parent, _)) = call.last() {
                low[parent] = low[parent].min(low[v]);
            }
            if low[v] == idx[v] {
                let mut comp = Vec::new();
                while let Some(w) = stack.pop() {
                    on_stack[w] = false;
                    comp.push(w);
                    if w == v {
                        break;
                    }
                }
                if comp.len() > 1 || edges[v].contains(&v) {
                    let mut names: Vec<String> =
                        comp.iter().map(|&i| nodes[i].to_string()).collect();
                    names.sort();
                    out.push(names);
                }
            }
        }
    }
    out.sort();
    out
}

/// Split a `DIR[,DIR…]` argument.
pub fn split_paths(arg: &str) -> Vec<PathBuf> {
    arg.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(PathBuf::from)
        .collect()
}

/// Where an addon's file lives, searching the paths in order (first wins).
pub fn find_in_paths(paths: &[PathBuf], addon: &str, rel: &Path) -> Option<PathBuf> {
    paths
        .iter()
        .map(|p| p.join(addon))
        .find(|d| d.join("__manifest__.py").is_file())
        .map(|d| d.join(rel))
        .filter(|f| f.is_file())
}

#[cfg(test)]
#[path = "graph_tests.rs"]
mod tests;
