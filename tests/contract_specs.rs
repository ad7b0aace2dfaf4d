//! Contract tests: what the adapters send and what the simulator answers, validated against
//! each provider's published schema in `../shared/provider-specs/` (beside the repo root).
//!
//! How the schemas are used:
//! - OpenAPI 3.0 `nullable: true` is rewritten to JSON-Schema `type: [T, "null"]` (or
//!   `anyOf [..., null]`); everything else is used as published, as draft 4 (OpenAPI 3.0 and
//!   Swagger 2.0 schemas are draft-4 dialects).
//! - jsonschema 0.61 has no public switch for meta-schema validation, and some upstream specs
//!   do not pass it (Vercel's duplicate `enum` values, an empty `oneOf`). So every schema is
//!   embedded under a non-keyword (`{"$ref": "#/x-root", "x-root": …, "components": …}`): the
//!   meta-schema sees only `$ref`, and `$ref`s inside resolve against the embedded components.
//! - Formats (`uuid`, `date-time`, …) are asserted.
//! - Request bodies also must not carry properties the schema does not declare or marks
//!   `readOnly` (server-owned).
//!
//! What the specs lack (checked by hand instead, or not at all):
//! - Slack: no spec for incoming webhooks (plain-text `ok` / error strings); the Web API
//!   Swagger is frozen in 2021 (its error enum lacks `ratelimited`, `invalid_blocks`), so error
//!   codes are checked against the current `slack-api-ref` error list, and request arguments
//!   against its argument list (the Swagger file has them as form fields only).
//! - Plane: generated from source (not official); no error body schemas (401/403/404/409
//!   carry descriptions only); `Issue` omits `labels`/`assignees` in answers (write-only in
//!   the request), though the server returns them.
//! - DigitalOcean: complete for the paths used, error bodies included.
//! - Supabase: no `securitySchemes`, no error-body schemas at all (status codes only).
//! - Vercel: operations reference no error schemas; rate-limit headers are undeclared.
//!
//! Adding a provider: a `Spec::load(...)` line and `resp`/`req` calls per endpoint.

use odooops::provider::digitalocean::{
    cluster_body, droplet_body, firewall_body, record_body, Droplet, DropletCreate, Firewall,
    Record, Rule,
};
use odooops::provider::http::{Auth, Request};
use odooops::provider::plane::{work_item_body, Finding};
use odooops::provider::slack::post_message_body;
use odooops::provider::{Provider, SecretValue};
use odooops::sim::{self, faults::FaultConfig};
use reqwest::Method;
use serde_json::{json, Map, Value};

mod contract;
use contract::{call, client, raw_error, spec_dir, token, Spec};

