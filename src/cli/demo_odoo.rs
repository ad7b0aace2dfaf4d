//! `odooops demo --odoo`: the whole story on one machine. The simulator stands in for the
//! cloud APIs; this machine is the environment's host (local transport); a git repository
//! made here holds a small custom addon; PostgreSQL and Odoo's source are the user's.
//! Commit A is deployed (the database initialized, the addon installed) and Odoo answers
//! at its URL; commit B changes the addon — the plan shows the `-u` it needs — and is
//! deployed too. With `--serve`, Odoo and the console stay up until Ctrl-C.

use super::EXIT_OK;
use crate::host::{self, Layout, Slot, Supervisor, Transport};
use crate::provider::http::Metrics;
use crate::provider::StaticSecrets;
use crate::reconcile::engine::{Context, Engine};
use crate::reconcile::render;
use crate::sim;
use anyhow::{anyhow, bail, Context as _};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

/// What `demo --odoo` runs with.
pub struct Options<'a> {
    pub data_dir: &'a Path,
    /// PostgreSQL the demo's Odoo database goes to (`--odoo-database-url`, else
    /// `ODOOOPS_TEST_DATABASE_URL`).
    pub database_url: Option<String>,
    /// Odoo's source (`--odoo-src`, else `ODOOOPS_ODOO_SRC`).
    pub odoo_src: Option<PathBuf>,
    /// A Python with Odoo's requirements installed (`--odoo-python`, else
    /// `ODOOOPS_ODOO_PYTHON`): its virtualenv is reused instead of building one.
    pub odoo_python: Option<PathBuf>,
    pub serve: Option<&'a str>,
}

const MODELS_A: &str = "from odoo import fields, models\n\n\nclass OdooopsDemo(models.Model):\n    _name = \"odooops.demo\"\n    _description = \"OdooOps demo\"\n\n    name = fields.Char()\n";

const MODELS_B: &str = "from odoo import fields, models\n\n\nclass OdooopsDemo(models.Model):\n    _name = \"odooops.demo\"\n    _description = \"OdooOps demo\"\n\n    name = fields.Char()\n    code = fields.Char(help=\"Added by commit B\")\n";

fn manifest(version: &str) -> String {
    format!(
        "{{\n    \"name\": \"OdooOps demo\",\n    \"version\": \"{version}\",\n    \"depends\": [\"base\"],\n    \"license\": \"LGPL-3\",\n    \"installable\": True,\n}}\n"
    )
}

fn git(dir: &Path, args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "OdooOps demo")
        .env("GIT_AUTHOR_EMAIL", "demo@odooops.invalid")
        .env("GIT_COMMITTER_NAME", "OdooOps demo")
        .env("GIT_COMMITTER_EMAIL", "demo@odooops.invalid")
        .output()
        .context("running git (is it installed?)")?;
    if !out.status.success() {
        bail!(
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p)?;
    }
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
}

struct Setup {
    database_url: String,
    odoo_src: PathBuf,
    python: Option<PathBuf>,
}

fn setup(o: &Options) -> anyhow::Result<Setup> {
    let database_url = o
        .database_url
        .clone()
        .or_else(|| std::env::var("ODOOOPS_TEST_DATABASE_URL").ok())
        .filter(|u| !u.trim().is_empty())
        .ok_or_else(|| anyhow!("demo --odoo needs PostgreSQL: pass --odoo-database-url postgres://USER@HOST:PORT/postgres (a role that may create databases), or set ODOOOPS_TEST_DATABASE_URL"))?;
    let odoo_src = o
        .odoo_src
        .clone()
        .or_else(|| std::env::var_os("ODOOOPS_ODOO_SRC").map(PathBuf::from))
        .ok_or_else(|| anyhow!("demo --odoo needs Odoo's source: pass --odoo-src DIR (the folder holding odoo-bin, e.g. ../shared/odoo/17.0), or set ODOOOPS_ODOO_SRC"))?;
    if !odoo_src.join("odoo-bin").is_file() {
        bail!(
            "{} holds no odoo-bin: --odoo-src names the folder of Odoo's source",
            odoo_src.display()
        );
    }
    let python = o
        .odoo_python
        .clone()
        .or_else(|| std::env::var_os("ODOOOPS_ODOO_PYTHON").map(PathBuf::from));
    Ok(Setup {
        database_url,
        odoo_src: odoo_src.canonicalize()?,
        python,
    })
}

