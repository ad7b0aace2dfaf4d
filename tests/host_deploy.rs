//! A deploy as a transaction, on a real host: a real OpenSSH server on loopback, a real Odoo
//! 17 (its source installed from `../shared/odoo/17.0`), real PostgreSQL, real Caddy with
//! its internal CA. Release A initializes the database with a custom addon and serves over
//! HTTPS; release B (code only) replaces it under a steady 20 requests a second with no
//! failed request; release C's update raises: the deploy fails, B serves again and the
//! database is back as it was before the update.

mod support;

use futures::future::BoxFuture;
use odooops::host::deploy::{self, Deploy, Journal, Safeguard};
use odooops::host::{Layout, ProxySpec, Slot, SshTarget, Supervisor, Transport};
use odooops::provider::SecretValue;
use odooops::ssot::{self, Environment, Limits, Project, Ssot};
use odooops::store::ReleaseStep;
use std::path::{Path, PathBuf};

use std::sync::Mutex;
use std::time::Duration;
use support::real_odoo::{drop_database, RealOdoo};
use support::sshd::Sshd;

const MANIFEST: &str = r#"{
    "name": "OdooOps demo",
    "version": "17.0.VERSION",
    "depends": ["base"],
    "data": DATA,
    "license": "LGPL-3",
    "installable": True,
}
"#;

const MODELS: &str = r#"from odoo import fields, models


class OdooopsDemo(models.Model):
    _name = "odooops.demo"
    _description = "OdooOps demo"

    name = fields.Char()
"#;

/// The code of a commit: the `odooops_demo` addon at `version`, with `data` files.
fn code(dir: &Path, version: &str, comment: &str, data: &[(&str, &str)]) {
    let addon = dir.join("addons/odooops_demo");
    std::fs::create_dir_all(&addon).expect("mkdir");
    let files: Vec<String> = data.iter().map(|(n, _)| format!("\"{n}\"")).collect();
    std::fs::write(
        addon.join("__manifest__.py"),
        MANIFEST
            .replace("VERSION", version)
            .replace("DATA", &format!("[{}]", files.join(", "))),
    )
    .expect("manifest");
    std::fs::write(addon.join("__init__.py"), "from . import models\n").expect("init");
    std::fs::write(addon.join("models.py"), format!("# {comment}\n{MODELS}")).expect("models");
    for (name, text) in data {
        std::fs::write(addon.join(name), text).expect("data file");
    }
}

fn ssot(db: &str) -> (tempfile::TempDir, Ssot) {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart");
    for f in std::fs::read_dir(&src).expect("quickstart").flatten() {
        let mut text = std::fs::read_to_string(f.path()).expect("read");
        if f.file_name() == "environments.yaml" {
            text = text.replace(
                "    provider: digitalocean\n    name: quickstart_staging\n    cluster: quickstart-pg\n    user: odoo_staging\n    passwordSecret: ODOO_DB_PASSWORD\n",
                &format!("    provider: postgres\n    name: {db}\n    user: odoo\n    urlSecret: ODOO_DB_URL\n"),
            );
        }
        if f.file_name() == "project.yaml" {
            text.push_str(
                "    - name: ODOO_DB_URL\n      source: env\n      requiredBy: [staging]\n",
            );
        }
        std::fs::write(dir.path().join(f.file_name()), text).expect("write");
    }
    let report = ssot::load(dir.path(), &Limits::default());
    assert!(report.is_valid(), "{:#?}", report.diagnostics);
    let s = report.into_ssot().expect("valid");
    (dir, s)
}

#[derive(Default)]
struct Steps(Mutex<Vec<ReleaseStep>>);

impl Journal for Steps {
    fn step<'a>(&'a self, step: ReleaseStep) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            if let Ok(mut v) = self.0.lock() {
                v.push(step);
            }
        })
    }
}

/// pg_dump to a file; restore = drop, create, pg_restore (Odoo is stopped by then).
struct Dumps {
    admin: String,
    db: String,
    dir: PathBuf,
}