#[tokio::test]
async fn digitalocean_matches_its_openapi_description() {
    let mut spec = Spec::load(
        "digitalocean",
        "digitalocean/DigitalOcean-public.v2.needed.deref.json",
    );
    let running = sim::start("127.0.0.1:0", FaultConfig::default())
        .await
        .expect("sim");
    let http = client(
        &running,
        Provider::Digitalocean,
        Auth::Bearer(SecretValue::new(token())),
    )
    .await;

    let (s, b) = call(&http, Request::get("/v2/account")).await;
    spec.resp("/v2/account", "get", s, &b);

    let create = DropletCreate {
        droplet: Droplet {
            name: "acme-staging".into(),
            region: "fra1".into(),
            size: "s-2vcpu-4gb".into(),
            image: "ubuntu-24-04-x64".into(),
            tags: vec!["odooops:managed".into(), "odooops:env:staging".into()],
            monitoring: true,
            backups: true,
            ipv6: true,
        },
        user_data: "#cloud-config\n".into(),
        ssh_keys: vec!["3b:16:bf:e4:8b:00:8b:b8:59:8c:a9:d3:f0:19:45:fa".into()],
    };
    let body = droplet_body(&create);
    spec.req("/v2/droplets", "post", &body);
    let (s, b) = call(&http, Request::post("/v2/droplets", body)).await;
    spec.resp("/v2/droplets", "post", s, &b);
    let id = b["droplet"]["id"].as_u64().expect("droplet id");
    let (s, b) = call(
        &http,
        Request::get("/v2/droplets").query("tag_name", "odooops:managed"),
    )
    .await;
    spec.resp("/v2/droplets", "get", s, &b);
    let (s, b) = call(&http, Request::get(format!("/v2/droplets/{id}"))).await;
    spec.resp("/v2/droplets/{droplet_id}", "get", s, &b);
    let (s, b) = raw_error(
        &running,
        Method::GET,
        "/digitalocean/v2/droplets/1",
        &[("authorization", format!("Bearer {}", token()))],
    )
    .await;
    spec.resp("/v2/droplets/{droplet_id}", "get", s, &b);
    let (s, b) = raw_error(&running, Method::GET, "/digitalocean/v2/account", &[]).await;
    spec.resp("/v2/account", "get", s, &b);

    let rule = |ports: &str, addr: &str| Rule {
        protocol: "tcp".into(),
        ports: ports.into(),
        addresses: vec![addr.into()],
        tags: vec![],
    };
    let fw = Firewall {
        name: "odooops-acme-staging".into(),
        inbound: vec![rule("443", "0.0.0.0/0"), rule("22", "203.0.113.10/32")],
        outbound: vec![rule("all", "0.0.0.0/0")],
        tags: vec!["odooops:env:staging".into()],
    };
    let body = firewall_body(&fw);
    spec.req("/v2/firewalls", "post", &body);
    let (s, b) = call(&http, Request::post("/v2/firewalls", body)).await;
    spec.resp("/v2/firewalls", "post", s, &b);
    let fw_id = b["firewall"]["id"]
        .as_str()
        .expect("firewall id")
        .to_string();
    let (s, b) = call(&http, Request::get("/v2/firewalls")).await;
    spec.resp("/v2/firewalls", "get", s, &b);
    let body = firewall_body(&Firewall {
        inbound: vec![rule("443", "0.0.0.0/0")],
        ..fw
    });
    spec.req("/v2/firewalls/{firewall_id}", "put", &body);
    let (s, b) = call(
        &http,
        Request::new(Method::PUT, format!("/v2/firewalls/{fw_id}")).json(body),
    )
    .await;
    spec.resp("/v2/firewalls/{firewall_id}", "put", s, &b);

    let body = json!({"name": "acme.example"});
    spec.req("/v2/domains", "post", &body);
    let (s, b) = call(&http, Request::post("/v2/domains", body)).await;
    spec.resp("/v2/domains", "post", s, &b);
    let (s, b) = call(&http, Request::get("/v2/domains")).await;
    spec.resp("/v2/domains", "get", s, &b);
    let rec = Record {
        kind: "A".into(),
        name: "staging".into(),
        data: "203.0.113.7".into(),
        ttl: 1800,
    };
    let body = record_body(&rec);
    spec.req("/v2/domains/{domain_name}/records", "post", &body);
    let (s, b) = call(
        &http,
        Request::post("/v2/domains/acme.example/records", body),
    )
    .await;
    spec.resp("/v2/domains/{domain_name}/records", "post", s, &b);
    let rec_id = b["domain_record"]["id"].as_u64().expect("record id");
    let (s, b) = call(&http, Request::get("/v2/domains/acme.example/records")).await;
    spec.resp("/v2/domains/{domain_name}/records", "get", s, &b);
    let body = record_body(&Record {
        data: "203.0.113.8".into(),
        ..rec
    });
    spec.req(
        "/v2/domains/{domain_name}/records/{domain_record_id}",
        "put",
        &body,
    );
    let (s, b) = call(
        &http,
        Request::new(
            Method::PUT,
            format!("/v2/domains/acme.example/records/{rec_id}"),
        )
        .json(body),
    )
    .await;
    spec.resp(
        "/v2/domains/{domain_name}/records/{domain_record_id}",
        "put",
        s,
        &b,
    );

    let body = cluster_body(
        &odooops::provider::digitalocean::ClusterSpec {
            name: "acme-pg".into(),
            engine: "pg".into(),
            version: "16".into(),
            region: "fra1".into(),
            size: "db-s-1vcpu-1gb".into(),
            nodes: 1,
        },
        &["odooops:managed".into()],
    );
    spec.req("/v2/databases", "post", &body);
    let (s, b) = call(&http, Request::post("/v2/databases", body)).await;
    spec.resp("/v2/databases", "post", s, &b);
    let (s, b) = call(&http, Request::get("/v2/databases")).await;
    spec.resp("/v2/databases", "get", s, &b);

    let body = json!({"name": "odooops:managed"});
    spec.req("/v2/tags", "post", &body);
    let (s, b) = call(&http, Request::post("/v2/tags", body)).await;
    spec.resp("/v2/tags", "post", s, &b);
    let (s, b) = call(&http, Request::get("/v2/tags")).await;
    spec.resp("/v2/tags", "get", s, &b);
    spec.assert_clean();
}

