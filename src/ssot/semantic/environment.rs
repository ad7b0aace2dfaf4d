//! Environment rules: references, one production per project, region, database mode, mail
//! policy, single worker outside production, staging source.

use super::{names_hint, valid_module_name, Ctx, Index, MULTI_WORKER_ANNOTATION};
use crate::ssot::model::*;
use crate::ssot::structural::Entry;

pub(super) fn environment(cx: &mut Ctx, e: &Entry, env: &Environment, idx: &Index) {
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
    delivery(cx, e, spec, project);
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

/// How Odoo reaches the host: over SSH only with a deploy key and a pinned host key; the
/// project must say where Odoo's source comes from.
fn delivery(cx: &mut Ctx, e: &Entry, spec: &EnvironmentSpec, project: Option<&Project>) {
    let Some(d) = &spec.delivery else {
        if !spec.modules.install.is_empty() {
            cx.warn(
                e,
                "/spec/modules/install",
                "unused-field",
                "`install` is accepted but not acted on: this environment has no `delivery`, so no release installs these modules",
                "add `delivery:` (how its host is reached) for releases to install them, or remove it to silence this warning",
            );
        }
        return;
    };
    if let Some(p) = project.filter(|p| p.spec.odoo.source.is_none()) {
        cx.err(
            e,
            "/spec/delivery",
            "missing-field",
            format!(
                "this environment delivers Odoo but project `{}` has no `spec.odoo.source`",
                p.metadata.name
            ),
            "add `source: {url: https://github.com/odoo/odoo.git, revision: <commit>}` under the project's `odoo:`",
        );
    }
    if d.transport == TransportKind::Ssh {
        if d.ssh_key_secret.is_none() {
            cx.err(
                e,
                "/spec/delivery",
                "missing-field",
                "delivery over SSH needs `sshKeySecret` (the registry key of the deploy key)",
                "add `sshKeySecret: DEPLOY_KEY` and list DEPLOY_KEY in the SecretRegistry",
            );
        }
        match &d.host_key {
            // The droplet is made first; its releases wait until its key is pinned.
            None => cx.warn(
                e,
                "/spec/delivery",
                "host-key-unpinned",
                "no `hostKey`: releases are held until the host's public key is pinned (SSH never trusts on first use)",
                "once the droplet exists, add `hostKey: ssh-ed25519 AAAA…` (`ssh-keyscan -t ed25519 HOST` prints it)",
            ),
            Some(k) => {
                let parts: Vec<&str> = k.split_whitespace().collect();
                let typed = parts
                    .first()
                    .is_some_and(|t| t.starts_with("ssh-") || t.starts_with("ecdsa-"));
                if parts.len() < 2 || !typed {
                    cx.err(
                        e,
                        "/spec/delivery/hostKey",
                        "invalid-value",
                        "not an OpenSSH public key",
                        "write it as `ssh-ed25519 AAAA…` (the type, then the key)",
                    );
                }
            }
        }
    }
    if !d.root.starts_with('/') {
        cx.err(
            e,
            "/spec/delivery/root",
            "invalid-value",
            format!("`{}` is not an absolute path", d.root),
            "write the directory environments live under on the host, e.g. `/opt/odooops`",
        );
    }
    let ports = [
        ("odooPort", d.odoo_port),
        ("proxy/httpPort", d.proxy.http_port),
        ("proxy/httpsPort", d.proxy.https_port),
        ("proxy/adminPort", d.proxy.admin_port),
    ];
    for (field, port) in ports {
        if port == 0 || (field == "odooPort" && port > u16::MAX - 103) {
            cx.err(
                e,
                &format!("/spec/delivery/{field}"),
                "invalid-value",
                format!("port {port} cannot be used"),
                "slot b uses odooPort+100 and its websocket +103: pick a port below 65433",
            );
        }
    }
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
