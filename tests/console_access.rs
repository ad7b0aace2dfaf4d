//! Access per project, over real HTTP: an SSOT with two projects — `quickstart` (environments
//! production, staging; `publicRead: true`) and `beta` (beta-production, beta-staging) — whose
//! tokens are registry keys listed in each Project's `console.tokens`, as in production. A
//! token of one project (and an anonymous reader of the public one) gets 404 for every page
//! and API of the other, sees none of its rows in any list, and can write only where it is an
//! operator.

mod common;
mod console_common;

use console_common::*;
use odooops::console::auth::Auth;
use odooops::console::openapi::{Access, API_ROUTES};
use odooops::console::{Config, NAV};
use odooops::ssot::{self, Limits, Ssot};
use odooops::store::*;
use serde_json::{json, Value};
use std::path::Path;

const A_VIEWER: &str = "test-token-alpha-viewer-0001";
const A_OPERATOR: &str = "test-token-alpha-operator-0002";
const B_OPERATOR: &str = "test-token-beta-operator-0003";
const AGENCY: &str = "test-token-agency-viewer-0004";

/// The two-project SSOT, written from examples/quickstart.
fn two_projects() -> (tempfile::TempDir, Ssot) {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart");
    let read = |f: &str| std::fs::read_to_string(src.join(f)).expect("read quickstart");
    let project = read("project.yaml");
    let console = |public: bool, tokens: &[(&str, &str)]| {
        let mut s = format!("  console:\n    publicRead: {public}\n    tokens:\n");
        for (key, role) in tokens {
            s.push_str(&format!("      - secret: {key}\n        role: {role}\n"));
        }
        s
    };
    let alpha = project.replacen(
        "  defaultRegion: fra1\n",
        &format!(
            "  defaultRegion: fra1\n{}",
            console(
                true,
                &[
                    ("ALPHA_VIEWER_TOKEN", "viewer"),
                    ("ALPHA_OPERATOR_TOKEN", "operator"),
                    ("AGENCY_TOKEN", "viewer"),
                ]
            )
        ),
        1,
    );
    let mut alpha = alpha;
    alpha.push_str(
        "    - name: ALPHA_VIEWER_TOKEN\n      source: env\n      requiredBy: [console]\n\
         \x20   - name: ALPHA_OPERATOR_TOKEN\n      source: env\n      requiredBy: [console]\n\
         \x20   - name: BETA_OPERATOR_TOKEN\n      source: env\n      requiredBy: [console]\n\
         \x20   - name: AGENCY_TOKEN\n      source: env\n      requiredBy: [console]\n\
         \x20   - name: BETA_SMTP_PASSWORD\n      source: env\n      requiredBy: [beta-production]\n",
    );
    std::fs::write(dir.path().join("project.yaml"), alpha).expect("write");
    std::fs::write(
        dir.path().join("environments.yaml"),
        read("environments.yaml"),
    )
    .expect("write");
    std::fs::write(dir.path().join("policies.yaml"), read("policies.yaml")).expect("write");
    // beta: the Project document only (the registry above is shared), its environments,
    // cluster and backup policy.
    let beta_project = project
        .split("\n---\n")
        .next()
        .expect("the Project document")
        .replace("quickstart", "beta")
        + "\n"
        + &console(
            false,
            &[
                ("BETA_OPERATOR_TOKEN", "operator"),
                ("AGENCY_TOKEN", "viewer"),
            ],
        );
    let mut envs = String::new();
    for line in read("environments.yaml").lines() {
        let line = match line {
            "  name: production" => "  name: beta-production".to_string(),
            "  name: staging" => "  name: beta-staging".to_string(),
            l => l
                .replace(
                    "fromEnvironment: production",
                    "fromEnvironment: beta-production",
                )
                .replace("quickstart", "beta"),
        };
        envs.push_str(&line);
        envs.push('\n');
    }
    let policies = read("policies.yaml")
        .replace("name: production-daily", "name: beta-production-daily")
        .replace("environment: production", "environment: beta-production")
        .replace("name: db-object-count", "name: beta-db-object-count")
        .replace("quickstart", "beta")
        .replace(
            "  params:\n    max: 10000\n",
            "  params:\n    max: 10000\n  scope:\n    environments: [beta-staging]\n",
        );
    let beta = dir.path().join("beta");
    std::fs::create_dir(&beta).expect("mkdir");
    std::fs::write(beta.join("project.yaml"), beta_project).expect("write");
    std::fs::write(beta.join("environments.yaml"), envs).expect("write");
    std::fs::write(beta.join("policies.yaml"), policies).expect("write");
    let report = ssot::load(dir.path(), &Limits::default());
    let diagnostics: Vec<String> = report
        .diagnostics
        .iter()
        .map(|d| format!("{d:?}"))
        .collect();
    let ssot = report
        .into_ssot()
        .unwrap_or_else(|| panic!("the two-project SSOT is valid: {diagnostics:#?}"));
    (dir, ssot)
}