impl Safeguard for Dumps {
    fn backup<'a>(&'a self) -> BoxFuture<'a, Result<String, String>> {
        Box::pin(async move {
            let id = format!("dump-{}", uuid::Uuid::new_v4().simple());
            let path = self.dir.join(&id);
            let url = support::odoo_fixture::with_database(&self.admin, &self.db);
            let ok = tokio::process::Command::new("pg_dump")
                .args(["-Fc", "-f"])
                .arg(&path)
                .arg(&url)
                .status()
                .await
                .map_err(|e| e.to_string())?
                .success();
            ok.then_some(id).ok_or_else(|| "pg_dump failed".to_string())
        })
    }
    fn restore<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let created = tokio::process::Command::new("psql")
                .arg(&self.admin)
                .args(["-v", "ON_ERROR_STOP=1"])
                .arg("-c")
                .arg(format!(
                    "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                    self.db
                ))
                .arg("-c")
                .arg(format!("CREATE DATABASE \"{}\" OWNER odoo", self.db))
                .status()
                .await
                .map_err(|e| e.to_string())?
                .success();
            if !created {
                return Err("CREATE DATABASE failed".into());
            }
            let url = support::odoo_fixture::with_database(&self.admin, &self.db);
            let ok = tokio::process::Command::new("pg_restore")
                .args(["--no-owner", "--role=odoo", "-d"])
                .arg(&url)
                .arg(self.dir.join(id))
                .status()
                .await
                .map_err(|e| e.to_string())?
                .success();
            ok.then_some(())
                .ok_or_else(|| "pg_restore failed".to_string())
        })
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port()
}

struct Case<'a> {
    project: &'a Project,
    env: &'a Environment,
    transport: &'a Transport,
    layout: Layout,
    proxy: ProxySpec,
    odoo: &'a RealOdoo,
    requirements: Vec<u8>,
    secrets: Vec<(String, SecretValue)>,
}

