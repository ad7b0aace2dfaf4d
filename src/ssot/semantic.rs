//! Cross-document rules: uniqueness, references, Odoo.sh parity, secret hygiene.

use super::cron::Cron;
use super::diag::Diagnostic;
use super::loader::Loaded;
use super::model::*;
use super::node::LocatedDoc;
use super::secrets;
use super::structural::{Broken, Entry};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};

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
        let d = &self.loaded.documents[e.doc];
        let pos = self.loaded.pos(e.doc, pointer);
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
            Resource::Project(p) => project(&mut cx, e, p, &idx),
            Resource::Environment(env) => environment(&mut cx, e, env, &idx),
            Resource::BackupPolicy(b) => backup_policy(&mut cx, e, b, &idx),
            Resource::Gate(g) => gate(&mut cx, e, g, &idx),
            Resource::ModuleSet(m) => module_set(&mut cx, e, m, &idx),
            Resource::SecretRegistry(_) | Resource::DatabaseCluster(_) => {}
            Resource::Notifier(n) => notifier(&mut cx, e, n),
        }
        secret_refs(&mut cx, e, &idx);
    }
    registry_keys(&mut cx, entries);
}

/// Scan every string of a document (valid or not) for secret-shaped values.
pub fn secret_values(file: &str, d: &LocatedDoc, diags: &mut Vec<Diagnostic>) {
    scan(&d.value, "", "", &mut |pointer, what| {
        let pos = d.value_pos(pointer);
        let key = secrets::suggest_key_name(pointer);
        diags.push(
            Diagnostic::error("secret-value", file, format!("this looks like {what}; the SSOT never holds secret values"))
                .at(pos.line, pos.column)
                .path(pointer)
                .hint(format!(
                    "store the value outside the repo (e.g. the controller's environment), list the key `{key}` in the SecretRegistry, and reference `{key}` here; then rotate the leaked credential"
                )),
        );
    });
}

