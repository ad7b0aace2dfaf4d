//! Manifests and the module graph as a user meets them: a corpus of realistic and malformed
//! manifests, a no-panic property test over random and mutated inputs, and `odooops modules
//! deps` on examples/addons.

use odooops::odoo::manifest::pylit::{self, Value};
use odooops::odoo::manifest::Manifest;
use std::path::{Path, PathBuf};
use std::process::Command;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/manifests")
}

fn read_dir_sorted(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "py"))
        .collect();
    v.sort();
    v
}

fn parse_file(path: &Path) -> Result<Manifest, String> {
    let text = std::fs::read_to_string(path).expect("utf-8 fixture");
    Manifest::parse(&text, &path.display().to_string()).map_err(|e| e.to_string())
}

#[test]
fn realistic_manifests_parse_with_the_right_fields() {
    let ok = fixtures().join("ok");
    let files = read_dir_sorted(&ok);
    assert_eq!(files.len(), 6);
    for f in &files {
        parse_file(f).unwrap_or_else(|e| panic!("{e}"));
    }
    let m = |name: &str| parse_file(&ok.join(name)).expect("parses");

    let old = m("openerp_era.py");
    assert_eq!(old.depends, vec!["base", "sale"]);
    assert_eq!(old.version.as_deref(), Some("1.1"));
    assert!(old.installable);
    let text = std::fs::read_to_string(ok.join("openerp_era.py")).expect("read");
    let v = pylit::parse(&text).expect("parse");
    let desc = v
        .get("description")
        .and_then(Value::as_str)
        .expect("description");
    assert!(
        desc.contains(
            "It's a 'classic' module: quotes ' and \" inside, a backslash \\ and a tab\t."
        ),
        "{desc:?}"
    );
    assert_eq!(
        v.get("author").and_then(Value::as_str),
        Some("Acme Consulting — Björn Åkesson")
    );

    let raw = m("raw_concat_continuation.py");
    assert_eq!(raw.name.as_deref(), Some("Acme Regex Tools"));
    assert_eq!(raw.license, "AGPL-3");
    assert_eq!(raw.external_bin, vec!["wkhtmltopdf"]);
    let text = std::fs::read_to_string(ok.join("raw_concat_continuation.py")).expect("read");
    let v = pylit::parse(&text).expect("parse");
    assert_eq!(
        v.get("summary").and_then(Value::as_str),
        Some(r"Matches \d+ and \w+ without escaping")
    );

    let assets = m("assets_operations.py");
    assert_eq!(assets.assets.get("web.assets_frontend"), Some(&3));
    assert_eq!(assets.assets.get("web.assets_backend"), Some(&0));

    let nums = m("numbers_sets_nested.py");
    assert_eq!(nums.depends, vec!["product", "sale"], "a tuple of depends");
    assert!(nums.auto_install, "a non-empty auto_install list is truthy");

    let win = m("windows_crlf_bom.py");
    assert_eq!(
        (win.name.as_deref(), win.license.as_str()),
        (Some("Acme Windows Export"), "OPL-1")
    );

    let oca = m("oca_web_responsive.py");
    assert_eq!(oca.depends, vec!["web", "mail"]);
    assert_eq!(oca.assets.get("web.assets_backend"), Some(&4));
}

#[test]
fn malformed_manifests_give_located_errors() {
    let bad = fixtures().join("bad");
    let expected: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(bad.join("expected.json")).expect("expected.json"),
    )
    .expect("json");
    let files = read_dir_sorted(&bad);
    assert_eq!(
        files.len(),
        expected.as_object().map(|o| o.len()).unwrap_or(0),
        "every bad file has an expectation"
    );
    for f in files {
        let name = f
            .file_name()
            .and_then(|n| n.to_str())
            .expect("name")
            .to_string();
        let exp = &expected[&name];
        let err = match parse_file(&f) {
            Ok(m) => panic!("{name} should be refused, got {m:?}"),
            Err(e) => e,
        };
        let message = exp["message"].as_str().expect("message");
        assert!(err.contains(message), "{name}: {err}");
        if let Some(at) = exp["at"].as_str() {
            assert!(
                err.contains(&format!("{name}:{at}: ")),
                "{name}: expected at {at}: {err}"
            );
        }
    }
}

/// SplitMix64.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const TOKENS: &[&str] = &[
    "{", "}", "[", "]", "(", ")", ",", ":", "'", "\"", "'''", "\"\"\"", "\\", "\n", "\r\n", "#",
    " ", "r", "b", "u", "f", "rb", "True", "False", "None", "_", "0", "1", "9", ".", "e", "-", "+",
    "x", "0x", "0o", "0b", "j", "\\x", "\\u", "\\U", "\\N{", "é", "😀", "\u{feff}", "depends",
    "name",
];

fn check_no_panic(input: &str, what: &str) {
    let r = std::panic::catch_unwind(|| {
        let _ = pylit::parse(input);
        let _ = Manifest::parse(input, "fuzz");
    });
    assert!(r.is_ok(), "parser panicked on {what}: {input:?}");
}