fn config_for(ssot: Ssot) -> Config {
    let auth = Auth::from_ssot(&ssot, |key| {
        match key {
            "ALPHA_VIEWER_TOKEN" => Some(A_VIEWER),
            "ALPHA_OPERATOR_TOKEN" => Some(A_OPERATOR),
            "BETA_OPERATOR_TOKEN" => Some(B_OPERATOR),
            "AGENCY_TOKEN" => Some(AGENCY),
            _ => None,
        }
        .map(str::to_string)
    });
    Config {
        ssot: Some(ssot),
        auth,
        body_limit: 64 * 1024,
        listen: "test".into(),
        ..Config::default()
    }
}

/// Beta's evidence: what no quickstart reader may see.
struct Beta {
    run: uuid::Uuid,
    /// The correlation id of beta's run (and of its events).
    correlation: String,
    plan: uuid::Uuid,
    plan_artifact: String,
    dump_artifact: String,
    backup: uuid::Uuid,
    job: uuid::Uuid,
    /// A run of no environment (project-wide over both projects).
    global_run: uuid::Uuid,
}

impl Beta {
    /// Strings that must not appear in any answer to a quickstart reader.
    fn markers(&self) -> Vec<String> {
        vec![
            "beta-staging".into(),
            "beta-production".into(),
            "beta-pg".into(),
            "beta.example".into(),
            "BETA_SMTP_PASSWORD".into(),
            self.run.to_string(),
            self.correlation.clone(),
            self.plan.to_string(),
            self.plan_artifact.clone(),
            self.dump_artifact.clone(),
            self.backup.to_string(),
            self.job.to_string(),
            self.global_run.to_string(),
        ]
    }

    /// Every page and API address of one of beta's records.
    fn urls(&self) -> Vec<String> {
        let mut v = Vec::new();
        for prefix in ["", "/api"] {
            v.push(format!("{prefix}/environments/beta-staging"));
            v.push(format!("{prefix}/environments/beta-production"));
            v.push(format!("{prefix}/runs/{}", self.run));
            v.push(format!("{prefix}/runs/{}", self.global_run));
            v.push(format!("{prefix}/jobs/{}", self.job));
            v.push(format!("{prefix}/plans/{}", self.plan));
            v.push(format!("{prefix}/artifacts/{}", self.plan_artifact));
            v.push(format!("{prefix}/artifacts/{}", self.dump_artifact));
            v.push(format!("{prefix}/drift?environment=beta-staging"));
            v.push(format!("{prefix}/events?environment=beta-staging"));
        }
        v.push(format!("/correlations/{}", self.correlation));
        v.push("/api/drift/history?environment=beta-staging".into());
        v.push(format!("/api/runs/{}/events", self.run));
        v
    }
}