impl Case<'_> {
    fn deploy<'b>(
        &'b self,
        id: &'b str,
        commit: &'b str,
        code_dir: &'b Path,
        initialize: bool,
        install: Vec<String>,
        update: Vec<String>,
    ) -> Deploy<'b> {
        Deploy {
            project: self.project,
            env: self.env,
            transport: self.transport,
            layout: self.layout.clone(),
            supervisor: Supervisor::Pidfile,
            proxy: Some(self.proxy.clone()),
            release_id: id.to_string(),
            commit,
            code_dir,
            odoo_revision: "17.0-shared",
            odoo_dir: &self.odoo.source.path,
            requirements: self.requirements.clone(),
            python: "python3",
            secrets: self.secrets.clone(),
            initialize,
            install,
            update,
            demo: false,
            update_timeout: Duration::from_secs(600),
            venv_timeout: Duration::from_secs(900),
            health_timeout: Duration::from_secs(180),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deploy_is_a_transaction_on_a_real_host() {
    let Some(odoo) = RealOdoo::discover("host_deploy").await else {
        return;
    };
    let Some(sshd) = Sshd::start("host_deploy") else {
        return;
    };
    let db = format!(
        "odooops_deploy_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    let (_tree, s) = ssot(&db);
    let project = s.project("quickstart").expect("project");
    let env = s.environment("staging").expect("staging");
    let transport = Transport::Ssh(Box::new(
        SshTarget::new(
            "127.0.0.1",
            sshd.port,
            &sshd.user,
            &sshd.host_key,
            &SecretValue::new(sshd.client_key.clone()),
        )
        .expect("ssh"),
    ));
    let host_root = tempfile::tempdir().expect("host root");
    let layout = Layout::new(&host_root.path().display().to_string(), free_port());
    // The virtualenv for these requirements exists already (the tests' Odoo runs in it):
    // the host reuses it as it would reuse its own from an earlier release.
    let requirements = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/odoo/requirements-17.0.txt"),
    )
    .unwrap_or_else(|_| b"# requirements of the source\n".to_vec());
    let venv = layout.venv(&odooops::host::prepare::digest(&requirements));
    let venv_root = odoo
        .python
        .parent()
        .and_then(Path::parent)
        .expect("venv root");
    std::fs::create_dir_all(Path::new(&venv).parent().expect("parent")).expect("mkdir");
    std::os::unix::fs::symlink(venv_root, &venv).expect("link venv");
    std::fs::write(venv_root.join(".odooops-complete"), "").expect("marker");
    let proxy = ProxySpec {
        site: format!("https://127.0.0.1:{}", free_port()),
        http_port: free_port(),
        https_port: 0,
        admin_port: free_port(),
        internal_tls: true,
    };
    let proxy = ProxySpec {
        https_port: proxy
            .site
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("port"),
        ..proxy
    };
    let case = Case {
        project,
        env,
        transport: &transport,
        layout: layout.clone(),
        proxy: proxy.clone(),
        odoo: &odoo,
        requirements,
        secrets: vec![
            (
                "ODOO_DB_HOST".into(),
                SecretValue::new(odoo.db_host.clone()),
            ),
            (
                "ODOO_DB_PORT".into(),
                SecretValue::new(odoo.db_port.to_string()),
            ),
            ("ODOO_DB_PASSWORD".into(), SecretValue::new(String::new())),
        ],
    };
    let work = tempfile::tempdir().expect("work");
    let dumps = Dumps {
        admin: odoo.admin_url.clone(),
        db: db.clone(),
        dir: work.path().to_path_buf(),
    };
    let pool = || async {
        sqlx::PgPool::connect(&support::odoo_fixture::with_database(&odoo.admin_url, &db))
            .await
            .expect("pool")
    };

    // Release A: the database initialized with the addon; Odoo serves over HTTPS.
    let a_dir = work.path().join("a");
    code(&a_dir, "1.0.0", "release A", &[]);
    let steps = Steps::default();
    let a = deploy::deploy(
        &case.deploy(
            "release-a",
            "aaaaaaaa",
            &a_dir,
            true,
            vec!["odooops_demo".into()],
            vec![],
        ),
        &steps,
        &dumps,
    )
    .await
    .unwrap_or_else(|e| panic!("release A: {e}"));
    assert_eq!(a.slot, Slot::A);
    let client = support::delivery::https_client(Path::new(&layout.root));
    let login = format!("{}/web/login", proxy.site);
    let r = client.get(&login).send().await.expect("https");
    assert_eq!(r.status(), 200);
    let p = pool().await;
    let state: String =
        sqlx::query_scalar("SELECT state FROM ir_module_module WHERE name = 'odooops_demo'")
            .fetch_one(&p)
            .await
            .expect("module");
    assert_eq!(state, "installed");

    // Release B, code only, under a steady 20 requests a second: no failed request.
    let b_dir = work.path().join("b");
    code(&b_dir, "1.0.0", "release B", &[]);
    let wall0 = chrono::Utc::now();
    let load = support::delivery::Load::start(&client, &login);
    let b = deploy::deploy(
        &case.deploy("release-b", "bbbbbbbb", &b_dir, false, vec![], vec![]),
        &steps,
        &dumps,
    )
    .await
    .unwrap_or_else(|e| panic!("release B: {e}"));
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (sent, failures) = load.stop(Duration::from_secs(2)).await;
    assert_eq!(b.slot, Slot::B);
    assert!(sent >= 40, "load was applied");
    if !failures.is_empty() {
        for f in &failures {
            eprintln!(
                "load: sent at {} ms, failed {}: {}",
                f.sent_after.as_millis(),
                f.at.format("%H:%M:%S%.3f"),
                f.why
            );
        }
        let tail = |f: &str| {
            let text = std::fs::read_to_string(Path::new(&layout.root).join(f)).unwrap_or_default();
            // Odoo's own log lines (timestamped), not the tracebacks between them.
            let lines: Vec<&str> = text
                .lines()
                .filter(|l| l.starts_with("20") || !l.starts_with(' '))
                .filter(|l| !l.contains("GET /web/login HTTP/1.1\" 200"))
                .collect();
            lines[lines.len().saturating_sub(40)..].join("\n")
        };
        let journal: Vec<String> = steps
            .0
            .lock()
            .map(|v| {
                v.iter()
                    .map(|s| {
                        format!(
                            "at {} ms: {} {} {}ms {}",
                            (s.started_at - wall0).num_milliseconds(),
                            s.name,
                            s.outcome,
                            s.duration_ms,
                            s.detail
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        eprintln!(
            "steps:\n{}\n--- odoo-a.log\n{}\n--- odoo-b.log\n{}\n--- Caddyfile\n{}\n--- proxy.log\n{}",
            journal.join("\n"),
            tail("logs/odoo-a.log"),
            tail("logs/odoo-b.log"),
            tail("proxy/Caddyfile"),
            std::fs::read_to_string(Path::new(&layout.root).join("logs/proxy.log"))
                .unwrap_or_default()
                .lines()
                .filter(|l| l.contains("\"error\""))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    assert_eq!(
        failures.len(),
        0,
        "no failed request during a code-only deploy"
    );

    // Release C: the addon's update raises (a data file naming a model that does not exist).
    let before_version: String = sqlx::query_scalar(
        "SELECT latest_version FROM ir_module_module WHERE name = 'odooops_demo'",
    )
    .fetch_one(&p)
    .await
    .expect("version");
    let before_rows: i64 = sqlx::query_scalar("SELECT count(*) FROM ir_model_data")
        .fetch_one(&p)
        .await
        .expect("rows");
    p.close().await;
    let c_dir = work.path().join("c");
    code(
        &c_dir,
        "1.1.0",
        "release C",
        &[(
            "broken.xml",
            "<odoo><record id=\"x\" model=\"odooops.does_not_exist\"><field name=\"name\">x</field></record></odoo>",
        )],
    );
    let failure = deploy::deploy(
        &case.deploy(
            "release-c",
            "cccccccc",
            &c_dir,
            false,
            vec![],
            vec!["odooops_demo".into()],
        ),
        &steps,
        &dumps,
    )
    .await
    .expect_err("the update raises");
    assert_eq!(failure.step, "update", "{failure}");
    assert!(failure.rolled_back, "{failure}");
    assert!(failure.restored.is_some(), "{failure}");
    let log = String::from_utf8_lossy(failure.log.as_deref().unwrap_or_default()).to_string();
    assert!(
        log.contains("odooops.does_not_exist"),
        "the update log says why: {log}"
    );
    // B serves again, the database is as before the update.
    let r = client.get(&login).send().await.expect("https");
    assert_eq!(r.status(), 200);
    let p = pool().await;
    let after_version: String = sqlx::query_scalar(
        "SELECT latest_version FROM ir_module_module WHERE name = 'odooops_demo'",
    )
    .fetch_one(&p)
    .await
    .expect("version");
    let after_rows: i64 = sqlx::query_scalar("SELECT count(*) FROM ir_model_data")
        .fetch_one(&p)
        .await
        .expect("rows");
    assert_eq!((after_version, after_rows), (before_version, before_rows));
    p.close().await;
    let names: Vec<String> = steps
        .0
        .lock()
        .expect("steps")
        .iter()
        .map(|s| format!("{}:{}", s.name, s.outcome))
        .collect();
    assert!(names.contains(&"update:failed".to_string()), "{names:?}");
    assert!(
        names.contains(&"rollback: restore the database:ok".to_string()),
        "{names:?}"
    );

    // Tear down: Odoo and the proxy stop, the database goes.
    for slot in [Slot::A, Slot::B] {
        let _ = odooops::host::service::stop(
            &transport,
            &layout,
            slot,
            Supervisor::Pidfile,
            Duration::from_secs(10),
        )
        .await;
    }
    let _ = odooops::host::proxy::stop(&transport, &proxy).await;
    drop_database(&odoo.admin_url, &db).await;
}