/// The role Odoo connects as when the given one is `postgres` (Odoo refuses to run as it).
const DEMO_ROLE: &str = "odooops_demo";

/// The role Odoo runs as and the server URL to reach it with: the URL's own user, unless
/// that is `postgres` (or none: libpq's default for root is `postgres`), in which case
/// the role `odooops_demo` (LOGIN CREATEDB) is created when missing and used instead.
async fn odoo_role(server: &str) -> anyhow::Result<(String, String)> {
    let mut url = reqwest::Url::parse(server).context("--odoo-database-url is not a URL")?;
    if !matches!(url.username(), "" | "postgres") {
        return Ok((url.username().to_string(), server.to_string()));
    }
    let mut conn: sqlx::PgConnection = sqlx::Connection::connect(server)
        .await
        .with_context(|| format!("connecting to {}", url.host_str().unwrap_or("PostgreSQL")))?;
    let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_roles WHERE rolname = $1")
        .bind(DEMO_ROLE)
        .fetch_optional(&mut conn)
        .await?;
    if exists.is_none() {
        sqlx::query(&format!("CREATE ROLE {DEMO_ROLE} LOGIN CREATEDB"))
            .execute(&mut conn)
            .await
            .with_context(|| {
                format!("creating the role {DEMO_ROLE} (Odoo refuses to run as postgres)")
            })?;
        println!("== created the PostgreSQL role {DEMO_ROLE} (Odoo refuses to run as postgres)");
    }
    url.set_username(DEMO_ROLE)
        .map_err(|()| anyhow!("--odoo-database-url cannot carry a user name"))?;
    Ok((DEMO_ROLE.to_string(), url.to_string()))
}

/// The demo's database on the user's server, reached as the demo's role.
fn db_url(server: &str, db: &str) -> anyhow::Result<String> {
    let mut u = reqwest::Url::parse(server).context("--odoo-database-url is not a URL")?;
    u.set_path(&format!("/{db}"));
    Ok(u.to_string())
}

#[allow(clippy::too_many_arguments)]
fn ssot_text(
    repo: &Path,
    src: &Path,
    requirements: &Path,
    db_user: &str,
    db: &str,
    root: &Path,
    odoo_port: u16,
    proxy: Option<(u16, u16, u16)>,
) -> (String, String) {
    let project = format!(
        r#"apiVersion: odooops.dev/v1alpha1
kind: Project
metadata:
  name: demo
spec:
  odoo:
    series: "17.0"
    source:
      path: {src}
      revision: local
      requirements: {req}
  repository:
    url: {repo}
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
  name: demo-secrets
spec:
  keys:
    - name: DIGITALOCEAN_TOKEN
      source: env
      requiredBy: [controller]
    - name: DEMO_DB_URL
      source: env
      requiredBy: [production]
"#,
        src = src.display(),
        req = requirements.display(),
        repo = repo.display(),
    );
    let proxy = match proxy {
        Some((http, https, admin)) => format!(
            "    proxy:\n      httpPort: {http}\n      httpsPort: {https}\n      adminPort: {admin}\n      tls: internal\n"
        ),
        None => "    proxy:\n      enabled: false\n".to_string(),
    };
    let env = format!(
        r#"apiVersion: odooops.dev/v1alpha1
kind: Environment
metadata:
  name: production
spec:
  project: demo
  stage: production
  branch: main
  maturity: beta
  host:
    size: s-1vcpu-2gb
  database:
    provider: postgres
    name: {db}
    user: {db_user}
    urlSecret: DEMO_DB_URL
  odoo:
    workers: 0
  mail:
    mode: catcher
  modules:
    install: [odooops_demo]
  delivery:
    transport: local
    root: {root}
    odooPort: {odoo_port}
    supervisor: pidfile
{proxy}"#,
        root = root.display(),
    );
    (project, env)
}

