//! Rendered runtime config, pure and golden-tested: `odoo.conf` and the droplet's cloud-init.
//!
//! Secrets never appear in either. Values written `${NAME}` are references: the container
//! entrypoint written by [`cloud_init`] replaces each `${NAME}` with the container's environment
//! variable of that name at boot (a regular expression over `${[A-Z0-9_]+}` only, so a literal
//! `$` in, say, a `dbfilter` stays as written). The variables come from `/etc/odooops/odoo.env`
//! (mode 0600), written by the deploy step from the secret registry — never from the SSOT.

use crate::ssot::{
    ConnectionMode, DatabaseProvider, Environment, MailMode, Project, SmtpEncryption, Stage,
};
use std::fmt::Write;

/// Odoo's defaults (`odoo/tools/config.py`), used where the SSOT is silent.
pub mod defaults {
    pub const MAX_CRON_THREADS: u32 = 2;
    pub const LIMIT_MEMORY_SOFT_MIB: u64 = 2048;
    pub const LIMIT_MEMORY_HARD_MIB: u64 = 2560;
    pub const LIMIT_TIME_CPU: u32 = 60;
    pub const LIMIT_TIME_REAL: u32 = 120;
    pub const LIMIT_TIME_REAL_CRON: i32 = -1;
    pub const LIMIT_REQUEST: u32 = 65536;
    pub const DB_MAXCONN: u32 = 64;
    pub const DATA_DIR: &str = "/var/lib/odoo";
    /// Where the repository's addons are mounted in the container.
    pub const ADDONS_MOUNT: &str = "/mnt/extra-addons";
    /// Core addons inside the official image.
    pub const CORE_ADDONS: &str = "/usr/lib/python3/dist-packages/odoo/addons";
    /// The mail catcher (Mailpit) of non-production hosts.
    pub const CATCHER_SMTP_HOST: &str = "127.0.0.1";
    pub const CATCHER_SMTP_PORT: u16 = 1025;
    pub const CATCHER_WEB_PORT: u16 = 8025;
    pub const CATCHER_IMAGE: &str = "axllent/mailpit:v1.21";
}

/// Container environment variables the rendered config references.
pub mod vars {
    pub const DB_PASSWORD: &str = "ODOO_DB_PASSWORD";
    pub const DB_HOST: &str = "ODOO_DB_HOST";
    pub const DB_PORT: &str = "ODOO_DB_PORT";
    pub const ADMIN_PASSWORD: &str = "ODOO_ADMIN_PASSWORD";
    pub const SMTP_USER: &str = "SMTP_USER";
    pub const SMTP_PASSWORD: &str = "SMTP_PASSWORD";
}

/// vCPUs of a DigitalOcean size slug (`s-2vcpu-4gb` → 2, `g-8vcpu-32gb` → 8, `c-4` → 4).
pub fn vcpus_from_slug(slug: &str) -> Option<u32> {
    let parts: Vec<&str> = slug.split('-').collect();
    if let Some(n) = parts
        .iter()
        .find_map(|p| p.strip_suffix("vcpu").and_then(|n| n.parse::<u32>().ok()))
    {
        return Some(n).filter(|n| *n > 0);
    }
    // Older CPU-optimized slugs: `c-4`, `c2-8`.
    match parts.as_slice() {
        [family, n] if family.starts_with('c') => n.parse().ok().filter(|n| *n > 0),
        _ => None,
    }
}

/// Worker count and the reason, for the comment in odoo.conf.
pub fn workers(env: &Environment) -> (u32, String) {
    let spec = &env.spec;
    let (mut n, mut why) = match (spec.odoo.workers, spec.stage) {
        (Some(w), _) => (w, "set in the SSOT".to_string()),
        (None, Stage::Production) => match vcpus_from_slug(&spec.host.size) {
            Some(v) => (
                v * 2 + 1,
                format!("{} vCPUs × 2 + 1, from size {}", v, spec.host.size),
            ),
            None => (
                3,
                format!(
                    "size {} not understood; 1 vCPU × 2 + 1 assumed",
                    spec.host.size
                ),
            ),
        },
        (None, _) => (1, "staging and development run a single worker".to_string()),
    };
    if let Some(max) = spec.limits.max_workers {
        if n > max {
            n = max;
            why = format!("capped by limits.maxWorkers {max}");
        }
    }
    (n, why)
}

fn kv(s: &mut String, k: &str, v: &dyn std::fmt::Display) {
    let _ = writeln!(s, "{k} = {v}");
}

fn py_bool(b: bool) -> &'static str {
    if b {
        "True"
    } else {
        "False"
    }
}

fn reference(name: &str) -> String {
    format!("${{{name}}}")
}

