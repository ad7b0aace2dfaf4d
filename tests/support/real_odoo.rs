//! A real Odoo (17.0 Community) for integration tests: its source and virtualenv, template
//! databases built once and copied per test, `odoo-bin` commands, a server on a free loopback
//! port waited for through `/web/health`, and `odoo-bin shell` scripts.
//!
//! Discovery: `ODOOOPS_ODOO_SRC` and `ODOOOPS_ODOO_PYTHON` (exported by `.ci/run`); when
//! either is unset, `.ci/odoo-env.sh` is run (under a PostgreSQL advisory lock) to find
//! `../shared/odoo/17.0` or fetch Odoo from its public repository, and to create the cached
//! virtualenv. Without PostgreSQL or Odoo a test prints a note and returns — unless
//! `CI=true`, where it fails.
//!
//! Templates are content-addressed (the source's identity, the modules, the seeding SQL) and
//! built under a PostgreSQL advisory lock, so test binaries running at the same time never
//! build one twice; an existing template is reused. Odoo runs as the role `odoo` (created if
//! missing: Odoo refuses to run as `postgres`).

use super::odoo_fixture::{test_database_url, with_database};
use odooops::odoo::neutralize::OdooSource;
use sha2::{Digest, Sha256};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::{ConnectOptions, Connection};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::str::FromStr;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

/// The role Odoo connects as.
pub const ODOO_ROLE: &str = "odoo";

fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Fail under CI, else print a note; `None` either way means "skip".
fn missing<T>(test: &str, what: &str) -> Option<T> {
    if ci() {
        panic!("{test}: {what} and CI=true: the real-Odoo tests must run in CI");
    }
    eprintln!("note: {test} skipped: {what}");
    None
}

/// The target directory of this build (the parent of `CARGO_TARGET_TMPDIR`).
pub fn target_dir() -> PathBuf {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent().unwrap_or(tmp).to_path_buf()
}

/// A real Odoo installation usable by tests.
#[derive(Clone, Debug)]
pub struct RealOdoo {
    /// The Odoo source (the folder holding `odoo-bin`), identified.
    pub source: OdooSource,
    /// The virtualenv's python.
    pub python: PathBuf,
    /// `ODOOOPS_TEST_DATABASE_URL` (superuser).
    pub admin_url: String,
    pub db_host: String,
    pub db_port: u16,
    /// Odoo's data directory (filestores, sessions) for tests.
    pub data_dir: PathBuf,
}

/// Run `.ci/odoo-env.sh` and read the two variables it prints.
fn run_env_script() -> Result<(PathBuf, PathBuf), String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join(".ci/odoo-env.sh");
    let out = std::process::Command::new("bash")
        .arg(&script)
        .env("CARGO_TARGET_DIR", target_dir())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    if !out.status.success() {
        return Err(format!("{} failed ({})", script.display(), out.status));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let var = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("export {name}=")))
            .map(|v| PathBuf::from(v.trim().trim_matches('\'')))
    };
    match (var("ODOOOPS_ODOO_SRC"), var("ODOOOPS_ODOO_PYTHON")) {
        (Some(s), Some(p)) => Ok((s, p)),
        _ => Err(format!("{} printed no exports", script.display())),
    }
}

async fn admin_conn(url: &str) -> PgConnection {
    PgConnectOptions::from_str(url)
        .expect("ODOOOPS_TEST_DATABASE_URL parses")
        .connect()
        .await
        .expect("connect to ODOOOPS_TEST_DATABASE_URL")
}

/// A session-level advisory lock keyed by a name, held until the connection closes.
async fn lock(conn: &mut PgConnection, name: &str) {
    let key = i64::from_be_bytes(
        Sha256::digest(name.as_bytes())[..8]
            .try_into()
            .expect("8 bytes"),
    );
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(key)
        .execute(&mut *conn)
        .await
        .expect("advisory lock");
}

async fn exists(conn: &mut PgConnection, db: &str) -> bool {
    sqlx::query_scalar::<_, bool>("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
        .bind(db)
        .fetch_one(&mut *conn)
        .await
        .expect("pg_database")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir filestore copy");
    for entry in std::fs::read_dir(from).expect("read filestore") {
        let entry = entry.expect("entry");
        let dest = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), &dest).expect("copy filestore file");
        }
    }
}

/// A database to build: modules installed without demo data, then SQL run as superuser.
pub struct TemplateSpec<'a> {
    /// Short label in the database name (`[a-z0-9_]`).
    pub label: &'a str,
    pub modules: &'a [&'a str],
    pub seed_sql: &'a str,
}

