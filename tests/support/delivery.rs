//! An SSOT for the release tests: project `shop` (its code in a git repository, Odoo from
//! the tests' source) with `production` and `staging`, staging delivered over SSH to a test
//! host; and the demo addon's files at each commit.

use odooops::ssot::{self, Limits, Ssot};
use std::path::{Path, PathBuf};

pub const MODELS_A: &str = r#"from odoo import fields, models


class OdooopsDemo(models.Model):
    _name = "odooops.demo"
    _description = "OdooOps demo"

    name = fields.Char()
"#;

pub const MODELS_B: &str = r#"from odoo import fields, models


class OdooopsDemo(models.Model):
    _name = "odooops.demo"
    _description = "OdooOps demo"

    name = fields.Char()
    code = fields.Char()
"#;

/// A data file that makes the update raise: a record of a model that does not exist.
pub const BROKEN_DATA: &str = r#"<odoo>
    <record id="broken" model="odooops.no_such_model">
        <field name="name">boom</field>
    </record>
</odoo>
"#;

pub fn manifest(name: &str, version: &str, depends: &[&str], data: &[&str]) -> String {
    let deps: Vec<String> = depends.iter().map(|d| format!("\"{d}\"")).collect();
    let data: Vec<String> = data.iter().map(|d| format!("\"{d}\"")).collect();
    format!(
        "{{\n    \"name\": \"{name}\",\n    \"version\": \"{version}\",\n    \"depends\": [{}],\n    \"data\": [{}],\n    \"license\": \"LGPL-3\",\n    \"installable\": True,\n}}\n",
        deps.join(", "),
        data.join(", ")
    )
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port()
}

pub struct Tree {
    pub dir: tempfile::TempDir,
    pub repo_url: String,
    pub odoo_src: PathBuf,
    pub requirements: Option<PathBuf>,
    pub db: String,
    pub sshd_port: u16,
    pub user: String,
    pub host_key: String,
    pub root: PathBuf,
    pub odoo_port: u16,
    pub http_port: u16,
    pub https_port: u16,
    pub admin_port: u16,
}

impl Tree {
    /// The tree of a test host: `staging` delivered over SSH to `sshd` with its root in
    /// `root`, Odoo from the tests' source, the code from `repo_url`, database `db`, fresh
    /// loopback ports; the host's virtualenv for these requirements is the tests' own
    /// (linked, as a host reuses its own from an earlier release).
    pub fn for_staging(
        odoo: &super::real_odoo::RealOdoo,
        sshd: &super::sshd::Sshd,
        repo_url: &str,
        db: &str,
        root: &Path,
    ) -> Tree {
        let shared_req =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/odoo/requirements-17.0.txt");
        let requirements = (!odoo.source.path.join("requirements.txt").is_file())
            .then(|| shared_req.canonicalize().expect("the shared requirements"));
        let tree = Tree {
            dir: tempfile::tempdir().expect("ssot"),
            repo_url: repo_url.to_string(),
            odoo_src: odoo.source.path.clone(),
            requirements: requirements.clone(),
            db: db.to_string(),
            sshd_port: sshd.port,
            user: sshd.user.clone(),
            host_key: sshd.host_key.clone(),
            root: root.to_path_buf(),
            odoo_port: free_port(),
            http_port: free_port(),
            https_port: free_port(),
            admin_port: free_port(),
        };
        let req_bytes = std::fs::read(
            requirements.unwrap_or_else(|| odoo.source.path.join("requirements.txt")),
        )
        .expect("requirements");
        let layout =
            odooops::host::Layout::new(&root.join("staging").display().to_string(), tree.odoo_port);
        link_venv(&layout, &req_bytes, &odoo.python);
        tree
    }