async fn populate_beta(store: &Store) -> Beta {
    let run = store
        .begin_run(&NewRun {
            kind: RunKind::Plan,
            trigger: Trigger::Cli,
            ssot_revision: "sha256:beta".into(),
            actor: "test".into(),
            environment: Some("beta-staging".into()),
            correlation_id: None,
        })
        .await
        .expect("run");
    let plan = store
        .save_plan(NewPlan {
            run_id: run.id,
            ssot_revision: "sha256:beta".into(),
            live_fingerprint: "fp-beta".into(),
            plan: json!({"actions": [{"op": "update", "resource": "droplet/beta-staging"}]})
                .to_string(),
            rendered: "~ update droplet beta-staging\n".into(),
        })
        .await
        .expect("plan");
    let mut ev = NewEvent::new(Level::Warn, "reconcile", "drift on beta-staging");
    ev.environment = Some("beta-staging".into());
    ev.run_id = Some(run.id);
    store.append_events(&[ev]).await.expect("events");
    store
        .upsert_drift(&[DriftObservation {
            environment: "beta-staging".into(),
            resource_kind: "droplet".into(),
            resource_name: "beta-staging".into(),
            field_path: "size".into(),
            desired: Some(json!("s-1vcpu-2gb")),
            observed: Some(json!("s-8vcpu-16gb")),
            run_id: Some(run.id),
        }])
        .await
        .expect("drift");
    store
        .finish_run(run.id, RunStatus::Succeeded, &json!({"changes": 1}))
        .await
        .expect("finish");
    let gate_run = store
        .begin_gate_run(Some(run.id), "beta-staging")
        .await
        .expect("gate run");
    store
        .record_gate_result(&NewGateResult {
            gate_run_id: gate_run.id,
            gate: "beta-db-object-count".into(),
            environment: "beta-staging".into(),
            outcome: GateOutcome::Fail,
            measured: Some(json!(99999)),
            threshold: Some(json!(10000)),
            evidence_sha256: None,
            message: "too many".into(),
        })
        .await
        .expect("gate result");
    let dump = store
        .put_artifact(b"PGDMP beta dump", "application/octet-stream", None)
        .await
        .expect("dump");
    let backup = store
        .record_backup(&NewBackup {
            job_id: None,
            environment: "beta-production".into(),
            kind: "manual".into(),
            size_bytes: 15,
            sha256: dump.sha256.clone(),
            location: "artifacts".into(),
            retention_class: "manual".into(),
            expires_at: None,
        })
        .await
        .expect("backup");
    store
        .record_secret_sync(&NewSecretSync {
            run_id: None,
            target: "supabase".into(),
            environment: Some("beta-production".into()),
            pushed_keys: vec!["BETA_SMTP_PASSWORD".into()],
            skipped_keys: vec![],
            outcome: "succeeded".into(),
            message: "1 key".into(),
        })
        .await
        .expect("secret sync");
    let job = match store
        .enqueue(
            "reconcile",
            "beta-job",
            &json!({"action": "plan", "environment": "beta-staging"}),
            None,
        )
        .await
        .expect("enqueue")
    {
        Enqueued::New(j) | Enqueued::Existing(j) => j,
    };
    let global = store
        .begin_run(&NewRun {
            kind: RunKind::Apply,
            trigger: Trigger::Cli,
            ssot_revision: "sha256:both".into(),
            actor: "test".into(),
            environment: None,
            correlation_id: None,
        })
        .await
        .expect("global run");
    store
        .ingest_inventory(
            Some(run.id),
            &[
                ObservedObject {
                    provider: "digitalocean".into(),
                    object_type: "droplet".into(),
                    object_id: "101".into(),
                    name: Some("quickstart-staging".into()),
                    environment: Some("staging".into()),
                    owned: true,
                    attributes: json!({}),
                },
                ObservedObject {
                    provider: "digitalocean".into(),
                    object_type: "droplet".into(),
                    object_id: "202".into(),
                    name: Some("beta-staging".into()),
                    environment: Some("beta-staging".into()),
                    owned: true,
                    attributes: json!({}),
                },
            ],
        )
        .await
        .expect("inventory");
    Beta {
        correlation: run.correlation_id.clone(),
        run: run.id,
        plan: plan.id,
        plan_artifact: plan.artifact_sha256,
        dump_artifact: dump.sha256,
        backup: backup.id,
        job: job.id,
        global_run: global.id,
    }
}

async fn get(base: &str, path: &str, token: Option<&str>) -> (u16, String) {
    let mut req = client().get(format!("{base}{path}"));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.expect("request");
    let status = r.status().as_u16();
    (status, r.text().await.expect("body"))
}

async fn post(base: &str, kind: &str, token: &str, key: &str, body: Value) -> (u16, Value) {
    let r = client()
        .post(format!("{base}/api/actions/{kind}"))
        .bearer_auth(token)
        .header("idempotency-key", key)
        .json(&body)
        .send()
        .await
        .expect("request");
    let status = r.status().as_u16();
    (status, r.json().await.expect("JSON"))
}