/// The container image: the project's override, else the official `odoo:<series>`.
pub fn image(project: &Project) -> String {
    project
        .spec
        .odoo
        .image
        .clone()
        .unwrap_or_else(|| format!("odoo:{}", project.spec.odoo.series.as_str()))
}

/// Does this environment capture mail instead of sending it? Non-production always does.
pub fn captures_mail(env: &Environment) -> bool {
    env.spec.stage != Stage::Production || env.spec.mail.mode == MailMode::Catcher
}

/// The `[options]` odoo.conf of an environment.
pub fn odoo_conf(project: &Project, env: &Environment) -> String {
    let spec = &env.spec;
    let o = &spec.odoo;
    let series = project.spec.odoo.series.as_str();
    let mut s = String::new();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "; odoo.conf of Environment/{} (project {}, Odoo {}, stage {}), rendered by odooops.",
        env.metadata.name,
        project.metadata.name,
        series,
        spec.stage.as_str()
    );
    out.push_str(
        "; Do not edit on the host: change the SSOT and re-render.\n\
         ; ${NAME} values are references, not secrets: the container entrypoint substitutes\n\
         ; them from its environment (/etc/odooops/odoo.env) at boot.\n\
         [options]\n",
    );

    // Paths.
    let mut addons: Vec<String> = project
        .spec
        .repository
        .addons_paths
        .iter()
        .map(|p| format!("{}/{}", defaults::ADDONS_MOUNT, p.trim_matches('/')))
        .collect();
    if addons.is_empty() {
        addons.push(defaults::ADDONS_MOUNT.to_string());
    }
    addons.push(defaults::CORE_ADDONS.to_string());
    kv(&mut s, "addons_path", &addons.join(","));
    kv(
        &mut s,
        "data_dir",
        &o.data_dir.as_deref().unwrap_or(defaults::DATA_DIR),
    );
    if spec.secrets.iter().any(|k| k == vars::ADMIN_PASSWORD) {
        kv(&mut s, "admin_passwd", &reference(vars::ADMIN_PASSWORD));
    }

    // Database.
    let db = &spec.database;
    let (host, port, sslmode) = match (db.provider, db.connection_mode) {
        (DatabaseProvider::Supabase, mode) => (
            format!(
                "db.{}.supabase.co",
                db.project_ref.as_deref().unwrap_or("PROJECT_REF")
            ),
            if mode == ConnectionMode::Transaction {
                "6543".to_string()
            } else {
                "5432".to_string()
            },
            "require",
        ),
        (DatabaseProvider::Digitalocean, _) => {
            (reference(vars::DB_HOST), "25060".to_string(), "require")
        }
        (DatabaseProvider::Postgres, _) => {
            (reference(vars::DB_HOST), reference(vars::DB_PORT), "prefer")
        }
    };
    if db.provider == DatabaseProvider::Supabase {
        let _ = writeln!(
            s,
            "; Supabase direct host (LISTEN/NOTIFY and prepared statements work; never the\n\
             ; transaction pooler). The IPv4 session pooler needs the project's region."
        );
    }
    kv(&mut s, "db_host", &host);
    kv(&mut s, "db_port", &port);
    kv(&mut s, "db_name", &db.name);
    kv(&mut s, "db_user", &db.user.as_deref().unwrap_or("odoo"));
    kv(&mut s, "db_password", &reference(vars::DB_PASSWORD));
    kv(&mut s, "db_sslmode", &sslmode);
    kv(
        &mut s,
        "db_maxconn",
        &o.db_maxconn.unwrap_or(defaults::DB_MAXCONN),
    );
    kv(&mut s, "list_db", &py_bool(o.list_db.unwrap_or(false)));
    let dbfilter = o
        .dbfilter
        .clone()
        .unwrap_or_else(|| format!("^{}$", db.name));
    kv(&mut s, "dbfilter", &dbfilter);

    // HTTP.
    kv(
        &mut s,
        "proxy_mode",
        &py_bool(o.proxy_mode.unwrap_or(false)),
    );
    kv(&mut s, "http_port", &8069);
    kv(&mut s, "gevent_port", &8072);

    // Workers and limits.
    let (w, why) = workers(env);
    let _ = writeln!(s, "; workers: {why}");
    kv(&mut s, "workers", &w);
    kv(
        &mut s,
        "max_cron_threads",
        &o.max_cron_threads.unwrap_or(defaults::MAX_CRON_THREADS),
    );
    let mib = 1024 * 1024;
    kv(
        &mut s,
        "limit_memory_soft",
        &(o.limit_memory_soft_mib
            .unwrap_or(defaults::LIMIT_MEMORY_SOFT_MIB)
            * mib),
    );
    kv(
        &mut s,
        "limit_memory_hard",
        &(o.limit_memory_hard_mib
            .unwrap_or(defaults::LIMIT_MEMORY_HARD_MIB)
            * mib),
    );
    kv(
        &mut s,
        "limit_time_cpu",
        &o.limit_time_cpu.unwrap_or(defaults::LIMIT_TIME_CPU),
    );
    kv(
        &mut s,
        "limit_time_real",
        &o.limit_time_real.unwrap_or(defaults::LIMIT_TIME_REAL),
    );
    kv(
        &mut s,
        "limit_time_real_cron",
        &o.limit_time_real_cron
            .unwrap_or(defaults::LIMIT_TIME_REAL_CRON),
    );
    kv(
        &mut s,
        "limit_request",
        &o.limit_request.unwrap_or(defaults::LIMIT_REQUEST),
    );

    // Mail.
    let mail = &spec.mail;
    if captures_mail(env) {
        let _ = writeln!(
            s,
            "; mail is captured by the Mailpit catcher (web UI on the host: 127.0.0.1:{})",
            defaults::CATCHER_WEB_PORT
        );
        kv(&mut s, "smtp_server", &defaults::CATCHER_SMTP_HOST);
        kv(&mut s, "smtp_port", &defaults::CATCHER_SMTP_PORT);
        kv(&mut s, "smtp_ssl", &"False");
    } else {
        let enc = mail.encryption.unwrap_or(match mail.port {
            Some(465) => SmtpEncryption::Ssl,
            _ => SmtpEncryption::Starttls,
        });
        let port = mail.port.unwrap_or(match enc {
            SmtpEncryption::Ssl => 465,
            _ => 587,
        });
        match enc {
            SmtpEncryption::Ssl => {
                let _ = writeln!(
                    s,
                    "; 465 is implicit TLS; odoo.conf's smtp_ssl negotiates STARTTLS, so 465 also\n\
                     ; needs an ir.mail_server with encryption SSL/TLS (or prefer 587)"
                );
            }
            SmtpEncryption::Starttls => {
                let _ = writeln!(s, "; STARTTLS on {port}");
            }
            SmtpEncryption::None => {
                let _ = writeln!(s, "; unencrypted SMTP");
            }
        }
        kv(
            &mut s,
            "smtp_server",
            &mail.host.as_deref().unwrap_or("localhost"),
        );
        kv(&mut s, "smtp_port", &port);
        kv(&mut s, "smtp_ssl", &py_bool(enc != SmtpEncryption::None));
        if mail.user_secret.is_some() {
            kv(&mut s, "smtp_user", &reference(vars::SMTP_USER));
        }
        if mail.password_secret.is_some() {
            kv(&mut s, "smtp_password", &reference(vars::SMTP_PASSWORD));
        }
        if let Some(from) = &mail.from {
            kv(&mut s, "email_from", from);
        }
    }
    out.push_str(&s);
    out
}

