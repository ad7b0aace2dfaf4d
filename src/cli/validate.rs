//! `odooops validate` and `odooops schema`.

use super::{Output, EXIT_ERROR, EXIT_OK};
use crate::ssot::{self, schema, Level, Limits};
use std::io::Write;
use std::path::Path;

pub fn run(dir: &Path, output: Output) -> i32 {
    let report = ssot::load(dir, &Limits::default());
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match output {
        Output::Json => {
            let text =
                serde_json::to_string_pretty(&report.diagnostics).unwrap_or_else(|_| "[]".into());
            let _ = writeln!(out, "{text}");
        }
        Output::Text => {
            for d in &report.diagnostics {
                let _ = write!(out, "{}", d.render(report.source(&d.file)));
            }
            let counts: Vec<String> = report
                .counts()
                .iter()
                .filter(|(_, n)| **n > 0)
                .map(|(k, n)| format!("{n} {k}"))
                .collect();
            let warnings = report
                .diagnostics
                .iter()
                .filter(|d| d.level == Level::Warning)
                .count();
            let errors = report.error_count();
            let verdict = if errors == 0 {
                "valid".to_string()
            } else {
                format!("invalid: {errors} error(s)")
            };
            let _ = writeln!(
                out,
                "{}: {} resources in {} files ({}), {} warning(s) — {}",
                dir.display(),
                report.entries.len(),
                report.loaded.files.len(),
                if counts.is_empty() {
                    "none".to_string()
                } else {
                    counts.join(", ")
                },
                warnings,
                verdict
            );
        }
    }
    if report.is_valid() {
        EXIT_OK
    } else {
        EXIT_ERROR
    }
}

pub fn schema(out: Option<&Path>) -> anyhow::Result<i32> {
    match out {
        Some(dir) => {
            for path in schema::write_all(dir)? {
                println!("wrote {path}");
            }
        }
        None => println!(
            "{}",
            serde_json::to_string_pretty(&schema::document_schema())?
        ),
    }
    Ok(EXIT_OK)
}