/// Every list page and list API (no path parameter).
fn lists() -> Vec<String> {
    let mut v: Vec<String> = NAV.iter().map(|(p, _)| p.to_string()).collect();
    v.extend(
        API_ROUTES
            .iter()
            .filter(|r| r.access == Access::Read && !r.path.contains('{'))
            .map(|r| r.path.to_string()),
    );
    v.push("/metrics".into());
    v
}

/// A reader of quickstart only (a token of it, or anonymous through its publicRead) sees
/// nothing of beta.
async fn sees_nothing_of_beta(base: &str, who: &str, token: Option<&str>, beta: &Beta) {
    // Every API read route of one record is tried with one of beta's (a new route must be
    // added to `Beta::urls`).
    let urls = beta.urls();
    for route in API_ROUTES
        .iter()
        .filter(|r| r.access == Access::Read && r.path.contains('{'))
    {
        let prefix = route.path.split('{').next().unwrap_or_default();
        let suffix = route.path.rsplit('}').next().unwrap_or_default();
        assert!(
            urls.iter().any(|u| u.starts_with(prefix)
                && u.ends_with(suffix)
                && u.len() > prefix.len() + suffix.len()),
            "{} has no beta record in Beta::urls",
            route.path
        );
    }
    for url in urls {
        let (status, body) = get(base, &url, token).await;
        assert!(
            status == 404 || status == 403,
            "{who}: {url} answered {status}, not 403/404:\n{body}"
        );
        for m in beta.markers() {
            // The 404 message may echo the requested name, never anything else of beta's.
            if url.contains(&m) {
                continue;
            }
            assert!(!body.contains(&m), "{who}: {url} shows {m}:\n{body}");
        }
    }
    for url in lists() {
        let (status, body) = get(base, &url, token).await;
        assert_eq!(status, 200, "{who}: {url}:\n{body}");
        for m in beta.markers() {
            assert!(!body.contains(&m), "{who}: {url} shows {m}:\n{body}");
        }
    }
}

#[tokio::test]
async fn a_project_token_sees_nothing_of_another_project() {
    let (_dir, ssot) = two_projects();
    let b = common::sqlite().await;
    let alpha = populate(&b.store).await;
    let beta = populate_beta(&b.store).await;
    let base = start(b.store.clone(), config_for(ssot)).await;

    sees_nothing_of_beta(&base, "quickstart viewer", Some(A_VIEWER), &beta).await;
    sees_nothing_of_beta(&base, "quickstart operator", Some(A_OPERATOR), &beta).await;
    // publicRead is per project: anonymous readers see quickstart, not beta.
    sees_nothing_of_beta(&base, "anonymous", None, &beta).await;

    // The lists are quickstart's own (positive controls).
    let (_, body) = get(&base, "/api/environments", Some(A_VIEWER)).await;
    let v: Value = serde_json::from_str(&body).expect("JSON");
    let names: Vec<&str> = v["data"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|e| e["name"].as_str())
        .collect();
    assert_eq!(names, ["production", "staging"], "{v}");
    let (_, body) = get(&base, "/api/runs", Some(A_VIEWER)).await;
    assert!(body.contains(&alpha.run_id.to_string()), "{body}");
    let (s, _) = get(&base, &format!("/runs/{}", alpha.run_id), Some(A_VIEWER)).await;
    assert_eq!(s, 200);
    let (s, _) = get(&base, &format!("/artifacts/{}", alpha.plan_artifact), None).await;
    assert_eq!(
        s, 200,
        "a public project's artifact is readable anonymously"
    );
    let (_, body) = get(&base, "/api/drift", Some(A_VIEWER)).await;
    let v: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(v["data"]["open"].as_array().map(Vec::len), Some(1), "{v}");
    // Quickstart's own records, read by its viewer, link nothing of beta's: the environment
    // page's runs and last run leave out the project-wide run, the plan page its appliers.
    for url in [
        "/environments/staging".to_string(),
        "/api/environments/staging".to_string(),
        "/api/environments/production".to_string(),
        format!("/api/plans/{}", alpha.plan_id),
        format!("/plans/{}", alpha.plan_id),
        "/api/drift/history?environment=staging".to_string(),
        "/api/jobs?status=queued".to_string(),
    ] {
        let (s, body) = get(&base, &url, Some(A_VIEWER)).await;
        assert_eq!(s, 200, "{url}: {body}");
        for m in beta.markers() {
            assert!(!body.contains(&m), "{url} shows {m}:\n{body}");
        }
    }

    // Beta's operator sees beta, and quickstart since it is public: it reads every project,
    // so the project-wide run too (the quickstart readers above got 404 for it).
    let (s, _) = get(&base, &format!("/api/runs/{}", beta.run), Some(B_OPERATOR)).await;
    assert_eq!(s, 200);
    let (s, _) = get(
        &base,
        &format!("/artifacts/{}", beta.dump_artifact),
        Some(B_OPERATOR),
    )
    .await;
    assert_eq!(s, 200, "beta's own backup dump");
    let (s, _) = get(
        &base,
        &format!("/api/runs/{}", beta.global_run),
        Some(B_OPERATOR),
    )
    .await;
    assert_eq!(
        s, 200,
        "beta's operator reads every project (quickstart is public)"
    );
    // A token listed by every project sees the project-wide run too.
    let (s, _) = get(
        &base,
        &format!("/api/runs/{}", beta.global_run),
        Some(AGENCY),
    )
    .await;
    assert_eq!(s, 200);
    let (_, body) = get(&base, "/api/runs", Some(AGENCY)).await;
    assert!(body.contains(&beta.run.to_string()) && body.contains(&alpha.run_id.to_string()));
    b.finish().await;
}

