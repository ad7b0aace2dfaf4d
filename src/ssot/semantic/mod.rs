//! Cross-document rules: uniqueness, references, Odoo.sh parity, secret hygiene.
//!
//! One module per resource kind, plus the secret rules that apply to every kind; this one
//! holds what they share (the diagnostic context and the index of names).

mod backup;
mod cluster;
mod environment;
mod gate;
mod module_set;
mod notifier;
mod project;
mod secret_refs;
mod unused;

pub use secret_refs::secret_values;
pub use unused::{UnusedField, UNUSED_FIELDS};

use super::diag::Diagnostic;
use super::loader::Loaded;
use super::model::*;
use super::node::Pos;
use super::structural::{Broken, Entry};
use std::collections::{BTreeSet, HashMap};

/// Annotation that lets a non-production environment run more than one worker.
pub const MULTI_WORKER_ANNOTATION: &str = "odooops.dev/multi-worker-reason";

struct Ctx<'a> {
    loaded: &'a Loaded,
    diags: &'a mut Vec<Diagnostic>,
}

impl Ctx<'_> {
    fn err(
        &mut self,
        e: &Entry,
        pointer: &str,
        code: &'static str,
        msg: impl Into<String>,
        hint: impl Into<String>,
    ) {
        let pos = self.loaded.pos(e.doc, pointer);
        self.err_at(e, pointer, pos, code, msg, hint);
    }
    /// [`Ctx::err`] at a given position instead of the field's key.
    fn err_at(
        &mut self,
        e: &Entry,
        pointer: &str,
        pos: Pos,
        code: &'static str,
        msg: impl Into<String>,
        hint: impl Into<String>,
    ) {
        let d = &self.loaded.documents[e.doc];
        let file = &self.loaded.files[d.file].display;
        let hint: String = hint.into();
        let mut diag = Diagnostic::error(code, file, msg)
            .at(pos.line, pos.column)
            .path(pointer)
            .resource(format!("{}/{}", e.resource.kind(), e.resource.name()));
        if !hint.is_empty() {
            diag = diag.hint(hint);
        }
        self.diags.push(diag);
    }
    fn warn(
        &mut self,
        e: &Entry,
        pointer: &str,
        code: &'static str,
        msg: impl Into<String>,
        hint: impl Into<String>,
    ) {
        self.err(e, pointer, code, msg, hint);
        if let Some(last) = self.diags.last_mut() {
            last.level = super::diag::Level::Warning;
        }
    }
    fn location(&self, e: &Entry) -> String {
        let d = &self.loaded.documents[e.doc];
        let line = self.loaded.start_line(e.doc);
        format!("{}:{line}", self.loaded.files[d.file].display)
    }
}

/// Run every semantic rule over the well-formed resources.
pub fn check(loaded: &Loaded, entries: &[Entry], broken: &Broken, diags: &mut Vec<Diagnostic>) {
    let mut cx = Ctx { loaded, diags };
    unique_names(&mut cx, entries);
    let idx = Index::new(entries, broken);
    for e in entries {
        match &e.resource {
            Resource::Project(p) => project::project(&mut cx, e, p, &idx),
            Resource::Environment(env) => {
                environment::environment(&mut cx, e, env, &idx);
                cluster::environment_cluster(&mut cx, e, env, &idx);
            }
            Resource::BackupPolicy(b) => backup::backup_policy(&mut cx, e, b, &idx),
            Resource::Gate(g) => gate::gate(&mut cx, e, g, &idx),
            Resource::ModuleSet(m) => module_set::module_set(&mut cx, e, m, &idx),
            Resource::SecretRegistry(_) => {}
            Resource::DatabaseCluster(c) => cluster::database_cluster(&mut cx, e, c, &idx),
            Resource::Notifier(n) => notifier::notifier(&mut cx, e, n),
        }
        secret_refs::secret_refs(&mut cx, e, &idx);
        unused::unused_fields(&mut cx, e);
    }
    secret_refs::registry_keys(&mut cx, entries);
}

struct Index<'a> {
    projects: HashMap<&'a str, &'a Project>,
    envs: HashMap<&'a str, &'a Environment>,
    module_sets: HashMap<&'a str, &'a ModuleSet>,
    notifiers: BTreeSet<&'a str>,
    clusters: BTreeSet<&'a str>,
    secret_keys: BTreeSet<&'a str>,
    has_registry: bool,
    broken: &'a Broken,
}

impl<'a> Index<'a> {
    fn new(entries: &'a [Entry], broken: &'a Broken) -> Index<'a> {
        let mut idx = Index {
            projects: HashMap::new(),
            envs: HashMap::new(),
            module_sets: HashMap::new(),
            notifiers: BTreeSet::new(),
            clusters: BTreeSet::new(),
            secret_keys: BTreeSet::new(),
            has_registry: false,
            broken,
        };
        for e in entries {
            match &e.resource {
                Resource::Project(p) => {
                    idx.projects.entry(&p.metadata.name).or_insert(p);
                }
                Resource::Environment(x) => {
                    idx.envs.entry(&x.metadata.name).or_insert(x);
                }
                Resource::ModuleSet(m) => {
                    idx.module_sets.entry(&m.metadata.name).or_insert(m);
                }
                Resource::Notifier(n) => {
                    idx.notifiers.insert(&n.metadata.name);
                }
                Resource::DatabaseCluster(c) => {
                    idx.clusters.insert(&c.metadata.name);
                }
                Resource::SecretRegistry(r) => {
                    idx.has_registry = true;
                    idx.secret_keys
                        .extend(r.spec.keys.iter().map(|k| k.name.as_str()));
                }
                _ => {}
            }
        }
        idx
    }

    /// A reference to `kind/name` that resolves to nothing and is not explained by a
    /// document that failed to load.
    fn missing(&self, kind: Kind, name: &str, present: bool) -> bool {
        !present && !self.broken.shadows(kind, name)
    }
}

fn names_hint<'a>(what: &str, candidates: impl Iterator<Item = &'a str>, wanted: &str) -> String {
    let list: Vec<&str> = candidates.collect();
    match super::suggest::closest(wanted, list.iter().copied()) {
        Some(c) => format!("did you mean `{c}`?"),
        None if list.is_empty() => format!("no {what} is defined; add one to the SSOT"),
        None => format!("defined {what}s: {}", list.join(", ")),
    }
}

fn unique_names(cx: &mut Ctx, entries: &[Entry]) {
    let mut seen: HashMap<(Kind, &str), &Entry> = HashMap::new();
    for e in entries {
        let key = (e.resource.kind(), e.resource.name());
        if let Some(first) = seen.get(&key) {
            let at = cx.location(first);
            cx.err(
                e,
                "/metadata/name",
                "duplicate-name",
                format!("{} `{}` is defined twice", key.0, key.1),
                format!("the first definition is at {at}; rename or remove one"),
            );
        } else {
            seen.insert(key, e);
        }
    }
}

fn valid_module_name(m: &str) -> bool {
    !m.is_empty()
        && m.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}