    /// Write the SSOT with `modules` installed in `staging`, and load it.
    pub fn write(&self, modules: &[&str]) -> Ssot {
        let requirements = self
            .requirements
            .as_ref()
            .map(|p| format!("\n      requirements: {}", p.display()))
            .unwrap_or_default();
        let project = format!(
            r#"apiVersion: odooops.dev/v1alpha1
kind: Project
metadata:
  name: shop
spec:
  odoo:
    series: "17.0"
    source:
      path: {src}
      revision: 17.0-shared{requirements}
  repository:
    url: {url}
    productionBranch: main
    addonsPaths: [addons]
  providers:
    digitalocean:
      tokenSecret: DIGITALOCEAN_TOKEN
  defaultRegion: fra1
---
apiVersion: odooops.dev/v1alpha1
kind: SecretRegistry
metadata:
  name: shop-secrets
spec:
  keys:
    - name: DIGITALOCEAN_TOKEN
      source: env
      requiredBy: [controller]
    - name: ODOO_DB_URL
      source: env
      requiredBy: [production, staging]
    - name: DEPLOY_KEY
      source: env
      requiredBy: [staging]
    - name: ODOO_ADMIN_PASSWORD
      source: env
      requiredBy: [staging]
"#,
            src = self.odoo_src.display(),
            url = self.repo_url,
        );
        let mods: Vec<String> = modules.iter().map(|m| m.to_string()).collect();
        let env = format!(
            r#"apiVersion: odooops.dev/v1alpha1
kind: Environment
metadata:
  name: production
spec:
  project: shop
  stage: production
  branch: main
  maturity: beta
  host:
    size: s-1vcpu-2gb
  database:
    provider: postgres
    name: {db}_prod
    user: odoo
    urlSecret: ODOO_DB_URL
  mail:
    mode: smtp
    host: smtp.example.com
    port: 465
    encryption: ssl
---
apiVersion: odooops.dev/v1alpha1
kind: Environment
metadata:
  name: staging
spec:
  project: shop
  stage: staging
  branch: staging
  maturity: beta
  host:
    size: s-1vcpu-2gb
  database:
    provider: postgres
    name: {db}
    user: odoo
    urlSecret: ODOO_DB_URL
  mail:
    mode: catcher
  modules:
    install: [{mods}]
  secrets: [ODOO_ADMIN_PASSWORD]
  delivery:
    transport: ssh
    user: {user}
    sshKeySecret: DEPLOY_KEY
    hostKey: {host_key}
    sshPort: {ssh_port}
    address: 127.0.0.1
    root: {root}
    odooPort: {odoo_port}
    supervisor: pidfile
    proxy:
      httpPort: {http}
      httpsPort: {https}
      adminPort: {admin}
      tls: internal
"#,
            db = self.db,
            mods = mods.join(", "),
            user = self.user,
            host_key = self.host_key,
            ssh_port = self.sshd_port,
            root = self.root.display(),
            odoo_port = self.odoo_port,
            http = self.http_port,
            https = self.https_port,
            admin = self.admin_port,
        );
        std::fs::write(self.dir.path().join("project.yaml"), project).expect("project");
        std::fs::write(self.dir.path().join("environments.yaml"), env).expect("env");
        let report = ssot::load(self.dir.path(), &Limits::default());
        assert!(report.is_valid(), "{:#?}", report.diagnostics);
        report.into_ssot().expect("valid")
    }
}

/// Reuse the tests' Odoo virtualenv on the host for these requirements, as a host reuses its
/// own from an earlier release (building one takes minutes).
pub fn link_venv(layout: &odooops::host::Layout, requirements: &[u8], python: &Path) {
    let venv = layout.venv(&odooops::host::prepare::digest(requirements));
    let venv_root = python.parent().and_then(Path::parent).expect("venv root");
    std::fs::create_dir_all(Path::new(&venv).parent().expect("parent")).expect("mkdir");
    std::os::unix::fs::symlink(venv_root, &venv).expect("link venv");
    std::fs::write(venv_root.join(".odooops-complete"), "").expect("marker");
}