#[tokio::test]
async fn writes_need_the_operator_role_on_that_project() {
    let (_dir, ssot) = two_projects();
    let b = common::sqlite().await;
    populate(&b.store).await;
    let beta = populate_beta(&b.store).await;
    let base = start(b.store.clone(), config_for(ssot)).await;
    let env = |e: &str| json!({"environment": e});

    // Operator of quickstart: its environments yes, beta's no (answered as unknown), and a
    // project-wide action (no environment) no: it is not an operator of every project.
    let (s, v) = post(&base, "plan", A_OPERATOR, "k-a-1", env("staging")).await;
    assert_eq!(s, 202, "{v}");
    let (s, v) = post(&base, "plan", A_OPERATOR, "k-a-2", env("beta-staging")).await;
    assert_eq!(s, 422, "{v}");
    assert_eq!(v["error"]["code"], "unknown_environment");
    let (s, v) = post(&base, "plan", A_OPERATOR, "k-a-3", json!({})).await;
    assert_eq!(s, 403, "{v}");
    let (s, v) = post(
        &base,
        "clone",
        A_OPERATOR,
        "k-a-4",
        json!({"environment": "staging", "from": "beta-production"}),
    )
    .await;
    assert_eq!(s, 422, "{v}");
    let (s, v) = post(
        &base,
        "restore",
        A_OPERATOR,
        "k-a-5",
        json!({"environment": "production", "backup_id": beta.backup}),
    )
    .await;
    assert_eq!(s, 422, "{v}");
    assert_eq!(v["error"]["code"], "unknown_backup");
    let (s, v) = post(
        &base,
        "apply",
        A_OPERATOR,
        "k-a-6",
        json!({"environment": "staging", "plan_id": beta.plan}),
    )
    .await;
    assert_eq!(s, 422, "{v}");
    assert_eq!(v["error"]["code"], "unknown_plan");
    // Viewer of quickstart: no writes at all.
    let (s, v) = post(&base, "plan", A_VIEWER, "k-v-1", env("staging")).await;
    assert_eq!(s, 403, "{v}");
    // Beta's operator: beta yes; quickstart (only publicly readable) 403; and replaying
    // quickstart's Idempotency-Key does not hand out quickstart's job.
    let (s, v) = post(&base, "plan", B_OPERATOR, "k-b-1", env("beta-staging")).await;
    assert_eq!(s, 202, "{v}");
    let (s, v) = post(&base, "plan", B_OPERATOR, "k-b-2", env("staging")).await;
    assert_eq!(s, 403, "{v}");
    let (s, v) = post(&base, "plan", B_OPERATOR, "k-a-1", env("staging")).await;
    assert_eq!(s, 403, "{v}");
    assert!(v.get("data").is_none(), "{v}");
    // The job lists stay per project.
    let (_, body) = get(&base, "/api/runs", Some(A_VIEWER)).await;
    assert!(!body.contains("beta-staging"), "{body}");
    b.finish().await;
}

