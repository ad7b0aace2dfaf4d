//! The schema round trip: Rust types → JSON Schema (`crds/`) → validation of every tree.

use odooops::ssot::{self, node, schema, Limits, Resource};
use std::path::{Path, PathBuf};

fn repo(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

#[test]
fn crds_are_up_to_date() {
    for (name, text) in schema::all_files() {
        let path = repo("crds").join(&name);
        let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            on_disk == text,
            "crds/{name} is out of date: run `cargo run -- schema --out crds`"
        );
    }
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read_dir").flatten() {
        let p = entry.path();
        if p.is_dir() {
            yaml_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(p);
        }
    }
}

#[test]
fn every_yaml_file_names_its_schema_in_a_modeline() {
    let mut files = Vec::new();
    yaml_files(&repo("ssot"), &mut files);
    yaml_files(&repo("examples"), &mut files);
    assert!(files.len() > 30);
    for f in files {
        // Bytes, not text: examples/invalid/non-utf8 holds a file that is not UTF-8.
        let bytes = std::fs::read(&f).expect("read");
        let text = String::from_utf8_lossy(&bytes);
        let first = text.lines().next().unwrap_or("");
        let target = first
            .strip_prefix("# yaml-language-server: $schema=")
            .unwrap_or_else(|| panic!("{} lacks the schema modeline", f.display()));
        let schema_path = f.parent().expect("parent").join(target);
        assert!(
            schema_path.is_file(),
            "{}: {} does not exist",
            f.display(),
            target
        );
    }
}

/// Every valid document validates against `document.schema.json` (the editors' schema), and
/// its typed form serializes back to something the schema still accepts and that reads back
/// equal.
#[test]
fn documents_round_trip_through_types_and_schema() {
    let doc_schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo("crds/document.schema.json")).expect("schema"),
    )
    .expect("json");
    let validator = jsonschema::validator_for(&doc_schema).expect("compiles");
    for tree in ["ssot", "examples/quickstart", "examples/agency"] {
        let report = ssot::load(&repo(tree), &Limits::default());
        assert!(report.is_valid(), "{tree}");
        assert_eq!(report.entries.len(), report.loaded.documents.len());
        for i in 0..report.loaded.documents.len() {
            let d = report.loaded.located(i).expect("the document reads again");
            let errs: Vec<String> = validator
                .iter_errors(&d.value)
                .map(|e| e.to_string())
                .collect();
            assert!(errs.is_empty(), "{tree}: {errs:?}");
        }
        for e in &report.entries {
            let v = e.resource.to_value();
            assert!(
                validator.is_valid(&v),
                "{tree}: {} re-serialized is invalid",
                e.resource.name()
            );
            let back = Resource::from_value(e.resource.kind(), v).expect("reads back");
            assert_eq!(back, e.resource);
        }
    }
}

#[test]
fn the_document_schema_rejects_what_the_validator_rejects() {
    let doc_schema = schema::document_schema();
    let validator = jsonschema::validator_for(&doc_schema).expect("compiles");
    let text =
        std::fs::read_to_string(repo("examples/invalid/unknown-field/env.yaml")).expect("read");
    let docs = node::parse_documents(&text, Limits::default().yaml_options()).expect("parse");
    assert!(!validator.is_valid(&docs[0].value));
}