#[tokio::test]
async fn plane_matches_its_openapi_description() {
    let mut spec = Spec::load("plane", "plane/plane-api-v1.openapi.generated.json");
    let running = sim::start("127.0.0.1:0", FaultConfig::default())
        .await
        .expect("sim");
    let http = client(
        &running,
        Provider::Plane,
        Auth::Header("X-API-Key", SecretValue::new(token())),
    )
    .await;
    let base = "/api/v1/workspaces/acme/projects/5f0c7e1a-3b7e-4d1c-9a51-0d6f4a8e2b10";
    let items = "/api/v1/workspaces/{slug}/projects/{project_id}/work-items/";
    let item = "/api/v1/workspaces/{slug}/projects/{project_id}/work-items/{pk}/";

    let (s, b) = call(&http, Request::get("/api/v1/users/me/")).await;
    spec.resp("/api/v1/users/me/", "get", s, &b);
    let (s, states) = call(
        &http,
        Request::get(format!("{base}/states/")).query("per_page", 100),
    )
    .await;
    spec.resp(
        "/api/v1/workspaces/{slug}/projects/{project_id}/states/",
        "get",
        s,
        &states,
    );
    let (s, labels) = call(
        &http,
        Request::get(format!("{base}/labels/")).query("per_page", 100),
    )
    .await;
    spec.resp(
        "/api/v1/workspaces/{slug}/projects/{project_id}/labels/",
        "get",
        s,
        &labels,
    );
    let body = json!({"name": "acme"});
    spec.req(
        "/api/v1/workspaces/{slug}/projects/{project_id}/labels/",
        "post",
        &body,
    );
    let (s, b) = call(&http, Request::post(format!("{base}/labels/"), body)).await;
    spec.resp(
        "/api/v1/workspaces/{slug}/projects/{project_id}/labels/",
        "post",
        s,
        &b,
    );

    let state = states["results"][1]["id"].as_str().map(str::to_string);
    let label = labels["results"][0]["id"]
        .as_str()
        .map(str::to_string)
        .into_iter()
        .collect::<Vec<_>>();
    let f = Finding {
        external_id: "drift-acme-staging".into(),
        name: "Drift on acme-staging".into(),
        description_html: "<p>rule removed</p>".into(),
        priority: "high".into(),
        labels: vec![],
        state: None,
    };
    let body = work_item_body(&f, state.as_deref(), &label);
    spec.req(items, "post", &body);
    let (s, created) = call(&http, Request::post(format!("{base}/work-items/"), body)).await;
    spec.resp(items, "post", s, &created);
    let id = created["id"].as_str().expect("id").to_string();
    for q in [
        vec![],
        vec![
            ("external_id", "drift-acme-staging"),
            ("external_source", "odooops"),
        ],
    ] {
        let mut req = Request::get(format!("{base}/work-items/")).query("per_page", 20);
        for (k, v) in q {
            req = req.query(k, v);
        }
        let (s, b) = call(&http, req).await;
        spec.resp(items, "get", s, &b);
    }
    let (s, b) = call(&http, Request::get(format!("{base}/work-items/{id}/"))).await;
    spec.resp(item, "get", s, &b);
    let body = json!({"state": states["results"][3]["id"]});
    spec.req(item, "patch", &body);
    let (s, b) = call(
        &http,
        Request::new(Method::PATCH, format!("{base}/work-items/{id}/")).json(body),
    )
    .await;
    spec.resp(item, "patch", s, &b);
    spec.assert_clean();
}