#[tokio::test]
async fn restore_and_clone_need_the_operator_role_on_both_ends() {
    let (_dir, ssot) = two_projects();
    let b = common::sqlite().await;
    populate(&b.store).await;
    let beta = populate_beta(&b.store).await;
    let base = start(b.store.clone(), config_for(ssot)).await;
    let (s, body) = get(&base, "/api/backups", Some(A_VIEWER)).await;
    assert_eq!(s, 200, "{body}");
    let v: Value = serde_json::from_str(&body).expect("json");
    let alpha_backup = v["data"]["backups"][0]["id"]
        .as_str()
        .expect("quickstart's backup")
        .to_string();

    // Beta's operator reads quickstart (publicRead) but may not copy its data into beta.
    let (s, v) = post(
        &base,
        "restore",
        B_OPERATOR,
        "k-r-1",
        json!({"environment": "beta-staging", "backup_id": alpha_backup}),
    )
    .await;
    assert_eq!(s, 403, "{v}");
    assert!(v["error"]["message"]
        .as_str()
        .is_some_and(|m| m.contains("\"production\"")));
    let (s, v) = post(
        &base,
        "restore",
        B_OPERATOR,
        "k-r-2",
        json!({"environment": "beta-staging", "backup_id": beta.backup}),
    )
    .await;
    assert_eq!(s, 202, "{v}");

    // The Backups page offers only what the action would accept.
    let (s, page) = get(&base, "/backups", Some(B_OPERATOR)).await;
    assert_eq!(s, 200);
    assert!(
        !page.contains(&format!("name=\"backup_id\" value=\"{alpha_backup}\"")),
        "no restore form for quickstart's backup: {page}"
    );
    assert!(
        page.contains(&format!("name=\"backup_id\" value=\"{}\"", beta.backup)),
        "a restore form for beta's backup: {page}"
    );
    for quickstart in ["staging", "production"] {
        assert!(
            !page.contains(&format!("<option value=\"{quickstart}\">")),
            "quickstart's {quickstart} is offered to beta's operator: {page}"
        );
    }
    assert!(page.contains("<option value=\"beta-staging\">"), "{page}");
    // A reader of quickstart only gets no forms at all.
    let (_, page) = get(&base, "/backups", Some(A_VIEWER)).await;
    assert!(!page.contains("action=\"/actions/restore\""), "{page}");
    assert!(!page.contains("action=\"/actions/clone\""), "{page}");
    b.finish().await;
}

#[tokio::test]
async fn a_finding_last_seen_by_a_project_wide_run_does_not_link_it_for_a_project_reader() {
    let (_dir, ssot) = two_projects();
    let b = common::sqlite().await;
    populate(&b.store).await;
    let beta = populate_beta(&b.store).await;
    b.store
        .upsert_drift(&[DriftObservation {
            environment: "staging".into(),
            resource_kind: "firewall".into(),
            resource_name: "quickstart-staging".into(),
            field_path: "inbound".into(),
            desired: Some(json!([22])),
            observed: Some(json!([22, 5432])),
            run_id: Some(beta.global_run),
        }])
        .await
        .expect("drift");
    let base = start(b.store.clone(), config_for(ssot)).await;
    for path in ["/api/drift", "/api/drift?environment=staging"] {
        let (s, body) = get(&base, path, Some(A_VIEWER)).await;
        assert_eq!(s, 200, "{body}");
        let v: Value = serde_json::from_str(&body).expect("json");
        let finding = v["data"]["open"]
            .as_array()
            .and_then(|a| a.iter().find(|f| f["field_path"] == "inbound"))
            .unwrap_or_else(|| panic!("{path}: the finding is listed: {body}"));
        assert!(finding["last_run_id"].is_null(), "{path}: {finding}");
        assert!(
            !body.contains(&beta.global_run.to_string()),
            "{path}: {body}"
        );
    }
    // The agency's token sees every project: the link stays.
    let (_, body) = get(&base, "/api/drift", Some(AGENCY)).await;
    assert!(body.contains(&beta.global_run.to_string()), "{body}");
    b.finish().await;
}
