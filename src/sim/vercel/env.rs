//! Project environment variables: list, create (one object or an array, `?upsert=true`,
//! partial success in `failed[]`), edit (`additionalProperties: false`) and remove.

use super::{fail, guard, lock, now_ms, ok, Q};
use crate::sim::Shared;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

const TYPES: [&str; 5] = ["system", "secret", "encrypted", "plain", "sensitive"];
const TARGETS: [&str; 3] = ["production", "preview", "development"];
const EDITABLE: [&str; 7] = [
    "key",
    "target",
    "gitBranch",
    "type",
    "value",
    "customEnvironmentIds",
    "comment",
];

fn bad(s: &Shared, msg: &str) -> Response {
    fail(s, StatusCode::BAD_REQUEST, "bad_request", msg)
}

/// What the API shows of a stored variable: no digest; no value unless `plain`.
fn public(e: &Value) -> Value {
    let mut out = e.clone();
    if let Some(m) = out.as_object_mut() {
        m.remove("valueDigest");
    }
    out
}

fn targets(v: Option<&Value>) -> Result<Vec<String>, String> {
    let list: Vec<&Value> = match v {
        None => return Ok(Vec::new()),
        Some(Value::String(_)) => v.into_iter().collect(),
        Some(Value::Array(a)) => a.iter().collect(),
        Some(_) => return Err("`target` should be an array".into()),
    };
    list.iter()
        .map(|t| match t.as_str() {
            Some(t) if TARGETS.contains(&t) => Ok(t.to_string()),
            _ => Err(format!(
                "`target` values must be one of {}",
                TARGETS.join(", ")
            )),
        })
        .collect()
}

/// Store the value: plain in clear, everything else as a digest only.
fn set_value(rec: &mut Map<String, Value>, kind: &str, value: &str) {
    if kind == "plain" {
        rec.insert("value".into(), json!(value));
        rec.remove("valueDigest");
    } else {
        rec.insert("value".into(), json!(""));
        rec.insert(
            "valueDigest".into(),
            json!(hex::encode(Sha256::digest(value.as_bytes()))),
        );
    }
}

/// Validate one create item.
/// One validated create item.
struct Item {
    key: String,
    value: String,
    kind: String,
    target: Vec<String>,
    branch: Option<String>,
}

fn item(v: &Value) -> Result<Item, String> {
    let key = v
        .get("key")
        .and_then(Value::as_str)
        .filter(|k| !k.is_empty())
        .ok_or("`key` is required")?;
    let value = v
        .get("value")
        .and_then(Value::as_str)
        .ok_or("`value` is required")?;
    let kind = v
        .get("type")
        .and_then(Value::as_str)
        .filter(|t| TYPES.contains(t))
        .ok_or("`type` must be one of system, secret, encrypted, plain, sensitive")?;
    let target = targets(v.get("target"))?;
    let custom = v
        .get("customEnvironmentIds")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty());
    if target.is_empty() && !custom {
        return Err("`target` or `customEnvironmentIds` is required".into());
    }
    let branch = v
        .get("gitBranch")
        .and_then(Value::as_str)
        .map(str::to_string);
    Ok(Item {
        key: key.to_string(),
        value: value.to_string(),
        kind: kind.to_string(),
        target,
        branch,
    })
}

fn conflicts(e: &Value, key: &str, target: &[String], branch: &Option<String>) -> bool {
    let same_key = e.get("key").and_then(Value::as_str) == Some(key);
    let same_branch = e.get("gitBranch").and_then(Value::as_str) == branch.as_deref();
    let overlap = e.get("target").and_then(Value::as_array).is_some_and(|a| {
        a.iter()
            .any(|t| t.as_str().is_some_and(|t| target.iter().any(|x| x == t)))
    });
    same_key && same_branch && overlap
}

pub(super) async fn list(
    State(s): State<Shared>,
    headers: HeaderMap,
    Path(id_or_name): Path<String>,
    Query(q): Query<Q>,
) -> Response {
    let pid = match guard(&s, &headers, Some(&id_or_name), &q) {
        Ok(Some(p)) => p,
        Ok(None) => return bad(&s, "project required"),
        Err(r) => return r,
    };
    let envs: Vec<Value> = lock(&s.vercel)
        .envs
        .get(&pid)
        .map(|l| {
            l.iter()
                .filter(|e| {
                    q.get("gitBranch").is_none_or(|b| {
                        e.get("gitBranch").and_then(Value::as_str) == Some(b.as_str())
                    })
                })
                .map(public)
                .collect()
        })
        .unwrap_or_default();
    ok(
        &s,
        StatusCode::OK,
        json!({"envs": envs, "pagination": {"count": envs.len(), "next": null, "prev": null}}),
    )
}

