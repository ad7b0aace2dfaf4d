//! Secret hygiene, for every kind: no secret-shaped value anywhere, and every secret
//! reference names a key of the registry, listed once.

use super::{names_hint, Ctx, Index};
use crate::ssot::diag::Diagnostic;
use crate::ssot::model::*;
use crate::ssot::node::{escape_segment, LocatedDoc};
use crate::ssot::secrets;
use crate::ssot::structural::Entry;
use serde_json::Value;
use std::collections::HashMap;

/// Scan every string of a document (valid or not) for secret-shaped values.
pub fn secret_values(file: &str, d: &LocatedDoc, diags: &mut Vec<Diagnostic>) {
    scan(&d.value, "", "", &mut |pointer, what| {
        let pos = d.value_pos(pointer);
        let key = secrets::suggest_key_name(pointer);
        diags.push(
            Diagnostic::error("secret-value", file, format!("this looks like {what}; the SSOT never holds secret values"))
                .at(pos.line, pos.column)
                .path(pointer)
                .hint(format!(
                    "store the value outside the repo (e.g. the controller's environment), list the key `{key}` in the SecretRegistry, and reference `{key}` here; then rotate the leaked credential"
                )),
        );
    });
}

fn scan(v: &Value, pointer: &str, field: &str, found: &mut dyn FnMut(&str, &'static str)) {
    match v {
        Value::String(s) => {
            if let Some(what) = secrets::classify(field, s) {
                found(pointer, what);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                scan(item, &format!("{pointer}/{i}"), field, found);
            }
        }
        Value::Object(m) => {
            for (k, item) in m {
                let child = format!("{pointer}/{}", escape_segment(k));
                scan(item, &child, k, found);
            }
        }
        _ => {}
    }
}

/// Every reference to a secret-registry key in a resource, as (pointer, key).
fn secret_refs_of(resource: &Resource) -> Vec<(String, String)> {
    let mut out = Vec::new();
    fn walk(
        v: &Value,
        ptr: &str,
        field: &str,
        in_secrets_list: bool,
        out: &mut Vec<(String, String)>,
    ) {
        match v {
            Value::String(s)
                if field.ends_with("Secret") || field == "secret" || in_secrets_list =>
            {
                out.push((ptr.to_string(), s.clone()));
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    walk(
                        item,
                        &format!("{ptr}/{i}"),
                        field,
                        field == "secrets" && ptr.ends_with("/spec/secrets"),
                        out,
                    );
                }
            }
            Value::Object(m) => {
                for (k, item) in m {
                    walk(item, &format!("{ptr}/{k}"), k, false, out);
                }
            }
            _ => {}
        }
    }
    walk(&resource.to_value(), "", "", false, &mut out);
    out
}

pub(super) fn secret_refs(cx: &mut Ctx, e: &Entry, idx: &Index) {
    if matches!(e.resource, Resource::SecretRegistry(_)) {
        return;
    }
    for (ptr, key) in secret_refs_of(&e.resource) {
        // A value instead of a key name: secret_values() reports it, without echoing it.
        if secrets::classify("secret", &key).is_some() {
            continue;
        }
        if !secrets::is_registry_key_name(&key) {
            {
                cx.err(
                    e,
                    &ptr,
                    "secret-reference",
                    "a secret reference must be a registry key name (UPPER_SNAKE_CASE)",
                    "name a key listed in the SecretRegistry, e.g. `DIGITALOCEAN_TOKEN`",
                );
            }
            continue;
        }
        let registry_broken =
            idx.broken.incomplete || idx.broken.kinds.contains(&Kind::SecretRegistry);
        if !idx.secret_keys.contains(key.as_str()) && !registry_broken {
            let hint = if idx.has_registry {
                names_hint("secret key", idx.secret_keys.iter().copied(), &key)
            } else {
                "no SecretRegistry is defined; add one listing this key".to_string()
            };
            cx.err(
                e,
                &ptr,
                "unresolved-reference",
                format!("secret key `{key}` is not in the secret registry"),
                hint,
            );
        }
    }
}

pub(super) fn registry_keys(cx: &mut Ctx, entries: &[Entry]) {
    let mut seen: HashMap<&str, String> = HashMap::new();
    for e in entries {
        if let Resource::SecretRegistry(r) = &e.resource {
            for (i, k) in r.spec.keys.iter().enumerate() {
                let here = format!("{}#{}", e.resource.name(), i);
                if let Some(first) = seen.insert(&k.name, here) {
                    cx.err(
                        e,
                        &format!("/spec/keys/{i}/name"),
                        "duplicate-name",
                        format!("secret key `{}` is listed twice", k.name),
                        format!("first listed at {first}; keep one"),
                    );
                }
            }
        }
    }
}