/// Stop what a test host runs under `root/<env>`: each slot's Odoo (its process group) and
/// Caddy — by `kill(2)` on the recorded ids, never a `kill` command line (procps-ng 4.0.2's
/// `kill -TERM -PID` signals every process).
pub fn stop_host(env_root: &Path) {
    let mut ids: Vec<i32> = Vec::new();
    for (file, group) in [
        ("run/a.pid", true),
        ("run/b.pid", true),
        ("run/update.pid", true),
        ("proxy/caddy.pid", false),
    ] {
        let Ok(text) = std::fs::read_to_string(env_root.join(file)) else {
            continue;
        };
        let Ok(pid) = text.trim().parse::<i32>() else {
            continue;
        };
        if pid > 1 {
            ids.push(if group { -pid } else { pid });
        }
    }
    for id in ids {
        // SAFETY: kill(2) with a process (group) id read from the host's own pidfiles, never
        // 0, 1 or -1.
        unsafe {
            libc::kill(id, libc::SIGTERM);
        }
    }
}

/// A client that trusts the internal CA of the Caddy whose state is under `env_root/proxy`
/// (Caddy keeps it in `data/caddy/…` or, with `XDG_DATA_HOME` set, in `data/…`).
#[allow(dead_code)]
pub fn https_client(env_root: &Path) -> reqwest::Client {
    let pki = "pki/authorities/local/root.crt";
    let proxy = env_root.join("proxy/data");
    let pem = std::fs::read(proxy.join("caddy").join(pki))
        .or_else(|_| std::fs::read(proxy.join(pki)))
        .expect("Caddy's internal root certificate");
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).expect("pem"))
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .expect("client")
}

/// One failed request of a [`Load`].
#[allow(dead_code)]
pub struct LoadFailure {
    /// When it was sent, after the load started.
    pub sent_after: std::time::Duration,
    /// When it failed (wall clock, to line up with the proxy's and Odoo's logs).
    pub at: chrono::DateTime<chrono::Utc>,
    /// The status, or `timeout`, `connect`, or the error.
    pub why: String,
}

/// A steady 20 requests a second to one URL until stopped; every answer but a 200 counts as
/// failed.
#[allow(dead_code)]
pub struct Load {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    sent: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    failures: std::sync::Arc<std::sync::Mutex<Vec<LoadFailure>>>,
    task: tokio::task::JoinHandle<()>,
}

#[allow(dead_code)]
impl Load {
    pub fn start(client: &reqwest::Client, url: &str) -> Load {
        use std::sync::atomic::Ordering;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let sent = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let failures = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let t0 = std::time::Instant::now();
        let task = {
            let (client, url) = (client.clone(), url.to_string());
            let (stop, sent, failures) = (stop.clone(), sent.clone(), failures.clone());
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(std::time::Duration::from_millis(50));
                while !stop.load(Ordering::SeqCst) {
                    tick.tick().await;
                    sent.fetch_add(1, Ordering::SeqCst);
                    let sent_after = t0.elapsed();
                    let (client, url, failures) = (client.clone(), url.clone(), failures.clone());
                    tokio::spawn(async move {
                        let why = match client.get(&url).send().await {
                            Ok(r) if r.status() == 200 => return,
                            Ok(r) => r.status().to_string(),
                            Err(e) if e.is_timeout() => "timeout".to_string(),
                            Err(e) if e.is_connect() => "connect".to_string(),
                            Err(e) => format!("error: {e:?}"),
                        };
                        if let Ok(mut f) = failures.lock() {
                            f.push(LoadFailure {
                                sent_after,
                                at: chrono::Utc::now(),
                                why,
                            });
                        }
                    });
                }
            })
        };
        Load {
            stop,
            sent,
            failures,
            task,
        }
    }

    /// Stop sending, give the requests in flight `settle` to end, and return how many were
    /// sent and which failed.
    pub async fn stop(self, settle: std::time::Duration) -> (usize, Vec<LoadFailure>) {
        use std::sync::atomic::Ordering;
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.task.await;
        tokio::time::sleep(settle).await;
        let failures = self
            .failures
            .lock()
            .map(|mut f| std::mem::take(&mut *f))
            .unwrap_or_default();
        (self.sent.load(Ordering::SeqCst), failures)
    }
}
