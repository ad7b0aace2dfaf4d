//! An environment's host as a deploy reaches it (transport, layout, supervisor, proxy), and
//! the secret values its Odoo is given — by name, from the registry, never stored.

use crate::host::{Layout, ProxySpec, SshTarget, Supervisor, Transport};
use crate::odoo::render::{self, vars};
use crate::provider::{SecretSource, SecretValue};
use crate::ssot::{
    DatabaseProvider, Delivery, Environment, Project, SupervisorKind, TlsMode, TransportKind,
};
use reqwest::Url;
use std::collections::BTreeMap;

/// Where and how one environment's release runs.
#[derive(Debug)]
pub struct Target {
    pub transport: Transport,
    pub layout: Layout,
    pub supervisor: Supervisor,
    /// None: no proxy (Odoo on its slot's loopback port).
    pub proxy: Option<ProxySpec>,
    /// The host's address (for messages and the URL).
    pub address: String,
    pub python: String,
}

impl Target {
    /// The URL Odoo serves at: through the proxy, else the slot's own port.
    pub fn url(&self, slot: crate::host::Slot) -> String {
        let Some(p) = &self.proxy else {
            return format!("http://{}:{}", self.address, self.layout.http_port(slot));
        };
        if p.site.starts_with("https://") {
            p.site.clone()
        } else if p.https_port == 443 {
            format!("https://{}", p.site)
        } else {
            format!("https://{}:{}", p.site, p.https_port)
        }
    }

    /// Reach `env`'s host: its `delivery`, its droplet's address from `ips` unless
    /// `delivery.address` names one, its deploy key from the registry.
    pub fn of(
        project: &Project,
        env: &Environment,
        secrets: &dyn SecretSource,
        ips: &BTreeMap<String, String>,
    ) -> Result<Target, String> {
        let name = &env.metadata.name;
        let d: &Delivery = env
            .spec
            .delivery
            .as_ref()
            .ok_or_else(|| format!("Environment/{name} has no spec.delivery"))?;
        let droplet = crate::reconcile::desired::droplet_name(&project.metadata.name, name);
        let address = match (&d.address, d.transport) {
            (Some(a), _) => a.clone(),
            (None, TransportKind::Local) => "127.0.0.1".to_string(),
            (None, TransportKind::Ssh) => ips.get(&droplet).cloned().ok_or_else(|| {
                format!("droplet {droplet} has no public address yet (spec.delivery.address names none)")
            })?,
        };
        let transport = match d.transport {
            TransportKind::Local => Transport::Local,
            TransportKind::Ssh => {
                let key_name = d.ssh_key_secret.as_deref().ok_or_else(|| {
                    format!("Environment/{name}: spec.delivery.sshKeySecret is required over SSH")
                })?;
                let key = secrets.get(key_name).ok_or_else(|| {
                    format!("Environment/{name}: the deploy key `{key_name}` (spec.delivery.sshKeySecret) is not set in the controller's environment")
                })?;
                let host_key = d.host_key.as_deref().ok_or_else(|| {
                    format!("Environment/{name}: spec.delivery.hostKey is required over SSH (the host key is pinned, never trusted blindly)")
                })?;
                Transport::Ssh(Box::new(
                    SshTarget::new(&address, d.ssh_port, &d.user, host_key, &key)
                        .map_err(|e| e.to_string())?,
                ))
            }
        };
        let supervisor = match (d.supervisor, d.transport) {
            (Some(SupervisorKind::Systemd), _) => Supervisor::Systemd,
            (Some(SupervisorKind::Pidfile), _) => Supervisor::Pidfile,
            (None, TransportKind::Ssh) => Supervisor::Systemd,
            (None, TransportKind::Local) => Supervisor::Pidfile,
        };
        let layout = Layout::new(
            &format!("{}/{name}", d.root.trim_end_matches('/')),
            d.odoo_port,
        );
        let (site, internal_tls) = match &env.spec.domain {
            Some(dom) => {
                let host = if dom.record == "@" {
                    dom.zone.clone()
                } else {
                    format!("{}.{}", dom.record, dom.zone)
                };
                (
                    with_port(&host, d.proxy.https_port),
                    d.proxy.tls == TlsMode::Internal,
                )
            }
            // No public name: Caddy's internal CA for the address.
            None => (format!("https://{}:{}", address, d.proxy.https_port), true),
        };
        Ok(Target {
            transport,
            layout,
            supervisor,
            proxy: d.proxy.enabled.then_some(ProxySpec {
                site,
                http_port: d.proxy.http_port,
                https_port: d.proxy.https_port,
                admin_port: d.proxy.admin_port,
                internal_tls,
            }),
            address,
            python: d.python.clone(),
        })
    }
}