#[tokio::test]
async fn slack_matches_its_web_api_description() {
    let mut spec = Spec::load("slack", "slack/slack_web_openapi_v2_without_examples.json");
    let reference: Value = serde_json::from_str(
        &std::fs::read_to_string(spec_dir().join("slack/slack-api-ref.chat.postMessage.json"))
            .expect("api ref"),
    )
    .expect("json");
    let args: &Map<String, Value> = reference["args"].as_object().expect("args");
    let errors: &Map<String, Value> = reference["errors"].as_object().expect("errors");
    let running = sim::start("127.0.0.1:0", FaultConfig::default())
        .await
        .expect("sim");
    let http = client(
        &running,
        Provider::Slack,
        Auth::Bearer(SecretValue::new(token())),
    )
    .await;

    let body = post_message_body("#alerts", "gate failed: smtp");
    for (k, a) in args {
        if a["required"] == true && body.get(k).is_none() {
            spec.failures
                .push(format!("slack: chat.postMessage: required `{k}` not sent"));
        }
    }
    for k in body.as_object().expect("object").keys() {
        if !args.contains_key(k) {
            spec.failures
                .push(format!("slack: chat.postMessage: `{k}` is not an argument"));
        }
    }
    let (s, b) = call(&http, Request::post("/api/chat.postMessage", body)).await;
    spec.resp("/chat.postMessage", "post", s, &b);
    let blocks = json!({"channel": "C0ALERTS001", "text": "fallback", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "*x*"}}]});
    let (s, b) = call(&http, Request::post("/api/chat.postMessage", blocks)).await;
    spec.resp("/chat.postMessage", "post", s, &b);
    let (s, b) = call(&http, Request::post("/api/auth.test", json!({}))).await;
    spec.resp("/auth.test", "get", s, &b);

    // Application errors: HTTP 200, `ok:false`, a code Slack documents today.
    for (body, auth) in [
        (json!({"channel": "#nowhere", "text": "x"}), true),
        (json!({"channel": "#alerts"}), true),
        (json!({"channel": "#alerts", "text": "x"}), false),
    ] {
        let h: Vec<(&str, String)> = if auth {
            vec![("authorization", format!("Bearer {}", token()))]
        } else {
            vec![]
        };
        let mut rb = reqwest::Client::new()
            .post(format!("{}/slack/api/chat.postMessage", running.url()))
            .json(&body);
        for (k, v) in h {
            rb = rb.header(k, v);
        }
        let r = rb.send().await.expect("answer");
        let status = r.status().as_u16();
        let b: Value = r.json().await.expect("json");
        assert_eq!(status, 200, "Web API errors are HTTP 200");
        let code = b["error"].as_str().unwrap_or("");
        if !errors.contains_key(code) && !["not_authed", "invalid_auth"].contains(&code) {
            spec.failures.push(format!(
                "slack: chat.postMessage error `{code}` is not documented"
            ));
        }
        spec.resp_as("/chat.postMessage", "post", "default", &b);
    }
    spec.assert_clean();
}

