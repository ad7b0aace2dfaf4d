//! Per-document checks: the document is a resource of a known kind and matches its
//! generated JSON Schema. Every violation becomes a located diagnostic.

use super::diag::Diagnostic;
use super::model::{Kind, Resource, API_VERSION};
use super::node::escape_segment;
use super::node::LocatedDoc;
use super::{schema, suggest};
use jsonschema::error::ValidationErrorKind;
use serde_json::Value;
use std::collections::HashSet;

/// A typed resource and the document it came from.
#[derive(Debug, Clone)]
pub struct Entry {
    pub resource: Resource,
    /// Index into [`Loaded::documents`].
    pub doc: usize,
}

/// What is known of documents that failed their structural checks, so that cross-document
/// rules do not pile a second, misleading error on top (a reference to a resource whose own
/// document is broken is not "undefined").
#[derive(Debug, Default)]
pub struct Broken {
    /// (kind, name) of well-identified but invalid documents.
    pub names: HashSet<(Kind, String)>,
    /// Kinds with at least one invalid document.
    pub kinds: HashSet<Kind>,
    /// Projects named by invalid Environment documents.
    pub env_projects: HashSet<String>,
    /// Some document (or file) could not be identified at all: cross-document completeness
    /// checks are skipped.
    pub incomplete: bool,
}

impl Broken {
    /// Whether a missing `kind/name` may just be a document that failed to load.
    pub fn shadows(&self, kind: Kind, name: &str) -> bool {
        self.incomplete || self.names.contains(&(kind, name.to_string()))
    }
}

/// Check every document; return the ones that are well-formed resources.
/// Check one document: a well-formed resource becomes an [`Entry`] (document `doc`), a
/// broken one is noted in `broken`.
pub fn check_document(
    file: &str,
    doc: usize,
    located: &LocatedDoc,
    entries: &mut Vec<Entry>,
    broken: &mut Broken,
    diags: &mut Vec<Diagnostic>,
) {
    match check_one(file, located, diags) {
        Some(resource) => entries.push(Entry { resource, doc }),
        None => note_broken(&located.value, broken),
    }
}

fn note_broken(v: &Value, broken: &mut Broken) {
    let kind = v.get("kind").and_then(Value::as_str).and_then(Kind::parse);
    let name = v.pointer("/metadata/name").and_then(Value::as_str);
    match (kind, name) {
        (Some(k), Some(n)) => {
            broken.names.insert((k, n.to_string()));
            broken.kinds.insert(k);
            if k == Kind::Environment {
                match v.pointer("/spec/project").and_then(Value::as_str) {
                    Some(p) => {
                        broken.env_projects.insert(p.to_string());
                    }
                    None => broken.incomplete = true,
                }
            }
        }
        (Some(k), None) => {
            broken.kinds.insert(k);
            broken.incomplete = true;
        }
        // An unknown kind cannot be what another resource refers to.
        (None, _) if v.get("kind").is_some_and(Value::is_string) => {}
        (None, _) => broken.incomplete = true,
    }
}

fn at(file: &str, d: &LocatedDoc, pointer: &str, code: &'static str, msg: String) -> Diagnostic {
    let pos = d.pos(pointer);
    Diagnostic::error(code, file, msg)
        .at(pos.line, pos.column)
        .path(pointer)
}

fn check_one(file: &str, d: &LocatedDoc, diags: &mut Vec<Diagnostic>) -> Option<Resource> {
    let value = &d.value;
    let Some(obj) = value.as_object() else {
        diags.push(
            at(
                file,
                d,
                "",
                "not-a-resource",
                "a document must be a mapping with apiVersion, kind, metadata and spec".into(),
            )
            .hint(format!(
                "start the document with `apiVersion: {API_VERSION}` and `kind: …`"
            )),
        );
        return None;
    };
    let kinds: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
    let kind = match obj.get("kind") {
        None => {
            diags.push(
                at(
                    file,
                    d,
                    "",
                    "missing-field",
                    "missing required field `kind`".into(),
                )
                .hint(format!("add `kind:` — one of {}", kinds.join(", "))),
            );
            return None;
        }
        Some(Value::String(s)) => match Kind::parse(s) {
            Some(k) => k,
            None => {
                let mut diag = at(
                    file,
                    d,
                    "/kind",
                    "unknown-kind",
                    format!("unknown kind `{s}`"),
                );
                diag = match suggest::closest(s, kinds.iter().copied()) {
                    Some(c) => diag.hint(format!("did you mean `{c}`?")),
                    None => diag.hint(format!("use one of {}", kinds.join(", "))),
                };
                diags.push(diag);
                return None;
            }
        },
        Some(_) => {
            diags.push(at(
                file,
                d,
                "/kind",
                "invalid-type",
                "`kind` must be a string".into(),
            ));
            return None;
        }
    };
    let name = obj
        .get("metadata")
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
        .unwrap_or("?");
    let resource_label = format!("{kind}/{name}");
    let before = diags.len();
    for err in schema::validator(kind).iter_errors(value) {
        let pointer = err.instance_path().as_str().to_string();
        for mut diag in schema_error(file, d, kind, &pointer, &err) {
            diag.resource = Some(resource_label.clone());
            diags.push(diag);
        }
    }
    if diags.len() > before {
        return None;
    }
    match Resource::from_value(kind, value.clone()) {
        Ok(r) => Some(r),
        Err(e) => {
            diags.push(
                at(
                    file,
                    d,
                    "",
                    "invalid-document",
                    format!("cannot read the resource: {e}"),
                )
                .resource(resource_label),
            );
            None
        }
    }
}