pub fn run(o: Options) -> anyhow::Result<i32> {
    let s = setup(&o)?;
    let work = o.data_dir.join("demo-odoo");
    if work.exists() {
        std::fs::remove_dir_all(&work).with_context(|| format!("clearing {}", work.display()))?;
    }
    std::fs::create_dir_all(&work)?;
    let work = work.canonicalize()?;
    // The code repository: the demo addon at commit A.
    let repo = work.join("repo");
    std::fs::create_dir_all(&repo)?;
    git(&repo, &["init", "--quiet", "-b", "main"])?;
    write(
        &repo.join("README.md"),
        "The code repository of `odooops demo --odoo`: one custom addon.\n",
    )?;
    write(
        &repo.join("addons/odooops_demo/__manifest__.py"),
        &manifest("17.0.1.0.0"),
    )?;
    write(
        &repo.join("addons/odooops_demo/__init__.py"),
        "from . import models\n",
    )?;
    write(&repo.join("addons/odooops_demo/models.py"), MODELS_A)?;
    git(&repo, &["add", "-A"])?;
    git(&repo, &["commit", "--quiet", "-m", "A: the demo addon"])?;
    let commit_a = git(&repo, &["rev-parse", "HEAD"])?;

    // Odoo's requirements (the digest names the virtualenv).
    let req_src = s.odoo_src.join("requirements.txt");
    let requirements = work.join("odoo-requirements.txt");
    match std::fs::read(&req_src) {
        Ok(b) => std::fs::write(&requirements, b)?,
        Err(_) if s.python.is_some() => std::fs::write(
            &requirements,
            format!("# {} has no requirements.txt; the given Python has Odoo's packages\n", s.odoo_src.display()),
        )?,
        Err(_) => bail!(
            "{} has no requirements.txt: pass --odoo-python (a Python with Odoo's requirements installed)",
            s.odoo_src.display()
        ),
    }
    let db = format!(
        "odooops_demo_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let rt = tokio::runtime::Runtime::new()?;
    let (db_user, odoo_server) = rt.block_on(odoo_role(&s.database_url))?;
    let root = work.join("host");
    let odoo_port = free_port()?;
    let caddy = on_path("caddy");
    let proxy = if caddy {
        Some((free_port()?, free_port()?, free_port()?))
    } else {
        None
    };
    let tree = work.join("ssot");
    let (project, env) = ssot_text(
        &repo,
        &s.odoo_src,
        &requirements,
        &db_user,
        &db,
        &root,
        odoo_port,
        proxy,
    );
    write(&tree.join("project.yaml"), &project)?;
    write(&tree.join("environments.yaml"), &env)?;
    let ssot = super::reconcile::load_ssot(&tree)?;
    let layout = Layout::new(&root.join("production").display().to_string(), odoo_port);
    if let Some(py) = &s.python {
        // Reuse the given Python's virtualenv for these requirements, as a host reuses its
        // own from an earlier release.
        let venv_root = py.parent().and_then(Path::parent).ok_or_else(|| {
            anyhow!(
                "--odoo-python {} is not inside a virtualenv's bin/",
                py.display()
            )
        })?;
        let venv =
            PathBuf::from(layout.venv(&host::prepare::digest(&std::fs::read(&requirements)?)));
        std::fs::create_dir_all(venv.parent().unwrap_or(&root))?;
        std::os::unix::fs::symlink(venv_root, &venv)?;
        std::fs::write(venv_root.join(".odooops-complete"), "")?;
    } else {
        println!("== no --odoo-python: the first release builds a virtualenv with pip (minutes)");
    }
    rt.block_on(async {
        let running = sim::start_with("127.0.0.1:0", sim::SimOptions::default()).await?;
        println!("== provider simulator on {}", running.url());
        let store =
            super::open_store(super::SsotRef::Loaded(&ssot), None, &work.join("store")).await?;
        println!("== evidence store: {}", store.location());
        let mut engine = Engine::connect(
            &ssot,
            store.clone(),
            Some(&running.url()),
            Arc::new(Metrics::default()),
        )?
        .with_delivery(&work.join("data"));
        engine.secrets = Arc::new(
            StaticSecrets::default()
                .with("DIGITALOCEAN_TOKEN", "test-token-demo")
                .with("DEMO_DB_URL", &db_url(&odoo_server, &db)?),
        );
        let ctx = Context {
            actor: "demo".into(),
            ..Context::default()
        };
        let result = story(&engine, &ssot, &ctx, &repo, &commit_a, caddy).await;
        let serve_result = match (&result, o.serve) {
            (Ok(()), Some(listen)) => {
                println!("\n== Odoo and the console stay up (Ctrl-C to stop both)");
                super::serve::serve(
                    store.clone(),
                    super::serve::demo_config(ssot.clone()),
                    listen,
                )
                .await
            }
            _ => Ok(()),
        };
        // Stop Odoo and the proxy either way.
        let t = Transport::Local;
        for slot in [Slot::A, Slot::B] {
            let _ = host::service::stop(
                &t,
                &layout,
                slot,
                Supervisor::Pidfile,
                Duration::from_secs(10),
            )
            .await;
        }
        if let Some((_, _, admin)) = proxy {
            let spec = host::ProxySpec {
                site: String::new(),
                http_port: 0,
                https_port: 0,
                admin_port: admin,
                internal_tls: true,
            };
            let _ = host::proxy::stop(&t, &spec).await;
        }
        store.close().await;
        result?;
        serve_result?;
        println!("\n== done; the database {db} stays on your server (drop it when you like)");
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(EXIT_OK)
}

async fn serving(engine: &Engine, caddy: bool, label: &str) -> anyhow::Result<()> {
    let r = engine
        .store
        .serving_releases()
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| anyhow!("no release serves after the apply"))?;
    let url = r.url.clone().unwrap_or_default();
    // Caddy's internal CA is not in this machine's trust store: the check trusts any
    // certificate (loopback only).
    let client = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .timeout(Duration::from_secs(10))
        .build()?;
    let status = client
        .get(format!("{url}/web/login"))
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0);
    println!(
        "Odoo serving at {url} ({label}, commit {}, {}; GET /web/login → {status})",
        &r.commit_sha[..12.min(r.commit_sha.len())],
        if caddy {
            "through Caddy"
        } else {
            "no Caddy on PATH: Odoo's own port"
        }
    );
    if status != 200 {
        bail!("{url}/web/login answered {status}");
    }
    Ok(())
}

async fn story(
    engine: &Engine,
    ssot: &crate::ssot::Ssot,
    ctx: &Context,
    repo: &Path,
    commit_a: &str,
    caddy: bool,
) -> anyhow::Result<()> {
    println!(
        "\n== 1. plan: commit {} of {}",
        &commit_a[..12],
        repo.display()
    );
    let p = engine.plan(ssot, ctx).await?;
    print!("{}", render::plan_text(&p.plan, false));
    println!("\n== 2. apply: the cloud objects, then the release (the database initialized)");
    let a = engine.apply(ssot, p.plan_id, ctx).await?;
    println!("applied: {} succeeded (run {})", a.succeeded, a.run_id);
    serving(engine, caddy, "release A").await?;

    write(
        &repo.join("addons/odooops_demo/__manifest__.py"),
        &manifest("17.0.1.1.0"),
    )?;
    write(&repo.join("addons/odooops_demo/models.py"), MODELS_B)?;
    git(repo, &["add", "-A"])?;
    git(repo, &["commit", "--quiet", "-m", "B: a field added"])?;
    let commit_b = git(repo, &["rev-parse", "HEAD"])?;
    println!(
        "\n== 3. commit {}: a field added, the version bumped — the plan shows the update",
        &commit_b[..12]
    );
    let p = engine.plan(ssot, ctx).await?;
    print!("{}", render::plan_text(&p.plan, false));
    println!("\n== 4. apply: pre-update backup, -u odooops_demo, the new release");
    let b = engine.apply(ssot, p.plan_id, ctx).await?;
    println!("applied: {} succeeded (run {})", b.succeeded, b.run_id);
    serving(engine, caddy, "release B").await?;
    for r in engine.store.releases(Some("production"), 10).await? {
        println!(
            "   release {} {} commit {} installed {} modules, updated {} backup {}",
            r.id,
            r.status,
            &r.commit_sha[..12.min(r.commit_sha.len())],
            r.modules_installed.as_array().map_or(0, Vec::len),
            r.modules_updated,
            r.backup_id
                .map(|b| b.to_string())
                .unwrap_or_else(|| "-".into())
        );
    }
    Ok(())
}