/// A per-test copy of a template.
pub struct OdooDb {
    pub name: String,
    /// Superuser URL.
    pub url: String,
    /// URL as the `odoo` role.
    pub odoo_url: String,
    pub pool: PgPool,
    pub filestore: PathBuf,
    admin_url: String,
    dropped: bool,
}

impl OdooDb {
    pub async fn scalar_i64(&self, sql: &str) -> i64 {
        sqlx::query_scalar::<_, i64>(sql)
            .fetch_one(&self.pool)
            .await
            .expect("scalar query")
    }

    pub async fn scalar_text(&self, sql: &str) -> Option<String> {
        sqlx::query_scalar::<_, Option<String>>(sql)
            .fetch_optional(&self.pool)
            .await
            .expect("text query")
            .flatten()
    }

    /// Drop the copy and its filestore.
    pub async fn drop_db(mut self) {
        self.pool.close().await;
        drop_database(&self.admin_url, &self.name).await;
        let _ = std::fs::remove_dir_all(&self.filestore);
        self.dropped = true;
    }
}

impl Drop for OdooDb {
    /// A test that panicked before `drop_db` still leaves no database behind.
    fn drop(&mut self) {
        if self.dropped {
            return;
        }
        let (admin, name) = (self.admin_url.clone(), self.name.clone());
        let _ = std::thread::spawn(move || {
            if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                rt.block_on(drop_database(&admin, &name));
            }
        })
        .join();
        let _ = std::fs::remove_dir_all(&self.filestore);
    }
}

/// `DROP DATABASE … WITH (FORCE)`, ignoring errors.
pub async fn drop_database(admin_url: &str, name: &str) {
    let mut admin = admin_conn(admin_url).await;
    let _ = sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .execute(&mut admin)
        .await;
    let _ = admin.close().await;
}

impl RealOdoo {
    /// Find PostgreSQL and Odoo; `None` (after a note) to skip, a panic under `CI=true`.
    pub async fn discover(test: &str) -> Option<RealOdoo> {
        let admin_url = test_database_url(test)?;
        let url = reqwest::Url::parse(&admin_url).expect("ODOOOPS_TEST_DATABASE_URL is a URL");
        let db_host = url.host_str().unwrap_or("127.0.0.1").to_string();
        let db_port = url.port().unwrap_or(5432);
        let vars = (
            std::env::var_os("ODOOOPS_ODOO_SRC").filter(|v| !v.is_empty()),
            std::env::var_os("ODOOOPS_ODOO_PYTHON").filter(|v| !v.is_empty()),
        );
        let (src, python) = match vars {
            (Some(s), Some(p)) => (PathBuf::from(s), PathBuf::from(p)),
            _ => {
                let mut conn = admin_conn(&admin_url).await;
                lock(&mut conn, "odooops odoo-env.sh").await;
                let r = tokio::task::spawn_blocking(run_env_script)
                    .await
                    .expect("join");
                let _ = conn.close().await;
                match r {
                    Ok(pair) => pair,
                    Err(e) => return missing(test, &format!("no Odoo 17.0 to run: {e}")),
                }
            }
        };
        if !python.is_file() {
            return missing(
                test,
                &format!("ODOOOPS_ODOO_PYTHON {} is not a file", python.display()),
            );
        }
        let source = match OdooSource::open(&src, "ODOOOPS_ODOO_SRC") {
            Ok(s) => s,
            Err(e) => return missing(test, &format!("ODOOOPS_ODOO_SRC: {e}")),
        };
        let data_dir = target_dir().join("odoo-data");
        std::fs::create_dir_all(&data_dir).expect("odoo data dir");
        let odoo = RealOdoo {
            source,
            python,
            admin_url,
            db_host,
            db_port,
            data_dir,
        };
        odoo.ensure_role().await;
        Some(odoo)
    }

    /// Create the role Odoo runs as when missing (LOGIN CREATEDB).
    pub async fn ensure_role(&self) {
        let mut conn = admin_conn(&self.admin_url).await;
        let _ = sqlx::raw_sql(&format!(
            "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{ODOO_ROLE}') \
             THEN CREATE ROLE {ODOO_ROLE} LOGIN CREATEDB; END IF; END $$"
        ))
        .execute(&mut conn)
        .await;
        let _ = conn.close().await;
    }