fn segments(pointer: &str) -> Vec<String> {
    pointer
        .split('/')
        .skip(1)
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect()
}

fn schema_error(
    file: &str,
    d: &LocatedDoc,
    kind: Kind,
    pointer: &str,
    err: &jsonschema::ValidationError<'_>,
) -> Vec<Diagnostic> {
    match err.kind() {
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            let allowed = schema::properties_at(kind, &segments(pointer));
            unexpected
                .iter()
                .map(|field| {
                    let child = format!("{pointer}/{}", escape_segment(field));
                    let diag = at(
                        file,
                        d,
                        &child,
                        "unknown-field",
                        format!("unknown field `{field}`"),
                    );
                    match suggest::closest(field, allowed.iter().map(String::as_str)) {
                        Some(c) => diag.hint(format!("did you mean `{c}`?")),
                        None if allowed.is_empty() => diag.hint("remove this field"),
                        None => diag.hint(format!("allowed fields here: {}", allowed.join(", "))),
                    }
                })
                .collect()
        }
        ValidationErrorKind::Required { property } => {
            let field = property.as_str().unwrap_or("?");
            vec![at(
                file,
                d,
                pointer,
                "missing-field",
                format!("missing required field `{field}`"),
            )
            .hint(format!(
                "add `{field}:` here (see crds/{})",
                schema::file_name(kind)
            ))]
        }
        ValidationErrorKind::Enum { options } => {
            let opts: Vec<String> = options
                .as_array()
                .map(|a| a.iter().map(|o| o.to_string()).collect())
                .unwrap_or_default();
            let mut diag = at(
                file,
                d,
                pointer,
                "invalid-value",
                format!("must be one of {}", opts.join(", ")),
            );
            if pointer == "/apiVersion" {
                diag = diag.hint(format!("this build reads `apiVersion: {API_VERSION}`"));
            } else if let Some(s) = err.instance().as_str() {
                let bare: Vec<String> = opts
                    .iter()
                    .map(|o| o.trim_matches('"').to_string())
                    .collect();
                if let Some(c) = suggest::closest(s, bare.iter().map(String::as_str)) {
                    diag = diag.hint(format!("did you mean `{c}`?"));
                }
            }
            vec![diag]
        }
        ValidationErrorKind::Type { kind: t } => {
            vec![at(
                file,
                d,
                pointer,
                "invalid-type",
                format!("expected {}", type_name(t)),
            )]
        }
        ValidationErrorKind::Pattern { pattern } => {
            let hint = if pointer == "/metadata/name" {
                "names are DNS labels: lowercase letters, digits and `-`, at most 63 characters"
                    .to_string()
            } else {
                format!("the value must match `{pattern}`")
            };
            vec![at(
                file,
                d,
                pointer,
                "invalid-value",
                "value does not have the required form".into(),
            )
            .hint(hint)]
        }
        _ => {
            // `masked` leaves the offending value out of the message: it may be a secret.
            vec![at(file, d, pointer, "schema", err.masked().to_string())]
        }
    }
}

fn type_name(t: &jsonschema::error::TypeKind) -> String {
    match t {
        jsonschema::error::TypeKind::Single(s) => format!("{s:?}").to_lowercase(),
        jsonschema::error::TypeKind::Multiple(m) => {
            let names: Vec<String> = m.iter().map(|s| format!("{s:?}").to_lowercase()).collect();
            names.join(" or ")
        }
    }
}