/// The container environment file's variables and which registry key feeds each.
pub fn env_file_sources(env: &Environment) -> Vec<(&'static str, String)> {
    let spec = &env.spec;
    let mut v = Vec::new();
    if let Some(k) = &spec.database.password_secret {
        v.push((vars::DB_PASSWORD, k.clone()));
    }
    if let Some(k) = &spec.database.url_secret {
        v.push((vars::DB_HOST, format!("{k} (host part)")));
        v.push((vars::DB_PORT, format!("{k} (port part)")));
    }
    if spec.secrets.iter().any(|k| k == vars::ADMIN_PASSWORD) {
        v.push((vars::ADMIN_PASSWORD, vars::ADMIN_PASSWORD.to_string()));
    }
    if !captures_mail(env) {
        if let Some(k) = &spec.mail.user_secret {
            v.push((vars::SMTP_USER, k.clone()));
        }
        if let Some(k) = &spec.mail.password_secret {
            v.push((vars::SMTP_PASSWORD, k.clone()));
        }
    }
    v
}

fn indent(text: &str, by: usize) -> String {
    let pad = " ".repeat(by);
    text.lines()
        .map(|l| {
            if l.is_empty() {
                String::new()
            } else {
                format!("{pad}{l}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

const ENTRYPOINT: &str = r#"#!/bin/sh
# Render odoo.conf from its template: every ${NAME} (capitals, digits, _) is replaced by the
# container's environment variable NAME (from /etc/odooops/odoo.env); anything else, a `$` in
# a dbfilter included, stays as written. Then hand over to the official image's entrypoint.
set -eu
python3 - <<'PY'
import os, re
src = open("/etc/odooops/odoo.conf.tmpl").read()
out = re.sub(r"\$\{([A-Z0-9_]+)\}", lambda m: os.environ.get(m.group(1), m.group(0)), src)
fd = os.open("/tmp/odoo.conf", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
os.write(fd, out.encode())
os.close(fd)
PY
exec /entrypoint.sh odoo
"#;

const EGRESS: &str = r#"#!/bin/sh
# Odoo.sh parity: outbound SMTP on port 25 is closed (mail leaves on 465 or 587).
# OUTPUT covers host-network containers, DOCKER-USER bridged ones; idempotent (-C first).
set -u
for ipt in iptables ip6tables; do
  for chain in OUTPUT DOCKER-USER; do
    $ipt -n -L "$chain" >/dev/null 2>&1 || continue
    $ipt -C "$chain" -p tcp --dport 25 -j REJECT 2>/dev/null ||
      $ipt -I "$chain" -p tcp --dport 25 -j REJECT
  done
done
"#;

const EGRESS_UNIT: &str = "[Unit]
Description=OdooOps egress policy (outbound port 25 closed)
After=docker.service
Wants=docker.service

[Service]
Type=oneshot
ExecStart=/opt/odooops/egress.sh
RemainAfterExit=yes

[Install]
WantedBy=multi-user.target
";

/// `#cloud-config` user data for the environment's droplet.
pub fn cloud_init(project: &Project, env: &Environment) -> String {
    // Odoo delivered from source by releases: the bootstrap they build on.
    if let Some(d) = &env.spec.delivery {
        return super::bootstrap::cloud_init(project, env, d, EGRESS);
    }
    let spec = &env.spec;
    let series = project.spec.odoo.series.as_str();
    let img = image(project);
    let mut y = String::new();
    let _ = writeln!(y, "#cloud-config");
    let _ = writeln!(
        y,
        "# Environment/{} — project {}, Odoo {} ({img}), stage {}. Rendered by odooops.",
        env.metadata.name,
        project.metadata.name,
        series,
        spec.stage.as_str()
    );
    y.push_str(
        "# No secret is in this file. The deploy step writes /etc/odooops/odoo.env (0600) from\n\
         # the secret registry, then restarts the odoo container:\n",
    );
    for (var, key) in env_file_sources(env) {
        let _ = writeln!(y, "#   {var} <- {key}");
    }
    y.push_str("package_update: true\npackages:\n  - docker.io\n  - iptables\n");
    y.push_str("write_files:\n");
    let file = |y: &mut String, path: &str, perm: &str, content: &str| {
        let _ = writeln!(
            y,
            "  - path: {path}\n    permissions: '{perm}'\n    content: |"
        );
        y.push_str(&indent(content, 6));
        y.push('\n');
    };
    file(
        &mut y,
        "/etc/odooops/odoo.conf.tmpl",
        "0644",
        &odoo_conf(project, env),
    );
    file(&mut y, "/opt/odooops/entrypoint.sh", "0755", ENTRYPOINT);
    file(&mut y, "/opt/odooops/egress.sh", "0755", EGRESS);
    file(
        &mut y,
        "/etc/systemd/system/odooops-egress.service",
        "0644",
        EGRESS_UNIT,
    );
    y.push_str("runcmd:\n");
    y.push_str("  - [systemctl, enable, --now, docker]\n");
    y.push_str("  - [systemctl, daemon-reload]\n");
    y.push_str("  - [systemctl, enable, --now, odooops-egress.service]\n");
    y.push_str(
        "  - [sh, -c, 'test -f /etc/odooops/odoo.env || install -m 0600 /dev/null /etc/odooops/odoo.env']\n",
    );
    y.push_str("  - [mkdir, -p, /opt/odooops/addons]\n");
    y.push_str("  - [docker, volume, create, odoo-data]\n");
    if captures_mail(env) {
        let _ = writeln!(
            y,
            "  - [docker, run, -d, --name, mailcatcher, --restart, unless-stopped, -p, '127.0.0.1:{smtp}:1025', -p, '127.0.0.1:{web}:8025', '{img}']",
            smtp = defaults::CATCHER_SMTP_PORT,
            web = defaults::CATCHER_WEB_PORT,
            img = defaults::CATCHER_IMAGE
        );
    }
    let _ = writeln!(
        y,
        "  - [docker, run, -d, --name, odoo, --restart, unless-stopped, --network, host, \
         -e, ODOO_STAGE={stage}, -e, ODOO_VERSION={series}, -e, ODOO_RC=/tmp/odoo.conf, \
         --env-file, /etc/odooops/odoo.env, \
         -v, '/etc/odooops/odoo.conf.tmpl:/etc/odooops/odoo.conf.tmpl:ro', \
         -v, '/opt/odooops/entrypoint.sh:/opt/odooops/entrypoint.sh:ro', \
         -v, '/opt/odooops/addons:{mount}:ro', -v, 'odoo-data:{data}', \
         --entrypoint, /opt/odooops/entrypoint.sh, '{img}']",
        stage = spec.stage.odoo_stage(),
        mount = defaults::ADDONS_MOUNT,
        data = spec.odoo.data_dir.as_deref().unwrap_or(defaults::DATA_DIR),
    );
    y
}

#[cfg(test)]
#[path = "render_tests.rs"]
mod tests;