    /// A URL for database `db` as the role `odoo`.
    pub fn odoo_url(&self, db: &str) -> String {
        format!(
            "postgres://{ODOO_ROLE}@{}:{}/{db}",
            self.db_host, self.db_port
        )
    }

    /// `python odoo-bin [SUB] --db_host … --db_port … --db_user odoo --addons-path addons
    /// --data-dir …`, run in the source folder, killed when dropped.
    pub fn command(&self, sub: Option<&str>) -> Command {
        let mut c = Command::new(&self.python);
        c.current_dir(&self.source.path).arg("odoo-bin");
        if let Some(s) = sub {
            c.arg(s);
        }
        c.args(["--db_host", &self.db_host])
            .args(["--db_port", &self.db_port.to_string()])
            .args(["--db_user", ODOO_ROLE])
            .args(["--addons-path", "addons"])
            .arg("--data-dir")
            .arg(&self.data_dir)
            .kill_on_drop(true);
        c
    }

    /// Run an `odoo-bin` command to completion; panics with its output on failure.
    pub async fn run(&self, what: &str, mut cmd: Command) -> String {
        let t0 = Instant::now();
        let out = cmd.output().await.expect("spawn odoo-bin");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.status.success(),
            "{what} failed ({}):\n{}",
            out.status,
            tail(&text, 60)
        );
        eprintln!("{what}: {:.1} s", t0.elapsed().as_secs_f64());
        text
    }

    /// The name a template gets: content-addressed.
    pub fn template_name(&self, spec: &TemplateSpec<'_>) -> String {
        let mut h = Sha256::new();
        for part in [
            // The filestore lives in this data directory: a template built for another one
            // (another checkout) has none here.
            self.data_dir.display().to_string(),
            self.source.path.display().to_string(),
            self.source.series.clone(),
            self.source.revision.clone().unwrap_or_default(),
            self.source.scripts_sha256.clone(),
            spec.modules.join(","),
            spec.seed_sql.to_string(),
        ] {
            h.update(part.as_bytes());
            h.update([0]);
        }
        let release = std::fs::read(self.source.path.join("odoo/release.py")).unwrap_or_default();
        h.update(&release);
        format!(
            "odooops_tpl_{}_{}",
            spec.label,
            &hex::encode(h.finalize())[..12]
        )
    }

    /// The template database of `spec`, built once (under an advisory lock), reused after.
    async fn ensure_template(&self, conn: &mut PgConnection, spec: &TemplateSpec<'_>) -> String {
        let name = self.template_name(spec);
        if exists(conn, &name).await {
            return name;
        }
        let building = format!("{name}_build");
        sqlx::raw_sql(&format!(
            "DROP DATABASE IF EXISTS \"{building}\" WITH (FORCE)"
        ))
        .execute(&mut *conn)
        .await
        .expect("drop a leftover build");
        let fs = self.data_dir.join("filestore");
        let _ = std::fs::remove_dir_all(fs.join(&building));
        let mut cmd = self.command(None);
        cmd.args(["-d", &building, "-i", &spec.modules.join(",")])
            .args([
                "--stop-after-init",
                "--without-demo=all",
                "--log-level=warn",
            ])
            .args(["--max-cron-threads", "0"]);
        let t0 = Instant::now();
        self.run(&format!("building template {name}"), cmd).await;
        let url = with_database(&self.admin_url, &building);
        let mut db = admin_conn(&url).await;
        sqlx::raw_sql(spec.seed_sql)
            .execute(&mut db)
            .await
            .expect("seeding the template");
        let _ = db.close().await;
        sqlx::raw_sql(&format!(
            "ALTER DATABASE \"{building}\" RENAME TO \"{name}\""
        ))
        .execute(&mut *conn)
        .await
        .expect("rename the template");
        if fs.join(&building).is_dir() {
            std::fs::rename(fs.join(&building), fs.join(&name)).expect("rename the filestore");
        }
        eprintln!(
            "template {name} built in {:.1} s",
            t0.elapsed().as_secs_f64()
        );
        self.forget_older_templates(conn, spec.label, &name).await;
        name
    }

    /// Drop the templates (and leftover builds) of the same label but other contents: they
    /// are stale once their seed, modules or source changed. Called under the lock.
    async fn forget_older_templates(&self, conn: &mut PgConnection, label: &str, keep: &str) {
        let stale: Vec<String> = sqlx::query_scalar(
            "SELECT datname::text FROM pg_database WHERE starts_with(datname, $1) AND datname <> $2",
        )
        .bind(format!("odooops_tpl_{label}_"))
        .bind(keep)
        .fetch_all(&mut *conn)
        .await
        .unwrap_or_default();
        for db in stale {
            let _ = sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS \"{db}\" WITH (FORCE)"))
                .execute(&mut *conn)
                .await;
            let _ = std::fs::remove_dir_all(self.data_dir.join("filestore").join(&db));
            eprintln!("dropped the stale template {db}");
        }
    }

    /// A fresh copy of the template of `spec` (`CREATE DATABASE … TEMPLATE`), owned by `odoo`,
    /// with a copy of the template's filestore.
    pub async fn copy(&self, spec: &TemplateSpec<'_>, label: &str) -> OdooDb {
        let mut conn = admin_conn(&self.admin_url).await;
        lock(&mut conn, "odooops real-odoo templates").await;
        let template = self.ensure_template(&mut conn, spec).await;
        let name = format!(
            "odooops_t_{label}_{}",
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        let t0 = Instant::now();
        sqlx::raw_sql(&format!(
            "CREATE DATABASE \"{name}\" TEMPLATE \"{template}\" OWNER {ODOO_ROLE}"
        ))
        .execute(&mut conn)
        .await
        .expect("copy the template");
        let _ = conn.close().await;
        let fs = self.data_dir.join("filestore");
        let filestore = fs.join(&name);
        if fs.join(&template).is_dir() {
            copy_dir(&fs.join(&template), &filestore);
        }
        eprintln!(
            "copied {template} to {name} in {:.1} s",
            t0.elapsed().as_secs_f64()
        );
        let url = with_database(&self.admin_url, &name);
        let pool = PgPoolOptions::new()
            .max_connections(2)
            .connect(&url)
            .await
            .expect("connect to the copy");
        OdooDb {
            odoo_url: self.odoo_url(&name),
            name,
            url,
            pool,
            filestore,
            admin_url: self.admin_url.clone(),
            dropped: false,
        }
    }

    /// Start `odoo-bin` serving `db` on a free loopback port; returns once `/web/health`
    /// answers (deadline 180 s).
    pub async fn serve(&self, db: &str) -> OdooServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free loopback port")
            .port();
        let log = self.data_dir.join(format!("{db}.log"));
        let mut cmd = self.command(None);
        cmd.args(["-d", db, "--db-filter", &format!("^{db}$")])
            .args(["--http-interface", "127.0.0.1"])
            .args(["--http-port", &port.to_string()])
            .args(["--max-cron-threads", "0", "--workers", "0"])
            .arg("--logfile")
            .arg(&log)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = cmd.spawn().expect("start odoo-bin");
        let mut server = OdooServer {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(180);
        let client = reqwest::Client::new();
        loop {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!(
                    "odoo-bin on {db} exited ({status}) before serving:\n{}",
                    server.log_tail()
                );
            }
            if let Ok(r) = client
                .get(format!("{}/web/health", server.base))
                .timeout(Duration::from_secs(5))
                .send()
                .await
            {
                if r.status().is_success() {
                    return server;
                }
            }
            assert!(
                Instant::now() < deadline,
                "odoo-bin on {db}: /web/health did not answer within 180 s:\n{}",
                server.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Run a Python script in `odoo-bin shell` on `db` (the transaction is rolled back);
    /// returns its standard output.
    pub async fn shell(&self, db: &str, script: &str) -> String {
        use tokio::io::AsyncWriteExt;
        let mut cmd = self.command(Some("shell"));
        cmd.args(["-d", db, "--no-http", "--log-level=warn"])
            .args(["--max-cron-threads", "0"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("start odoo-bin shell");
        let mut stdin = child.stdin.take().expect("stdin");
        stdin
            .write_all(script.as_bytes())
            .await
            .expect("write the script");
        drop(stdin);
        let out = child.wait_with_output().await.expect("odoo-bin shell");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "odoo-bin shell failed ({}):\n{stdout}\n{}",
            out.status,
            tail(&String::from_utf8_lossy(&out.stderr), 40)
        );
        stdout
    }
}

/// The last `n` lines of a text.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// A running `odoo-bin`, killed when dropped.
pub struct OdooServer {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    log: PathBuf,
}

impl OdooServer {
    pub fn log_tail(&self) -> String {
        tail(&std::fs::read_to_string(&self.log).unwrap_or_default(), 40)
    }

    /// Stop the server and wait for it.
    pub async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }
}