/// The harness itself: answers the spec forbids are reported (a validator that accepts
/// everything would make every contract above pass).
#[test]
fn the_harness_rejects_what_the_specs_forbid() {
    let mut plane = Spec::load("plane", "plane/plane-api-v1.openapi.generated.json");
    let item = "/api/v1/workspaces/{slug}/projects/{project_id}/work-items/";
    plane.resp(
        item,
        "post",
        201,
        &json!({"id": "not-a-uuid", "name": "x", "priority": "p1"}),
    );
    plane.resp(item, "get", 200, &json!({"results": []}));
    plane.req(
        item,
        "post",
        &json!({"name": "x", "id": "5f0c7e1a-3b7e-4d1c-9a51-0d6f4a8e2b10", "bogus": 1}),
    );
    plane.resp(item, "post", 418, &json!({}));
    // Nullable fields accept null (the OpenAPI 3.0 rewrite works).
    let before = plane.failures.len();
    plane.resp(
        item,
        "post",
        201,
        &json!({"name": "x", "external_id": null, "state": null}),
    );
    assert_eq!(plane.failures.len(), before, "{:?}", plane.failures);
    let joined = plane.failures.join("\n");
    for expected in [
        "uuid",
        "p1",
        "required",
        "`id` is not a declared",
        "`bogus` is not a declared",
        "not documented",
    ] {
        assert!(
            joined.contains(expected),
            "missing `{expected}` in:\n{joined}"
        );
    }

    let mut slack = Spec::load("slack", "slack/slack_web_openapi_v2_without_examples.json");
    slack.resp(
        "/chat.postMessage",
        "post",
        200,
        &json!({"ok": true, "channel": "alerts", "ts": "1", "message": {}}),
    );
    assert!(slack.failures.len() >= 3, "{:?}", slack.failures);

    let mut d = Spec::load(
        "digitalocean",
        "digitalocean/DigitalOcean-public.v2.needed.deref.json",
    );
    d.resp(
        "/v2/droplets",
        "get",
        200,
        &json!({"droplets": [{"id": "x"}], "links": {}, "meta": {}}),
    );
    d.req("/v2/droplets", "post", &json!({"name": "x"}));
    assert!(d.failures.len() >= 2, "{:?}", d.failures);
}