pub(super) async fn create(
    State(s): State<Shared>,
    headers: HeaderMap,
    Path(id_or_name): Path<String>,
    Query(q): Query<Q>,
    body: Bytes,
) -> Response {
    let pid = match guard(&s, &headers, Some(&id_or_name), &q) {
        Ok(Some(p)) => p,
        Ok(None) => return bad(&s, "project required"),
        Err(r) => return r,
    };
    let upsert = q.get("upsert").is_some_and(|v| v == "true");
    let Ok(parsed) = serde_json::from_slice::<Value>(&body) else {
        return bad(&s, "Invalid request: body should be JSON.");
    };
    let (single, items) = match parsed {
        Value::Array(a) if !a.is_empty() => (false, a),
        v @ Value::Object(_) => (true, vec![v]),
        _ => {
            return bad(
                &s,
                "Invalid request: body should be an object or a non-empty array.",
            )
        }
    };
    let mut checked = Vec::new();
    for (i, v) in items.iter().enumerate() {
        match item(v) {
            Ok(x) => checked.push((v, x)),
            Err(e) => return bad(&s, &format!("Invalid request: item {i}: {e}")),
        }
    }
    let mut created = Vec::new();
    let mut failed = Vec::new();
    let mut st = lock(&s.vercel);
    let new_ids: Vec<String> = (0..checked.len()).map(|_| st.id("env")).collect();
    let list = st.envs.entry(pid).or_default();
    let at = now_ms();
    for (
        (
            raw,
            Item {
                key,
                value,
                kind,
                target,
                branch,
            },
        ),
        new_id,
    ) in checked.into_iter().zip(new_ids)
    {
        let existing = list
            .iter()
            .position(|e| conflicts(e, &key, &target, &branch));
        let slot = match (existing, upsert) {
            (Some(i), true) => i,
            (Some(i), false) => {
                let env_id = list[i].get("id").cloned().unwrap_or(Value::Null);
                failed.push(json!({"error": {
                    "code": "ENV_ALREADY_EXISTS",
                    "message": format!("A variable with the name `{key}` already exists for the target {} on branch {}",
                        target.join(","), branch.as_deref().unwrap_or("undefined")),
                    "key": key, "envVarKey": key, "envVarId": env_id,
                    "target": target, "gitBranch": branch,
                }}));
                continue;
            }
            (None, _) => {
                list.push(
                    json!({"id": new_id, "key": key, "createdAt": at, "configurationId": null}),
                );
                list.len() - 1
            }
        };
        let Some(rec) = list[slot].as_object_mut() else {
            continue;
        };
        rec.insert("type".into(), json!(kind));
        rec.insert("target".into(), json!(target));
        rec.insert("updatedAt".into(), json!(at));
        set_value(rec, &kind, &value);
        for k in ["gitBranch", "comment", "customEnvironmentIds"] {
            match raw.get(k) {
                Some(v) => rec.insert(k.into(), v.clone()),
                None => rec.remove(k),
            };
        }
        created.push(public(&list[slot]));
    }
    drop(st);
    let created = if single && created.len() == 1 {
        created.remove(0)
    } else {
        json!(created)
    };
    ok(
        &s,
        StatusCode::CREATED,
        json!({"created": created, "failed": failed}),
    )
}

pub(super) async fn edit(
    State(s): State<Shared>,
    headers: HeaderMap,
    Path((id_or_name, id)): Path<(String, String)>,
    Query(q): Query<Q>,
    body: Bytes,
) -> Response {
    let pid = match guard(&s, &headers, Some(&id_or_name), &q) {
        Ok(Some(p)) => p,
        Ok(None) => return bad(&s, "project required"),
        Err(r) => return r,
    };
    let Ok(Value::Object(patch)) = serde_json::from_slice::<Value>(&body) else {
        return bad(&s, "Invalid request: body should be an object.");
    };
    if let Some(extra) = patch.keys().find(|k| !EDITABLE.contains(&k.as_str())) {
        return bad(
            &s,
            &format!("Invalid request: should NOT have additional property `{extra}`."),
        );
    }
    let target = match targets(patch.get("target")) {
        Ok(t) => t,
        Err(e) => return bad(&s, &format!("Invalid request: {e}")),
    };
    if let Some(t) = patch.get("type") {
        if !t.as_str().is_some_and(|t| TYPES.contains(&t)) {
            return bad(&s, "Invalid request: `type` is not a valid type.");
        }
    }
    let mut st = lock(&s.vercel);
    let Some(rec) = st
        .envs
        .get_mut(&pid)
        .and_then(|l| {
            l.iter_mut()
                .find(|e| e.get("id").and_then(Value::as_str) == Some(id.as_str()))
        })
        .and_then(Value::as_object_mut)
    else {
        drop(st);
        return fail(
            &s,
            StatusCode::NOT_FOUND,
            "not_found",
            "Environment variable not found",
        );
    };
    for (k, v) in &patch {
        if !matches!(k.as_str(), "value" | "target") {
            rec.insert(k.clone(), v.clone());
        }
    }
    if !target.is_empty() {
        rec.insert("target".into(), json!(target));
    }
    let kind = rec
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("encrypted")
        .to_string();
    // A new value, or the old clear value re-stored under a new type.
    let value = match patch.get("value").and_then(Value::as_str) {
        Some(v) => Some(v.to_string()),
        None if !rec.contains_key("valueDigest") => {
            rec.get("value").and_then(Value::as_str).map(str::to_string)
        }
        None => None,
    };
    if let Some(v) = value {
        set_value(rec, &kind, &v);
    }
    rec.insert("updatedAt".into(), json!(now_ms()));
    let out = public(&Value::Object(rec.clone()));
    drop(st);
    ok(&s, StatusCode::OK, out)
}

pub(super) async fn remove(
    State(s): State<Shared>,
    headers: HeaderMap,
    Path((id_or_name, id)): Path<(String, String)>,
    Query(q): Query<Q>,
) -> Response {
    let pid = match guard(&s, &headers, Some(&id_or_name), &q) {
        Ok(Some(p)) => p,
        Ok(None) => return bad(&s, "project required"),
        Err(r) => return r,
    };
    let mut st = lock(&s.vercel);
    let removed = st.envs.get_mut(&pid).and_then(|l| {
        let i = l
            .iter()
            .position(|e| e.get("id").and_then(Value::as_str) == Some(id.as_str()))?;
        Some(l.remove(i))
    });
    drop(st);
    match removed {
        Some(e) => ok(&s, StatusCode::OK, public(&e)),
        None => fail(
            &s,
            StatusCode::NOT_FOUND,
            "not_found",
            "Environment variable not found",
        ),
    }
}