/// What reaching `env`'s host needs that only its owner can give: over SSH, a pinned host
/// key and the deploy key's value. (The droplet's address may come with this apply.)
pub fn reachable(env: &Environment, secrets: &dyn SecretSource) -> Result<(), String> {
    let name = &env.metadata.name;
    let Some(d) = &env.spec.delivery else {
        return Err(format!("Environment/{name} has no spec.delivery"));
    };
    if d.transport == TransportKind::Local {
        return Ok(());
    }
    if d.host_key.is_none() {
        return Err(format!(
            "the host key of Environment/{name} is not pinned: add spec.delivery.hostKey (`ssh-keyscan -t ed25519 HOST` prints it); SSH never trusts on first use"
        ));
    }
    match &d.ssh_key_secret {
        None => Err(format!("Environment/{name}: spec.delivery.sshKeySecret is required over SSH")),
        Some(k) if secrets.get(k).is_none() => Err(format!(
            "Environment/{name}: the deploy key `{k}` (spec.delivery.sshKeySecret) is not set in the controller's environment"
        )),
        Some(_) => Ok(()),
    }
}

fn with_port(host: &str, port: u16) -> String {
    if port == 443 {
        host.to_string()
    } else {
        format!("https://{host}:{port}")
    }
}

/// The values of the `${NAME}` references in `env`'s odoo.conf, read from the registry:
/// the database's host, port and password (from `urlSecret`, the cluster's connection
/// host, `passwordSecret`), the admin password, the SMTP credentials. A missing value is an
/// error naming its key.
pub fn host_secrets(
    project: &Project,
    env: &Environment,
    secrets: &dyn SecretSource,
    cluster_hosts: &BTreeMap<String, (String, u16)>,
) -> Result<Vec<(String, SecretValue)>, String> {
    let _ = project;
    let name = &env.metadata.name;
    let spec = &env.spec;
    let db = &spec.database;
    let get = |key: &str, field: &str| {
        secrets.get(key).ok_or_else(|| {
            format!(
                "Environment/{name}: `{key}` ({field}) is not set in the controller's environment"
            )
        })
    };
    let mut out: Vec<(String, SecretValue)> = Vec::new();
    let mut password = match &db.password_secret {
        Some(k) => Some(get(k, "spec.database.passwordSecret")?),
        None => None,
    };
    match db.provider {
        DatabaseProvider::Postgres => {
            if let Some(k) = &db.url_secret {
                let url = get(k, "spec.database.urlSecret")?;
                let u = Url::parse(url.expose()).map_err(|_| {
                    format!("Environment/{name}: `{k}` (spec.database.urlSecret) is not a postgres:// URL")
                })?;
                out.push((
                    vars::DB_HOST.into(),
                    SecretValue::new(u.host_str().unwrap_or("127.0.0.1")),
                ));
                out.push((
                    vars::DB_PORT.into(),
                    SecretValue::new(u.port().unwrap_or(5432).to_string()),
                ));
                if password.is_none() {
                    password = Some(SecretValue::new(
                        u.password().map(percent_decode).unwrap_or_default(),
                    ));
                }
            }
        }
        DatabaseProvider::Digitalocean => {
            let cluster = db.cluster.as_deref().unwrap_or_default();
            let (host, _port) = cluster_hosts.get(cluster).ok_or_else(|| {
                format!("Environment/{name}: database cluster {cluster} is not online yet (no connection host)")
            })?;
            out.push((vars::DB_HOST.into(), SecretValue::new(host.clone())));
        }
        DatabaseProvider::Supabase => {}
    }
    out.push((
        vars::DB_PASSWORD.into(),
        password.unwrap_or_else(|| SecretValue::new("")),
    ));
    if spec.secrets.iter().any(|k| k == vars::ADMIN_PASSWORD) {
        out.push((
            vars::ADMIN_PASSWORD.into(),
            get(vars::ADMIN_PASSWORD, "spec.secrets")?,
        ));
    }
    if !render::captures_mail(env) {
        if let Some(k) = &spec.mail.user_secret {
            out.push((vars::SMTP_USER.into(), get(k, "spec.mail.userSecret")?));
        }
        if let Some(k) = &spec.mail.password_secret {
            out.push((
                vars::SMTP_PASSWORD.into(),
                get(k, "spec.mail.passwordSecret")?,
            ));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A PostgreSQL URL for the environment's database from its host secrets (the backup and
/// restore of a release use it; it never leaves this process).
pub fn database_url(env: &Environment, values: &[(String, SecretValue)]) -> Option<String> {
    let get = |k: &str| {
        values
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.expose().to_string())
    };
    let host = get(vars::DB_HOST)?;
    let port = get(vars::DB_PORT).unwrap_or_else(|| "25060".into());
    let user = env.spec.database.user.as_deref().unwrap_or("odoo");
    let mut u = Url::parse(&format!("postgres://{host}:{port}/")).ok()?;
    u.set_username(user).ok()?;
    if let Some(p) = get(vars::DB_PASSWORD).filter(|p| !p.is_empty()) {
        u.set_password(Some(&p)).ok()?;
    }
    u.set_path(&env.spec.database.name);
    Some(u.to_string())
}
