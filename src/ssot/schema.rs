//! JSON Schemas generated from the Rust types: one per kind plus one for any document.

use super::model::Kind;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::path::Path;
use std::sync::OnceLock;

/// File name of a kind's schema in `crds/` (`BackupPolicy` → `backup-policy.schema.json`).
pub fn file_name(kind: Kind) -> String {
    let mut out = String::new();
    for (i, c) in kind.as_str().chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('-');
        }
        out.push(c.to_ascii_lowercase());
    }
    format!("{out}.schema.json")
}

pub const DOCUMENT_SCHEMA_FILE: &str = "document.schema.json";

/// The schema of one kind, with an `$id` and title.
pub fn kind_schema(kind: Kind) -> Value {
    let mut v = kind.schema().to_value();
    if let Value::Object(m) = &mut v {
        m.insert(
            "$id".into(),
            json!(format!(
                "https://odooops.dev/schemas/v1alpha1/{}",
                file_name(kind)
            )),
        );
        m.insert("title".into(), json!(kind.as_str()));
    }
    v
}

/// The schema of any document: dispatches on `kind` to the kind's schema.
pub fn document_schema() -> Value {
    let mut defs = Map::new();
    let mut branches = Vec::new();
    for &kind in Kind::ALL {
        let mut s = kind.schema().to_value();
        if let Some(Value::Object(kd)) = s.as_object_mut().and_then(|m| m.remove("$defs")) {
            for (k, v) in kd {
                defs.insert(k, v);
            }
        }
        if let Value::Object(m) = &mut s {
            m.remove("$schema");
        }
        defs.insert(format!("{}Document", kind.as_str()), s);
        branches.push(json!({
            "if": {"properties": {"kind": {"const": kind.as_str()}}, "required": ["kind"]},
            "then": {"$ref": format!("#/$defs/{}Document", kind.as_str())}
        }));
    }
    let kinds: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": format!("https://odooops.dev/schemas/v1alpha1/{DOCUMENT_SCHEMA_FILE}"),
        "title": "OdooOps SSOT document",
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {"kind": {"enum": kinds}},
        "allOf": branches,
        "$defs": defs,
    })
}

/// Every schema file `odooops schema --out DIR` writes, as (file name, pretty JSON).
pub fn all_files() -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = Kind::ALL
        .iter()
        .map(|&k| (file_name(k), pretty(&kind_schema(k))))
        .collect();
    files.push((DOCUMENT_SCHEMA_FILE.to_string(), pretty(&document_schema())));
    files
}

fn pretty(v: &Value) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_default();
    s.push('\n');
    s
}

/// Write every schema into `dir` (created if missing). Returns the paths written.
pub fn write_all(dir: &Path) -> std::io::Result<Vec<String>> {
    std::fs::create_dir_all(dir)?;
    let mut written = Vec::new();
    for (name, text) in all_files() {
        let path = dir.join(&name);
        std::fs::write(&path, text)?;
        written.push(path.display().to_string());
    }
    Ok(written)
}

/// Compiled validators, one per kind, built once.
pub fn validator(kind: Kind) -> &'static jsonschema::Validator {
    static CACHE: OnceLock<HashMap<Kind, jsonschema::Validator>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| {
        Kind::ALL
            .iter()
            .map(|&k| {
                let v = jsonschema::options()
                    .should_validate_formats(true)
                    .build(&kind_schema(k))
                    // The schema is generated from our own types at build time: a failure
                    // here is a programming error caught by every test run.
                    .unwrap_or_else(|e| panic!("generated schema for {k} does not compile: {e}"));
                (k, v)
            })
            .collect()
    });
    &cache[&kind]
}

/// Property names allowed at an instance path (for "did you mean" hints).
pub fn properties_at(kind: Kind, segments: &[String]) -> Vec<String> {
    let root = kind_schema(kind);
    let mut current = vec![resolve(&root, &root)];
    for seg in segments {
        let mut next = Vec::new();
        for s in &current {
            for branch in branches(&root, s) {
                if let Some(p) = branch.get("properties").and_then(|p| p.get(seg.as_str())) {
                    next.push(resolve(&root, p));
                } else if seg.parse::<usize>().is_ok() {
                    if let Some(items) = branch.get("items") {
                        next.push(resolve(&root, items));
                    }
                } else if let Some(ap) =
                    branch.get("additionalProperties").filter(|a| a.is_object())
                {
                    next.push(resolve(&root, ap));
                }
            }
        }
        current = next;
    }
    let mut names: Vec<String> = current
        .iter()
        .flat_map(|s| branches(&root, s))
        .filter_map(|b| b.get("properties").and_then(Value::as_object))
        .flat_map(|m| m.keys().cloned())
        .collect();
    names.sort();
    names.dedup();
    names
}

fn resolve<'a>(root: &'a Value, s: &'a Value) -> &'a Value {
    match s
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix("#/$defs/"))
        .and_then(|name| root.get("$defs").and_then(|d| d.get(name)))
    {
        Some(target) => resolve(root, target),
        None => s,
    }
}

/// A schema and the schemas reachable through anyOf/oneOf/allOf (resolved).
fn branches<'a>(root: &'a Value, s: &'a Value) -> Vec<&'a Value> {
    let mut out = vec![s];
    for key in ["anyOf", "oneOf", "allOf"] {
        if let Some(list) = s.get(key).and_then(Value::as_array) {
            for b in list {
                out.extend(branches(root, resolve(root, b)));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_kebab() {
        assert_eq!(file_name(Kind::BackupPolicy), "backup-policy.schema.json");
        assert_eq!(file_name(Kind::Gate), "gate.schema.json");
    }

    #[test]
    fn properties_are_found_through_refs() {
        let props = properties_at(Kind::Environment, &["spec".into(), "odoo".into()]);
        assert!(props.contains(&"workers".to_string()), "{props:?}");
        let top = properties_at(Kind::Environment, &[]);
        assert_eq!(top, vec!["apiVersion", "kind", "metadata", "spec"]);
    }

    #[test]
    fn document_schema_compiles() {
        jsonschema::validator_for(&document_schema()).expect("compiles");
        for &k in Kind::ALL {
            let _ = validator(k);
        }
    }
}