fn scan(v: &Value, pointer: &str, field: &str, found: &mut dyn FnMut(&str, &'static str)) {
    match v {
        Value::String(s) => {
            if let Some(what) = secrets::classify(field, s) {
                found(pointer, what);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                scan(item, &format!("{pointer}/{i}"), field, found);
            }
        }
        Value::Object(m) => {
            for (k, item) in m {
                let child = format!("{pointer}/{}", super::node::escape_segment(k));
                scan(item, &child, k, found);
            }
        }
        _ => {}
    }
}

struct Index<'a> {
    projects: HashMap<&'a str, &'a Project>,
    envs: HashMap<&'a str, &'a Environment>,
    module_sets: HashMap<&'a str, &'a ModuleSet>,
    notifiers: BTreeSet<&'a str>,
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

fn project(cx: &mut Ctx, e: &Entry, p: &Project, idx: &Index) {
    let prods: Vec<&&Environment> = idx
        .envs
        .values()
        .filter(|x| x.spec.project == p.metadata.name && x.spec.stage == Stage::Production)
        .collect();
    if prods.is_empty()
        && !idx.broken.incomplete
        && !idx.broken.env_projects.contains(&p.metadata.name)
    {
        cx.err(
            e,
            "/metadata/name",
            "production-count",
            format!(
                "project `{}` has no production environment",
                p.metadata.name
            ),
            "add exactly one Environment with `stage: production` for this project",
        );
    }
    if let Some(s) = &p.spec.artifacts {
        storage(cx, e, "/spec/artifacts", s);
    }
    for (i, path) in p.spec.repository.addons_paths.iter().enumerate() {
        if path.starts_with('/') || path.split('/').any(|s| s == "..") {
            cx.err(
                e,
                &format!("/spec/repository/addonsPaths/{i}"),
                "invalid-value",
                "addons paths are relative to the repository root",
                "write it like `addons` or `vendor/oca/web`",
            );
        }
    }
}

fn storage(cx: &mut Ctx, e: &Entry, ptr: &str, s: &Storage) {
    match s.kind {
        StorageType::Local if s.path.is_none() => cx.err(
            e,
            ptr,
            "storage",
            "local storage needs `path`",
            "add `path: .odooops/artifacts` (or any directory)",
        ),
        StorageType::S3 if s.bucket.is_none() => cx.err(
            e,
            ptr,
            "storage",
            "s3 storage needs `bucket`",
            "add `bucket:`, `endpoint:`, `region:` and the two credential secret keys",
        ),
        _ => {}
    }
}

fn environment(cx: &mut Ctx, e: &Entry, env: &Environment, idx: &Index) {
    let spec = &env.spec;
    let project = idx.projects.get(spec.project.as_str()).copied();
    if idx.missing(Kind::Project, &spec.project, project.is_some()) {
        let hint = names_hint("project", idx.projects.keys().copied(), &spec.project);
        cx.err(
            e,
            "/spec/project",
            "unresolved-reference",
            format!("project `{}` is not defined", spec.project),
            hint,
        );
    }
    // Exactly one production environment per project.
    if spec.stage == Stage::Production {
        let mut others: Vec<&str> = idx
            .envs
            .values()
            .filter(|x| x.spec.project == spec.project && x.spec.stage == Stage::Production)
            .map(|x| x.metadata.name.as_str())
            .collect();
        others.sort();
        if others.len() > 1 && others[0] != env.metadata.name {
            cx.err(e, "/spec/stage", "production-count",
                format!("project `{}` already has production environment `{}`", spec.project, others[0]),
                "a project has exactly one production environment; make this one staging or development");
        }
        if let Some(p) = project {
            if spec.branch != p.spec.repository.production_branch {
                cx.warn(e, "/spec/branch", "production-branch",
                    format!("production deploys branch `{}` but the project's production branch is `{}`", spec.branch, p.spec.repository.production_branch),
                    "make them the same, as Odoo.sh does");
            }
        }
    }
    // Host region.
    if spec.host.region.is_none() && project.is_some_and(|p| p.spec.default_region.is_none()) {
        cx.err(
            e,
            "/spec/host",
            "missing-field",
            "no `region` here and no `defaultRegion` on the project",
            "add `region: fra1` (or set the project's defaultRegion)",
        );
    }
    database(cx, e, &spec.database);
    mail(cx, e, spec);
    workers(cx, e, env);
    // Module set.
    if let Some(ms) = &spec.modules.module_set {
        if idx.missing(
            Kind::ModuleSet,
            ms,
            idx.module_sets.contains_key(ms.as_str()),
        ) {
            let hint = names_hint("module set", idx.module_sets.keys().copied(), ms);
            cx.err(
                e,
                "/spec/modules/moduleSet",
                "unresolved-reference",
                format!("module set `{ms}` is not defined"),
                hint,
            );
        }
    }
    for (i, m) in spec.modules.install.iter().enumerate() {
        if !valid_module_name(m) {
            cx.err(
                e,
                &format!("/spec/modules/install/{i}"),
                "invalid-value",
                format!("`{m}` is not an addon technical name"),
                "addon names are lowercase letters, digits and `_`",
            );
        }
    }
    // Notifiers.
    for (i, n) in spec.notifiers.iter().enumerate() {
        if idx.missing(Kind::Notifier, n, idx.notifiers.contains(n.as_str())) {
            let hint = names_hint("notifier", idx.notifiers.iter().copied(), n);
            cx.err(
                e,
                &format!("/spec/notifiers/{i}"),
                "unresolved-reference",
                format!("notifier `{n}` is not defined"),
                hint,
            );
        }
    }
    // Staging source.
    if let Some(src) = &spec.staging_source {
        match idx.envs.get(src.from_environment.as_str()) {
            None if !idx.missing(Kind::Environment, &src.from_environment, false) => {}
            None => {
                let hint = names_hint(
                    "environment",
                    idx.envs.keys().copied(),
                    &src.from_environment,
                );
                cx.err(
                    e,
                    "/spec/stagingSource/fromEnvironment",
                    "unresolved-reference",
                    format!("environment `{}` is not defined", src.from_environment),
                    hint,
                );
            }
            Some(from) => {
                if from.spec.project != spec.project || from.spec.stage != Stage::Production {
                    cx.err(e, "/spec/stagingSource/fromEnvironment", "staging-source",
                        format!("staging data must come from project `{}`'s production environment; `{}` is {} of project `{}`", spec.project, src.from_environment, from.spec.stage.as_str(), from.spec.project),
                        "point fromEnvironment at this project's production environment");
                }
            }
        }
        if !src.neutralize {
            cx.err(e, "/spec/stagingSource/neutralize", "staging-source", "a copy of production must be neutralized",
                "set `neutralize: true` (mail servers, crons, payment and delivery go to test mode, as on Odoo.sh)");
        }
        if spec.stage == Stage::Production {
            cx.err(
                e,
                "/spec/stagingSource",
                "staging-source",
                "production cannot take its data from another environment",
                "remove stagingSource from production",
            );
        }
    }
    for (i, p) in spec.reconcile.ignore.iter().enumerate() {
        if !p.starts_with('/') {
            cx.err(
                e,
                &format!("/spec/reconcile/ignore/{i}"),
                "invalid-value",
                format!("`{p}` is not a JSON pointer"),
                "write paths like `/droplet/size`",
            );
        }
    }
    if let Some(d) = &spec.domain {
        if !d.zone.contains('.') {
            cx.err(
                e,
                "/spec/domain/zone",
                "invalid-value",
                format!("`{}` is not a DNS zone", d.zone),
                "use the registered domain, e.g. `example.com`",
            );
        }
    }
}

fn valid_module_name(m: &str) -> bool {
    !m.is_empty()
        && m.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn database(cx: &mut Ctx, e: &Entry, db: &Database) {
    if db.connection_mode == ConnectionMode::Transaction {
        cx.err(e, "/spec/database/connectionMode", "odoo-connection",
            "Odoo cannot use the transaction pooler (port 6543): it needs LISTEN/NOTIFY and prepared statements",
            "use `connectionMode: session` (Supabase session pooler, port 5432) or `direct`");
    }
    match db.provider {
        DatabaseProvider::Supabase if db.project_ref.is_none() => cx.err(
            e,
            "/spec/database",
            "missing-field",
            "a Supabase database needs `projectRef`",
            "add `projectRef:` (the Supabase project ref)",
        ),
        DatabaseProvider::Digitalocean if db.cluster.is_none() => cx.err(
            e,
            "/spec/database",
            "missing-field",
            "a DigitalOcean database needs `cluster`",
            "add `cluster:` (the managed cluster's name)",
        ),
        DatabaseProvider::Postgres if db.url_secret.is_none() => cx.err(
            e,
            "/spec/database",
            "missing-field",
            "a plain PostgreSQL database needs `urlSecret`",
            "add `urlSecret:` naming the registry key of its URL",
        ),
        _ => {}
    }
}

fn mail(cx: &mut Ctx, e: &Entry, spec: &EnvironmentSpec) {
    let m = &spec.mail;
    if spec.stage != Stage::Production && m.mode != MailMode::Catcher {
        cx.err(
            e,
            "/spec/mail/mode",
            "mail-policy",
            format!(
                "a {} environment must capture mail, not send it",
                spec.stage.as_str()
            ),
            "set `mode: catcher` (non-production mail is caught, as in Odoo.sh's Mails tab)",
        );
    }
    if m.port == Some(25) {
        cx.err(
            e,
            "/spec/mail/port",
            "port-25",
            "outgoing port 25 is closed (Odoo.sh parity)",
            "use 465 (SSL) or 587 (STARTTLS)",
        );
    }
    if m.mode == MailMode::Smtp && m.host.is_none() {
        cx.err(
            e,
            "/spec/mail",
            "missing-field",
            "smtp mode needs `host`",
            "add `host:` and `port: 465` or `587`",
        );
    }
}

fn workers(cx: &mut Ctx, e: &Entry, env: &Environment) {
    if env.spec.stage == Stage::Production {
        return;
    }
    let reason = env
        .metadata
        .annotations
        .get(MULTI_WORKER_ANNOTATION)
        .is_some_and(|r| !r.trim().is_empty());
    if reason {
        return;
    }
    let hint = format!("staging and development run a single worker (Odoo.sh parity); to override, set the annotation `{MULTI_WORKER_ANNOTATION}: <why>`");
    if let Some(w) = env.spec.odoo.workers.filter(|w| *w > 1) {
        cx.err(
            e,
            "/spec/odoo/workers",
            "single-worker",
            format!("{} runs {w} workers", env.spec.stage.as_str()),
            hint.clone(),
        );
    }
    if let Some(w) = env.spec.limits.max_workers.filter(|w| *w > 1) {
        cx.err(
            e,
            "/spec/limits/maxWorkers",
            "single-worker",
            format!("{} allows {w} workers", env.spec.stage.as_str()),
            hint,
        );
    }
}

fn backup_policy(cx: &mut Ctx, e: &Entry, b: &BackupPolicy, idx: &Index) {
    let spec = &b.spec;
    match idx.envs.get(spec.environment.as_str()) {
        None if !idx.missing(Kind::Environment, &spec.environment, false) => {}
        None => {
            let hint = names_hint("environment", idx.envs.keys().copied(), &spec.environment);
            cx.err(
                e,
                "/spec/environment",
                "unresolved-reference",
                format!("environment `{}` is not defined", spec.environment),
                hint,
            );
        }
        Some(env) if env.spec.stage == Stage::Development => cx.warn(
            e,
            "/spec/environment",
            "backup-stage",
            format!(
                "`{}` is a development environment; Odoo.sh keeps no backups of those",
                spec.environment
            ),
            "",
        ),
        _ => {}
    }
    if let Err(msg) = Cron::parse(&spec.schedule) {
        cx.err(
            e,
            "/spec/schedule",
            "cron",
            msg,
            "five fields, UTC: `0 3 * * *` runs daily at 03:00",
        );
    }
    let r = &spec.retention;
    if r.daily + r.weekly + r.monthly == 0 {
        cx.err(
            e,
            "/spec/retention",
            "retention",
            "this retention keeps no scheduled backup",
            "keep at least one (Odoo.sh keeps 7 daily, 4 weekly, 3 monthly)",
        );
    }
    if let Some(s) = &spec.storage {
        storage(cx, e, "/spec/storage", s);
    }
    if let Some(drill) = &spec.restore_drill {
        if let Err(msg) = Cron::parse(&drill.schedule) {
            cx.err(
                e,
                "/spec/restoreDrill/schedule",
                "cron",
                msg,
                "five fields, UTC: `0 5 * * 0` runs Sundays at 05:00",
            );
        }
        if let Some(t) = &drill.target_environment {
            match idx.envs.get(t.as_str()) {
                None if !idx.missing(Kind::Environment, t, false) => {}
                None => {
                    let hint = names_hint("environment", idx.envs.keys().copied(), t);
                    cx.err(
                        e,
                        "/spec/restoreDrill/targetEnvironment",
                        "unresolved-reference",
                        format!("environment `{t}` is not defined"),
                        hint,
                    );
                }
                Some(env) if env.spec.stage == Stage::Production => cx.err(
                    e,
                    "/spec/restoreDrill/targetEnvironment",
                    "restore-target",
                    "a restore drill must never target production",
                    "target a staging environment or leave it out for a scratch database",
                ),
                _ => {}
            }
        }
    }
}

fn gate(cx: &mut Ctx, e: &Entry, g: &Gate, idx: &Index) {
    let p = &g.spec.params;
    let given: BTreeMap<&str, bool> = [
        ("max", p.max.is_some()),
        ("maxSeconds", p.max_seconds.is_some()),
        ("minIntervalMinutes", p.min_interval_minutes.is_some()),
        ("autoDisableAfter", p.auto_disable_after.is_some()),
        ("enforce", p.enforce.is_some()),
        ("maxMemoryHardMib", p.max_memory_hard_mib.is_some()),
        ("maxTimeReal", p.max_time_real.is_some()),
    ]
    .into_iter()
    .collect();
    let allowed: &[&str] = match g.spec.gate_type {
        GateType::DbObjectCount => &["max"],
        GateType::CronTimeout => &[
            "maxSeconds",
            "minIntervalMinutes",
            "autoDisableAfter",
            "enforce",
        ],
        GateType::ModuleAllowlist | GateType::SmtpPolicy => &[],
        GateType::ResourceLimits => &["maxMemoryHardMib", "maxTimeReal"],
    };
    for (name, present) in given {
        if present && !allowed.contains(&name) {
            let hint = if allowed.is_empty() {
                format!("{} takes no parameters", g.spec.gate_type.as_str())
            } else {
                format!(
                    "{} takes: {}",
                    g.spec.gate_type.as_str(),
                    allowed.join(", ")
                )
            };
            cx.err(
                e,
                &format!("/spec/params/{name}"),
                "gate-param",
                format!(
                    "`{name}` does not apply to a {} gate",
                    g.spec.gate_type.as_str()
                ),
                hint,
            );
        }
    }
    if p.max == Some(0) || p.max_seconds == Some(0) || p.auto_disable_after == Some(0) {
        cx.err(
            e,
            "/spec/params",
            "gate-param",
            "a zero threshold can never pass",
            "use a positive number",
        );
    }
    for (i, name) in g.spec.scope.environments.iter().enumerate() {
        if idx.missing(
            Kind::Environment,
            name,
            idx.envs.contains_key(name.as_str()),
        ) {
            let hint = names_hint("environment", idx.envs.keys().copied(), name);
            cx.err(
                e,
                &format!("/spec/scope/environments/{i}"),
                "unresolved-reference",
                format!("environment `{name}` is not defined"),
                hint,
            );
        }
    }
}

fn module_set(cx: &mut Ctx, e: &Entry, m: &ModuleSet, _idx: &Index) {
    let mut seen: HashMap<&str, u32> = HashMap::new();
    let mut numbers: Vec<u32> = m.spec.waves.iter().map(|w| w.wave).collect();
    numbers.sort_unstable();
    let expected: Vec<u32> = (1..=m.spec.waves.len() as u32).collect();
    if numbers != expected {
        cx.err(
            e,
            "/spec/waves",
            "waves",
            format!(
                "waves must be numbered 1..{} without gaps or repeats, found {numbers:?}",
                m.spec.waves.len()
            ),
            "renumber the waves 1, 2, 3, …",
        );
    }
    for (wi, w) in m.spec.waves.iter().enumerate() {
        for (mi, name) in w.modules.iter().enumerate() {
            let ptr = format!("/spec/waves/{wi}/modules/{mi}");
            if !valid_module_name(name) {
                cx.err(
                    e,
                    &ptr,
                    "invalid-value",
                    format!("`{name}` is not an addon technical name"),
                    "addon names are lowercase letters, digits and `_`",
                );
            } else if let Some(first) = seen.insert(name, w.wave) {
                cx.err(
                    e,
                    &ptr,
                    "waves",
                    format!("`{name}` is already in wave {first}"),
                    "list each module in one wave only",
                );
            }
        }
    }
}

fn notifier(cx: &mut Ctx, e: &Entry, n: &Notifier) {
    if n.spec.slack.is_none() && n.spec.plane.is_none() {
        cx.err(
            e,
            "/spec",
            "notifier",
            "a notifier needs `slack` or `plane`",
            "add a `slack:` or `plane:` block",
        );
    }
    if let Some(s) = &n.spec.slack {
        if s.webhook_secret.is_none() && s.bot_token_secret.is_none() {
            cx.err(
                e,
                "/spec/slack",
                "notifier",
                "Slack needs `webhookSecret` or `botTokenSecret`",
                "reference the registry key of an incoming-webhook URL or a bot token",
            );
        }
    }
}

/// Every reference to a secret-registry key in a resource, as (pointer, key).
fn secret_refs_of(resource: &Resource) -> Vec<(String, String)> {
    let mut out = Vec::new();
    fn walk(
        v: &Value,
        ptr: &str,
        field: &str,
        in_secrets_list: bool,
        out: &mut Vec<(String, String)>,
    ) {
        match v {
            Value::String(s)
                if field.ends_with("Secret") || field == "secret" || in_secrets_list =>
            {
                out.push((ptr.to_string(), s.clone()));
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    walk(
                        item,
                        &format!("{ptr}/{i}"),
                        field,
                        field == "secrets" && ptr.ends_with("/spec/secrets"),
                        out,
                    );
                }
            }
            Value::Object(m) => {
                for (k, item) in m {
                    walk(item, &format!("{ptr}/{k}"), k, false, out);
                }
            }
            _ => {}
        }
    }
    walk(&resource.to_value(), "", "", false, &mut out);
    out
}

fn secret_refs(cx: &mut Ctx, e: &Entry, idx: &Index) {
    if matches!(e.resource, Resource::SecretRegistry(_)) {
        return;
    }
    for (ptr, key) in secret_refs_of(&e.resource) {
        // A value instead of a key name: secret_values() reports it, without echoing it.
        if secrets::classify("secret", &key).is_some() {
            continue;
        }
        if !secrets::is_registry_key_name(&key) {
            {
                cx.err(
                    e,
                    &ptr,
                    "secret-reference",
                    "a secret reference must be a registry key name (UPPER_SNAKE_CASE)",
                    "name a key listed in the SecretRegistry, e.g. `DIGITALOCEAN_TOKEN`",
                );
            }
            continue;
        }
        let registry_broken =
            idx.broken.incomplete || idx.broken.kinds.contains(&Kind::SecretRegistry);
        if !idx.secret_keys.contains(key.as_str()) && !registry_broken {
            let hint = if idx.has_registry {
                names_hint("secret key", idx.secret_keys.iter().copied(), &key)
            } else {
                "no SecretRegistry is defined; add one listing this key".to_string()
            };
            cx.err(
                e,
                &ptr,
                "unresolved-reference",
                format!("secret key `{key}` is not in the secret registry"),
                hint,
            );
        }
    }
}

fn registry_keys(cx: &mut Ctx, entries: &[Entry]) {
    let mut seen: HashMap<&str, String> = HashMap::new();
    for e in entries {
        if let Resource::SecretRegistry(r) = &e.resource {
            for (i, k) in r.spec.keys.iter().enumerate() {
                let here = format!("{}#{}", e.resource.name(), i);
                if let Some(first) = seen.insert(&k.name, here) {
                    cx.err(
                        e,
                        &format!("/spec/keys/{i}/name"),
                        "duplicate-name",
                        format!("secret key `{}` is listed twice", k.name),
                        format!("first listed at {first}; keep one"),
                    );
                }
            }
        }
    }
}
