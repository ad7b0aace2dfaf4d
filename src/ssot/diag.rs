//! Diagnostics: located, collected (never first-error-only), rendered like a compiler's.

use super::secrets;
use serde::Serialize;
use std::fmt::Write as _;

#[derive(Serialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Error,
    Warning,
}

/// One finding about the SSOT, pointing at a file, a line and a field.
#[derive(Serialize, Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub level: Level,
    /// Stable machine-readable class, e.g. `unknown-field`, `secret-value`.
    pub code: &'static str,
    pub file: String,
    pub line: u64,
    pub column: u64,
    /// JSON pointer of the field inside the document (empty for the whole document/file).
    pub path: String,
    /// `Kind/name` of the resource, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    pub message: String,
    /// What to do next.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// The source line, for a file whose text is not kept (one that is not UTF-8); other
    /// diagnostics show the line from the file's text.
    #[serde(skip)]
    pub snippet: Option<String>,
}

impl Diagnostic {
    pub fn error(code: &'static str, file: &str, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            level: Level::Error,
            code,
            file: file.to_string(),
            line: 0,
            column: 0,
            path: String::new(),
            resource: None,
            message: message.into(),
            hint: None,
            snippet: None,
        }
    }
    pub fn warning(code: &'static str, file: &str, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            level: Level::Warning,
            ..Diagnostic::error(code, file, message)
        }
    }
    pub fn at(mut self, line: u64, column: u64) -> Self {
        self.line = line;
        self.column = column;
        self
    }
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }
    pub fn resource(mut self, resource: impl Into<String>) -> Self {
        self.resource = Some(resource.into());
        self
    }
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
    pub fn snippet(mut self, line: impl Into<String>) -> Self {
        self.snippet = Some(line.into());
        self
    }

    /// `file:line:col: error[code]: message`, the source line (secret-shaped parts masked),
    /// a caret, and the hint.
    pub fn render(&self, source: Option<&str>) -> String {
        let level = match self.level {
            Level::Error => "error",
            Level::Warning => "warning",
        };
        let mut out = String::new();
        let _ = write!(out, "{}", self.file);
        if self.line > 0 {
            let _ = write!(out, ":{}:{}", self.line, self.column.max(1));
        }
        let _ = write!(out, ": {level}[{}]: ", self.code);
        if let Some(r) = &self.resource {
            let _ = write!(out, "{r}: ");
        }
        if !self.path.is_empty() {
            let _ = write!(out, "{}: ", self.path);
        }
        out.push_str(&self.message);
        out.push('\n');
        if self.line > 0 {
            let from_source = source.and_then(|text| text.lines().nth((self.line - 1) as usize));
            if let Some(line) = from_source.or(self.snippet.as_deref()) {
                let shown = secrets::redact_line(line);
                let num = self.line.to_string();
                let pad = " ".repeat(num.len());
                let _ = writeln!(out, "{pad} |");
                let _ = writeln!(out, "{num} | {shown}");
                let caret = " ".repeat(self.column.saturating_sub(1) as usize);
                let _ = writeln!(out, "{pad} | {caret}^");
            }
        }
        if let Some(h) = &self.hint {
            let _ = writeln!(out, "  = help: {h}");
        }
        out
    }
}

/// Sort diagnostics by file, line, column for stable output.
pub fn sort(diags: &mut [Diagnostic]) {
    diags.sort_by(|a, b| {
        (&a.file, a.line, a.column, &a.path, &a.message)
            .cmp(&(&b.file, b.line, b.column, &b.path, &b.message))
    });
}