#[test]
fn property_the_parser_never_panics_on_random_or_mutated_input() {
    let mut rng = Rng(0x5EED);
    let mut corpus: Vec<Vec<u8>> = Vec::new();
    for dir in ["ok", "bad"] {
        for f in read_dir_sorted(&fixtures().join(dir)) {
            corpus.push(std::fs::read(f).expect("read"));
        }
    }
    let mut cases = 0;
    // Random bytes.
    for _ in 0..3000 {
        let len = rng.below(160);
        let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        check_no_panic(&String::from_utf8_lossy(&bytes), "random bytes");
        cases += 1;
    }
    // Random token soup (much likelier to get deep into the grammar).
    for _ in 0..4000 {
        let n = rng.below(60);
        let s: String = (0..n).map(|_| TOKENS[rng.below(TOKENS.len())]).collect();
        check_no_panic(&s, "token soup");
        cases += 1;
    }
    // Mutations of real manifests: delete, duplicate, overwrite and insert byte ranges.
    for _ in 0..4000 {
        let mut b = corpus[rng.below(corpus.len())].clone();
        for _ in 0..1 + rng.below(4) {
            let at = rng.below(b.len() + 1);
            match rng.below(4) {
                0 => {
                    let end = (at + rng.below(8)).min(b.len());
                    b.drain(at..end);
                }
                1 => {
                    let end = (at + rng.below(16)).min(b.len());
                    let chunk = b[at..end].to_vec();
                    b.splice(at..at, chunk);
                }
                2 if at < b.len() => b[at] = rng.next() as u8,
                _ => {
                    let t = TOKENS[rng.below(TOKENS.len())].as_bytes().to_vec();
                    b.splice(at..at, t);
                }
            }
        }
        check_no_panic(&String::from_utf8_lossy(&b), "mutated manifest");
        cases += 1;
    }
    // Every prefix of every corpus file.
    for f in &corpus {
        let s = String::from_utf8_lossy(f);
        for (i, _) in s.char_indices() {
            check_no_panic(&s[..i], "truncated manifest");
            cases += 1;
        }
    }
    assert!(cases > 12_000, "{cases}");
}

fn odooops(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_odooops"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .output()
        .expect("run odooops")
}

#[test]
fn cli_modules_deps_on_the_example_addons() {
    let o = odooops(&[
        "modules",
        "deps",
        "--addons-path",
        "examples/addons",
        "--series",
        "17.0",
        "-o",
        "json",
    ]);
    // acme_legacy_import is uninstallable and mis-versioned: the report is not clean.
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let strings = |k: &str| -> Vec<String> {
        j[k].as_array()
            .expect(k)
            .iter()
            .map(|v| v.as_str().expect("string").to_string())
            .collect()
    };
    let depends = strings("depends");
    for d in [
        "account",
        "base",
        "contacts",
        "mail",
        "portal",
        "purchase_stock",
        "sale_management",
        "stock",
        "web",
        "website_sale",
    ] {
        assert!(depends.contains(&d.to_string()), "{d} in {depends:?}");
    }
    assert!(
        !depends.iter().any(|d| d.starts_with("acme_")),
        "the selection is excluded"
    );
    assert!(strings("missing").is_empty());
    assert_eq!(strings("not_installable"), vec!["acme_legacy_import"]);
    assert_eq!(strings("version_mismatch"), vec!["acme_legacy_import"]);
    assert_eq!(j["licenses"]["acme_sale"], "AGPL-3");
    assert_eq!(j["licenses"]["web_responsive"], "LGPL-3");
    assert_eq!(j["cycles"], serde_json::json!([]));

    // A selection: the portal's closure, acme addons included as dependencies.
    let o = odooops(&[
        "modules",
        "deps",
        "--addons-path",
        "examples/addons",
        "--select",
        "acme_portal",
        "-o",
        "json",
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let deps: Vec<&str> = j["depends"]
        .as_array()
        .expect("depends")
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert!(
        deps.contains(&"acme_sale")
            && deps.contains(&"acme_base")
            && deps.contains(&"web_responsive")
    );
    assert!(!deps.contains(&"acme_portal") && !deps.contains(&"acme_stock_rules"));

    // On 16.0 the 17.0 versions mismatch; text output by default.
    let o = odooops(&[
        "modules",
        "deps",
        "--addons-path",
        "examples/addons",
        "--select",
        "acme_base",
        "--series",
        "16.0",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("version mismatch: acme_base"), "{text}");

    let o = odooops(&["modules", "deps", "--addons-path", "examples/nope"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("examples/nope"));
    let o = odooops(&["modules", "deps"]);
    assert_eq!(o.status.code(), Some(64), "--addons-path is required");
}

#[test]
fn enterprise_dependencies_are_missing_on_community() {
    let t = tempfile::tempdir().expect("tmp");
    let dir = t.path().join("acme_helpdesk");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(
        dir.join("__manifest__.py"),
        "{'depends': ['helpdesk', 'web_studio', 'mail']}",
    )
    .expect("write");
    let path = t.path().display().to_string();
    let o = odooops(&["modules", "deps", "--addons-path", &path, "-o", "json"]);
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(j["missing"], serde_json::json!(["helpdesk", "web_studio"]));
    assert_eq!(o.status.code(), Some(1));
}
