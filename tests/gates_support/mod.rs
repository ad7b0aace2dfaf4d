//! Shared by tests/gates_*.rs: the repository's SSOT with variants, gate resources, and
//! throw-away PostgreSQL databases (dropped by `finish`).
#![allow(dead_code)]

use odooops::provider::postgres::PgServer;
use odooops::ssot::{
    kind_tags, ApiVersion, Environment, Gate, GateParams, GateScope, GateSpec, GateType, Limits,
    Metadata, Resource, Severity, Ssot,
};
use std::path::Path;

pub const FIXTURE_SQL: &str = include_str!("../fixtures/gates_fixture.sql");

/// The repository's ssot/, validated.
pub fn repo_ssot() -> Ssot {
    odooops::ssot::load(Path::new("ssot"), &Limits::default())
        .into_ssot()
        .expect("ssot/ is valid")
}

pub fn env_mut<'a>(ssot: &'a mut Ssot, name: &str) -> &'a mut Environment {
    ssot.resources
        .iter_mut()
        .find_map(|r| match r {
            Resource::Environment(e) if e.metadata.name == name => Some(e),
            _ => None,
        })
        .expect("environment in ssot/")
}

pub fn gate(name: &str, gate_type: GateType, params: GateParams) -> Gate {
    Gate {
        api_version: ApiVersion::V1alpha1,
        kind: kind_tags::Gate::Gate,
        metadata: Metadata {
            name: name.to_string(),
            labels: Default::default(),
            annotations: Default::default(),
        },
        spec: GateSpec {
            gate_type,
            params,
            severity: Severity::Fail,
            scope: GateScope::default(),
        },
    }
}

/// Replace the SSOT's gates.
pub fn set_gates(ssot: &mut Ssot, gates: Vec<Gate>) {
    ssot.resources.retain(|r| !matches!(r, Resource::Gate(_)));
    ssot.resources
        .extend(gates.into_iter().map(|g| Resource::Gate(Box::new(g))));
}

pub fn admin_url() -> Option<String> {
    match std::env::var("ODOOOPS_TEST_DATABASE_URL") {
        Ok(u) if !u.trim().is_empty() => Some(u),
        _ => {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("CI=true but ODOOOPS_TEST_DATABASE_URL is not set");
            }
            eprintln!(
                "SKIPPED: set ODOOOPS_TEST_DATABASE_URL=postgres://… to run PostgreSQL gate tests"
            );
            None
        }
    }
}

/// `admin` with its database replaced.
pub fn with_database(admin: &str, db: &str) -> String {
    let (base, query) = match admin.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (admin, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let authority_end = base[scheme_end..]
        .find('/')
        .map(|i| i + scheme_end)
        .unwrap_or(base.len());
    let mut url = format!("{}/{}", &base[..authority_end], db);
    if let Some(q) = query {
        url.push('?');
        url.push_str(q);
    }
    url
}

/// A throw-away database on the test server, created through the adapter under test.
pub struct ScratchDb {
    pub server: PgServer,
    pub name: String,
    pub url: String,
}

impl ScratchDb {
    pub async fn create(admin: &str) -> ScratchDb {
        let server = PgServer::connect(admin).await.expect("connect admin");
        let name = format!("odooops_gates_{}", uuid::Uuid::new_v4().simple());
        server
            .ensure_database(&name, None)
            .await
            .expect("create scratch database");
        let url = with_database(admin, &name);
        ScratchDb { server, name, url }
    }

    /// A scratch database loaded with tests/fixtures/gates_fixture.sql.
    pub async fn odoo(admin: &str) -> ScratchDb {
        let db = ScratchDb::create(admin).await;
        db.exec(FIXTURE_SQL).await;
        db
    }

    pub async fn exec(&self, sql: &str) {
        let pool = odooops::provider::postgres::connect_database(&self.url)
            .await
            .expect("connect scratch");
        sqlx::raw_sql(sql).execute(&pool).await.expect("exec sql");
        pool.close().await;
    }

    pub async fn finish(self) {
        self.server
            .drop_database(&self.name)
            .await
            .expect("drop scratch database");
        self.server.close().await;
    }
}