/// Incoming webhooks have no machine-readable spec: the provider notes (README §4, from
/// Slack's changelog and current docs) list the plain-text answers, checked here by hand.
#[tokio::test]
async fn slack_webhooks_answer_the_documented_plain_text() {
    const DOCUMENTED: [&str; 17] = [
        "invalid_payload",
        "user_not_found",
        "action_prohibited",
        "channel_not_found",
        "channel_is_archived",
        "rollup_error",
        "no_service",
        "no_service_id",
        "no_team",
        "team_disabled",
        "invalid_token",
        "posting_to_general_channel_denied",
        "too_many_attachments",
        "no_text",
        "missing_text_or_fallback_or_attachments",
        "no_active_hooks",
        "ok",
    ];
    let body = odooops::provider::slack::webhook_body("x", Some(&json!([{"type": "divider"}])));
    for k in body.as_object().expect("object").keys() {
        assert!(
            ["text", "blocks", "attachments"].contains(&k.as_str()),
            "`{k}`"
        );
    }
    let running = sim::start("127.0.0.1:0", FaultConfig::default())
        .await
        .expect("sim");
    odooops::sim::lock(&running.state.slack)
        .mutate("hook", "T1/B2", &json!({"disabled": true}), false)
        .expect("disable");
    let post = |hook: &str, body: String| {
        reqwest::Client::new()
            .post(format!("{}/slack/services/T1/{hook}/s3cr3t", running.url()))
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    for (hook, body, status) in [
        ("B1", body.to_string(), 200),
        ("B1", "{}".to_string(), 400),
        ("B1", "not json".to_string(), 400),
        ("B2", body.to_string(), 404),
    ] {
        let r = post(hook, body).await.expect("answer");
        assert_eq!(r.status().as_u16(), status);
        assert!(r.headers()["content-type"]
            .to_str()
            .is_ok_and(|c| c.starts_with("text/plain")));
        let text = r.text().await.expect("text");
        assert!(
            DOCUMENTED.contains(&text.as_str()),
            "undocumented answer `{text}`"
        );
    }
}

#[tokio::test]
async fn supabase_matches_its_openapi_description() {
    let mut spec = Spec::load("supabase", "supabase/management-api-v1.openapi.json");
    let running = sim::start("127.0.0.1:0", FaultConfig::default())
        .await
        .expect("sim");
    let project_ref = "abcdefghijklmnopqrst";
    sim::lock(&running.state.supabase)
        .mutate(
            "project",
            project_ref,
            &json!({"name": "acme", "organization_slug": "acme-org"}),
            false,
        )
        .expect("seed");
    let http = client(
        &running,
        Provider::Supabase,
        Auth::Bearer(SecretValue::new(token())),
    )
    .await;

    let (s, b) = call(&http, Request::get("/v1/projects")).await;
    spec.resp("/v1/projects", "get", s, &b);
    let (s, b) = call(&http, Request::get(format!("/v1/projects/{project_ref}"))).await;
    spec.resp("/v1/projects/{ref}", "get", s, &b);
    let (s, b) = call(&http, Request::get("/v1/organizations/acme-org/projects")).await;
    spec.resp("/v1/organizations/{slug}/projects", "get", s, &b);
    let (s, b) = call(
        &http,
        Request::get(format!("/v1/projects/{project_ref}/health")).query("services", "db"),
    )
    .await;
    spec.resp("/v1/projects/{ref}/health", "get", s, &b);

    let body = odooops::provider::supabase::secrets_body(&[(
        "SMTP_PASSWORD".to_string(),
        SecretValue::new("test-secret-contract"),
    )]);
    spec.req("/v1/projects/{ref}/secrets", "post", &body);
    let (s, _) = call(
        &http,
        Request::post(format!("/v1/projects/{project_ref}/secrets"), body),
    )
    .await;
    assert_eq!(s, 201);
    let (s, b) = call(
        &http,
        Request::get(format!("/v1/projects/{project_ref}/secrets")),
    )
    .await;
    spec.resp("/v1/projects/{ref}/secrets", "get", s, &b);
    let (s, b) = call(
        &http,
        Request::get(format!("/v1/projects/{project_ref}/storage/buckets")),
    )
    .await;
    spec.resp("/v1/projects/{ref}/storage/buckets", "get", s, &b);
    let body = json!(["SMTP_PASSWORD"]);
    spec.req("/v1/projects/{ref}/secrets", "delete", &body);
    spec.assert_clean();
}

#[tokio::test]
async fn vercel_matches_its_openapi_description() {
    let mut spec = Spec::load("vercel", "vercel/vercel-openapi.needed.json");
    let running = sim::start("127.0.0.1:0", FaultConfig::default())
        .await
        .expect("sim");
    {
        let mut st = sim::lock(&running.state.vercel);
        st.mutate(
            "project",
            "acme-portal",
            &json!({"teamId": "team_acme"}),
            false,
        )
        .expect("seed project");
        st.mutate(
            "deployment",
            "dpl_1",
            &json!({"projectId": "acme-portal"}),
            false,
        )
        .expect("seed deployment");
    }
    let http = client(
        &running,
        Provider::Vercel,
        Auth::Bearer(SecretValue::new(token())),
    )
    .await;
    let create = odooops::provider::vercel::EnvCreate::encrypted(
        "SMTP_PASSWORD",
        SecretValue::new("test-secret-contract"),
    );
    let body = json!([create.body()]);
    spec.req("/v10/projects/{idOrName}/env", "post", &body);
    let (s, b) = call(
        &http,
        Request::post("/v10/projects/acme-portal/env", body)
            .query("teamId", "team_acme")
            .query("upsert", "true"),
    )
    .await;
    spec.resp("/v10/projects/{idOrName}/env", "post", s, &b);
    let (s, b) = call(
        &http,
        Request::get("/v10/projects/acme-portal/env").query("teamId", "team_acme"),
    )
    .await;
    spec.resp("/v10/projects/{idOrName}/env", "get", s, &b);
    let id = b["envs"][0]["id"].as_str().expect("env id").to_string();
    let patch = json!({"value": "test-secret-contract-2", "target": ["production"]});
    spec.req("/v9/projects/{idOrName}/env/{id}", "patch", &patch);
    let (s, b) = call(
        &http,
        Request::new(Method::PATCH, format!("/v9/projects/acme-portal/env/{id}"))
            .json(patch)
            .query("teamId", "team_acme"),
    )
    .await;
    spec.resp("/v9/projects/{idOrName}/env/{id}", "patch", s, &b);
    let (s, b) = call(
        &http,
        Request::get("/v6/deployments")
            .query("projectId", "acme-portal")
            .query("teamId", "team_acme"),
    )
    .await;
    spec.resp("/v6/deployments", "get", s, &b);
    let (s, b) = call(
        &http,
        Request::get("/v9/projects/acme-portal/domains").query("teamId", "team_acme"),
    )
    .await;
    spec.resp("/v9/projects/{idOrName}/domains", "get", s, &b);
    spec.assert_clean();
}
