//! The contract harness: load a provider spec, validate request and answer bodies against
//! its schemas, collect every failure. Shared by `tests/contract_specs.rs`.

use odooops::provider::http::{Auth, ClientConfig, HttpClient, Metrics, Request};
use odooops::provider::Provider;
use odooops::sim;
use reqwest::Method;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::Arc;

pub fn spec_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/provider-specs")
}

/// Rewrite OpenAPI 3.0 `nullable` into plain JSON Schema, everywhere below `v`.
pub fn denullable(v: &mut Value) {
    match v {
        Value::Array(a) => a.iter_mut().for_each(denullable),
        Value::Object(m) => {
            m.values_mut().for_each(denullable);
            if m.get("nullable") != Some(&Value::Bool(true)) {
                return;
            }
            m.remove("nullable");
            if let Some(Value::Array(e)) = m.get_mut("enum") {
                e.push(Value::Null);
            }
            match m.get("type").cloned() {
                Some(Value::String(t)) => {
                    m.insert("type".into(), json!([t, "null"]));
                }
                _ => {
                    let inner = Value::Object(std::mem::take(m));
                    m.insert("anyOf".into(), json!([inner, {"type": "null"}]));
                }
            }
        }
        _ => {}
    }
}

/// One provider's spec and the failures found against it.
/// Rewrite every `oneOf` as `anyOf`.
pub fn one_of_as_any_of(v: &mut Value) {
    match v {
        Value::Object(m) => {
            if let Some(branches) = m.remove("oneOf") {
                m.insert("anyOf".into(), branches);
            }
            for child in m.values_mut() {
                one_of_as_any_of(child);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(one_of_as_any_of),
        _ => {}
    }
}

pub struct Spec {
    pub name: &'static str,
    doc: Value,
    /// Swagger 2.0 (`definitions`, schema directly on the response) or OpenAPI 3.
    swagger: bool,
    pub failures: Vec<String>,
}

impl Spec {
    pub fn load(name: &'static str, file: &str) -> Spec {
        let path = spec_dir().join(file);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (the specs live in ../shared beside the repo)",
                path.display()
            )
        });
        let mut doc: Value = serde_json::from_str(&text).expect("spec is JSON");
        denullable(&mut doc);
        if name == "vercel" {
            // Vercel's `oneOf`s are not exclusive (the env list's `{envs, pagination}` also
            // matches its `{envs}` branch), so any real answer fails "exactly one": they are
            // read as the `anyOf` they mean.
            one_of_as_any_of(&mut doc);
        }
        let swagger = doc.get("swagger").is_some();
        Spec {
            name,
            doc,
            swagger,
            failures: Vec::new(),
        }
    }

    fn op(&self, path: &str, method: &str) -> &Value {
        let op = &self.doc["paths"][path][method];
        assert!(
            op.is_object(),
            "{}: no operation {method} {path}",
            self.name
        );
        op
    }

    /// Embed `schema` with the spec's shared definitions, so `$ref`s resolve.
    fn wrap(&self, schema: &Value) -> Value {
        let mut w = json!({"$ref": "#/x-root", "x-root": schema});
        for k in ["components", "definitions"] {
            if let Some(c) = self.doc.get(k) {
                w[k] = c.clone();
            }
        }
        w
    }

    pub fn check(&mut self, what: &str, schema: &Value, instance: &Value) {
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft4)
            .should_validate_formats(true)
            // Not draft-4 formats, but OpenAPI 3.0 uses them.
            .with_format("uuid", |s: &str| uuid::Uuid::parse_str(s).is_ok())
            .with_format("date", |s: &str| {
                chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok()
            })
            .build(&self.wrap(schema));
        let validator = match validator {
            Ok(v) => v,
            Err(e) => {
                self.failures.push(format!(
                    "{}: {what}: schema does not compile: {e}",
                    self.name
                ));
                return;
            }
        };
        for e in validator.iter_errors(instance) {
            self.failures.push(format!(
                "{}: {what}: at `{}`: {e}",
                self.name,
                e.instance_path()
            ));
        }
    }

    fn resolve<'a>(&'a self, schema: &'a Value) -> &'a Value {
        match schema.get("$ref").and_then(Value::as_str) {
            Some(r) => self
                .doc
                .pointer(r.trim_start_matches('#'))
                .map_or(schema, |s| self.resolve(s)),
            None => schema,
        }
    }

    /// Validate an answer: its status must be documented, its body must match.
    pub fn resp(&mut self, path: &str, method: &str, status: u16, body: &Value) {
        self.resp_as(path, method, &status.to_string(), body)
    }

    /// Validate an answer against the response documented under `key` (a status or
    /// `default`; Slack documents its HTTP-200 application errors as `default`).
    pub fn resp_as(&mut self, path: &str, method: &str, key: &str, body: &Value) {
        let what = format!("{} {path} → {key}", method.to_uppercase());
        let responses = &self.op(path, method)["responses"];
        let Some(r) = responses.get(key).or_else(|| responses.get("default")) else {
            self.failures
                .push(format!("{}: {what}: status not documented", self.name));
            return;
        };
        let schema = if self.swagger {
            r.get("schema")
        } else {
            r.pointer("/content/application~1json/schema")
        };
        match schema.cloned() {
            Some(s) => self.check(&what, &s, body),
            None if body.is_null() => {}
            None => self.failures.push(format!(
                "{}: {what}: the spec documents no body, the answer has one",
                self.name
            )),
        }
    }

    /// Validate a request body, and that it sends only declared, writable properties.
    pub fn req(&mut self, path: &str, method: &str, body: &Value) {
        let what = format!("{} {path} request", method.to_uppercase());
        let Some(schema) = self
            .op(path, method)
            .pointer("/requestBody/content/application~1json/schema")
            .cloned()
        else {
            self.failures.push(format!(
                "{}: {what}: no JSON request body in the spec",
                self.name
            ));
            return;
        };
        self.check(&what, &schema, body);
        let root = self.resolve(&schema).clone();
        let mut found = Vec::new();
        if let (Some(props), Some(sent)) = (
            root.get("properties").and_then(Value::as_object),
            body.as_object(),
        ) {
            for k in sent.keys() {
                match props.get(k).map(|p| self.resolve(p)) {
                    None => found.push(format!(
                        "{}: {what}: `{k}` is not a declared property",
                        self.name
                    )),
                    Some(p) if p.get("readOnly") == Some(&Value::Bool(true)) => {
                        found.push(format!("{}: {what}: `{k}` is read-only", self.name))
                    }
                    Some(_) => {}
                }
            }
        }
        self.failures.extend(found);
    }

    pub fn assert_clean(&self) {
        assert!(
            self.failures.is_empty(),
            "{} contract failures:\n{}",
            self.failures.len(),
            self.failures.join("\n")
        );
    }
}

pub async fn client(running: &sim::Running, p: Provider, auth: Auth) -> HttpClient {
    let mut cc = ClientConfig::new(p, &running.provider_url(p), auth);
    cc.rates = vec![];
    HttpClient::new(cc, Arc::new(Metrics::default())).expect("client")
}

/// Send and return (status, JSON body or null) whatever the status.
pub async fn call(http: &HttpClient, req: Request) -> (u16, Value) {
    match http.send(req).await {
        Ok(r) => (
            r.status,
            serde_json::from_str(&r.body).unwrap_or(Value::Null),
        ),
        Err(e) => panic!("unexpected failure: {e}"),
    }
}

/// The raw error answer (status and body) of a request that fails.
pub async fn raw_error(
    running: &sim::Running,
    method: Method,
    url: &str,
    headers: &[(&str, String)],
) -> (u16, Value) {
    let mut rb = reqwest::Client::new().request(method, format!("{}{url}", running.url()));
    for (k, v) in headers {
        rb = rb.header(*k, v);
    }
    let r = rb.send().await.expect("answer");
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

pub fn token() -> String {
    format!("test-token-{}", "contract")
}
