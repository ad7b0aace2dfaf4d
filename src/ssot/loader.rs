//! Reading an SSOT tree: every `*.yaml`/`*.yml` under a directory, any depth, several
//! documents per file, in a deterministic order, under input budgets.

use super::diag::Diagnostic;
use super::node::{parse_documents, LocatedDoc, Pos};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// Input budgets. Anything beyond them is refused with a located error, fast.
#[derive(Clone, Debug)]
pub struct Limits {
    pub max_file_bytes: u64,
    pub max_files: usize,
    pub max_documents_per_file: usize,
    pub max_depth: usize,
    pub max_aliases: usize,
    pub max_nodes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_file_bytes: 8 * 1024 * 1024,
            max_files: 20_000,
            max_documents_per_file: 1_000,
            max_depth: 48,
            max_aliases: 1_000,
            max_nodes: 500_000,
        }
    }
}

impl Limits {
    pub fn yaml_options(&self) -> serde_saphyr::Options {
        let mut budget = serde_saphyr::Budget::default();
        budget.max_depth = self.max_depth;
        budget.max_aliases = self.max_aliases;
        budget.max_documents = self.max_documents_per_file;
        budget.max_nodes = self.max_nodes;
        budget.max_reader_input_bytes = Some(self.max_file_bytes as usize);
        let mut options = serde_saphyr::Options::default();
        options.budget = Some(budget);
        options.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::Error;
        options.with_snippet = false;
        // YAML 1.2 booleans only: `y`, `no`, `on` stay strings (no "Norway problem").
        options.strict_booleans = true;
        options
    }
}

/// One file read from the tree.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// As shown to users: the SSOT directory as given, joined with the relative path.
    pub display: String,
    pub path: PathBuf,
    pub text: String,
}

/// One YAML document: where it is. Its JSON value and node positions are handed to the
/// checks once, while the file is read, and re-read from the file's text only when a
/// diagnostic needs a position ([`Loaded::located`]), so a tree of thousands of files is
/// never held as JSON all at once.
#[derive(Debug, Clone)]
pub struct Document {
    pub file: usize,
    /// 0-based index of the document inside its file.
    pub index: usize,
}

/// Everything read from an SSOT tree, plus what went wrong reading it.
#[derive(Debug, Default)]
pub struct Loaded {
    pub root: PathBuf,
    pub files: Vec<SourceFile>,
    pub documents: Vec<Document>,
    pub diagnostics: Vec<Diagnostic>,
    limits: Limits,
    /// The documents of the file last re-read for positions (diagnostics come per file).
    reread: std::sync::Mutex<Option<(usize, Vec<LocatedDoc>)>>,
}

impl Loaded {
    /// `f` of document `doc` (an index into [`Loaded::documents`]) parsed again from its
    /// file.
    fn with_located<R>(&self, doc: usize, f: impl FnOnce(&LocatedDoc) -> R) -> Option<R> {
        let d = self.documents.get(doc)?;
        let mut cache = self
            .reread
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if cache.as_ref().is_none_or(|(file, _)| *file != d.file) {
            let text = &self.files.get(d.file)?.text;
            let docs = parse_documents(text, self.limits.yaml_options()).ok()?;
            *cache = Some((d.file, docs));
        }
        cache.as_ref()?.1.get(d.index).map(f)
    }

    /// Document `doc` parsed again from its file.
    pub fn located(&self, doc: usize) -> Option<LocatedDoc> {
        self.with_located(doc, LocatedDoc::clone)
    }

    /// Position of a JSON pointer in document `doc` (see [`LocatedDoc::pos`]).
    pub fn pos(&self, doc: usize, pointer: &str) -> Pos {
        self.with_located(doc, |d| d.pos(pointer))
            .unwrap_or_default()
    }

    /// Position of the value (not the key) at a JSON pointer in document `doc` (see
    /// [`LocatedDoc::value_pos`]).
    pub fn value_pos(&self, doc: usize, pointer: &str) -> Pos {
        self.with_located(doc, |d| d.value_pos(pointer))
            .unwrap_or_default()
    }

    /// Source text of document `doc`'s file.
    pub fn text(&self, doc: usize) -> Option<&str> {
        let d = self.documents.get(doc)?;
        self.files.get(d.file).map(|f| f.text.as_str())
    }

    /// Line where document `doc` starts.
    pub fn start_line(&self, doc: usize) -> u64 {
        self.with_located(doc, |d| d.start.line).unwrap_or(0)
    }

    /// Content hash of the tree (paths and bytes), the SSOT revision when git is absent.
    pub fn content_hash(&self) -> String {
        let mut h = Sha256::new();
        for f in &self.files {
            let rel = f.path.strip_prefix(&self.root).unwrap_or(&f.path);
            h.update(rel.to_string_lossy().as_bytes());
            h.update([0]);
            h.update(f.text.as_bytes());
            h.update([0]);
        }
        format!("sha256:{}", hex::encode(h.finalize()))
    }
}

/// Read every YAML file under `root`, handing each parsed document to `each` (the file's
/// display name, the document's index into [`Loaded::documents`], the document) before the
/// next file is read. Never fails: problems become diagnostics.
pub fn load_dir(
    root: &Path,
    limits: &Limits,
    each: &mut dyn FnMut(&str, usize, LocatedDoc),
) -> Loaded {
    let mut loaded = Loaded {
        root: root.to_path_buf(),
        limits: limits.clone(),
        ..Loaded::default()
    };
    let shown_root = root.display().to_string();
    if !root.is_dir() {
        loaded.diagnostics.push(
            Diagnostic::error(
                "ssot-dir",
                &shown_root,
                "the SSOT directory does not exist or is not a directory",
            )
            .hint("pass --ssot DIR pointing at a folder of *.yaml resources"),
        );
        return loaded;
    }
    let mut paths = Vec::new();
    if let Err(e) = walk(root, &mut paths, limits.max_files) {
        loaded
            .diagnostics
            .push(Diagnostic::error("ssot-dir", &shown_root, e));
        return loaded;
    }
    paths.sort();
    let options = limits.yaml_options();
    for path in paths {
        let display = path.display().to_string();
        match read_limited(&path, limits.max_file_bytes).map(String::from_utf8) {
            Err(msg) => loaded
                .diagnostics
                .push(Diagnostic::error("file", &display, msg)),
            Ok(Err(e)) => loaded
                .diagnostics
                .push(not_utf8(&display, e.as_bytes(), e.utf8_error())),
            Ok(Ok(text)) => {
                let file = loaded.files.len();
                match parse_documents(&text, options.clone()) {
                    Ok(docs) => {
                        for (index, doc) in docs.into_iter().enumerate() {
                            each(&display, loaded.documents.len(), doc);
                            loaded.documents.push(Document { file, index });
                        }
                    }
                    Err(e) => loaded.diagnostics.push(yaml_error(&display, &e)),
                }
                loaded.files.push(SourceFile {
                    display,
                    path,
                    text,
                });
            }
        }
    }
    if loaded.files.is_empty() && loaded.diagnostics.is_empty() {
        loaded.diagnostics.push(
            Diagnostic::error("ssot-empty", &shown_root, "no *.yaml or *.yml files found").hint(
                "an empty SSOT is refused so that nothing is ever planned for deletion by accident",
            ),
        );
    }
    loaded
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>, max: usize) -> Result<(), String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries {
        let entry = entry.map_err(|e| format!("{}: {e}", dir.display()))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        let ft = entry
            .file_type()
            .map_err(|e| format!("{}: {e}", path.display()))?;
        if ft.is_dir() {
            walk(&path, out, max)?;
        } else if name.ends_with(".yaml") || name.ends_with(".yml") {
            out.push(path);
            if out.len() > max {
                return Err(format!("more than {max} YAML files: refusing to load"));
            }
        }
    }
    Ok(())
}

fn read_limited(path: &Path, max: u64) -> Result<Vec<u8>, String> {
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if meta.len() > max {
        return Err(format!(
            "file is {} bytes, over the {max}-byte limit for one SSOT file",
            meta.len()
        ));
    }
    std::fs::read(path).map_err(|e| e.to_string())
}

/// A file that is not UTF-8, located at its first invalid byte: the line and column (in
/// characters, 1-based) are counted over the valid text before it, and the diagnostic
/// carries that line, decoded lossily, as its snippet.
pub fn not_utf8(file: &str, bytes: &[u8], e: std::str::Utf8Error) -> Diagnostic {
    let at = e.valid_up_to();
    let (valid, rest) = bytes.split_at(at);
    let prefix = std::str::from_utf8(valid).unwrap_or_default();
    let line_start = prefix.rfind('\n').map_or(0, |i| i + 1);
    let line = prefix.matches('\n').count() as u64 + 1;
    let column = prefix[line_start..].chars().count() as u64 + 1;
    let line_end = rest
        .iter()
        .position(|b| *b == b'\n')
        .map_or(bytes.len(), |i| at + i);
    let snippet = String::from_utf8_lossy(&bytes[line_start..line_end])
        .trim_end_matches('\r')
        .to_string();
    let byte = rest.first().copied().unwrap_or_default();
    let message = match e.error_len() {
        Some(_) => format!("not UTF-8 text: byte 0x{byte:02X} (byte offset {at}) is not valid UTF-8"),
        None => format!("not UTF-8 text: the file ends inside a character (byte 0x{byte:02X} at byte offset {at} starts an incomplete sequence)"),
    };
    let hint = if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        "the file is UTF-16 (it starts with a byte-order mark); re-save it as UTF-8".to_string()
    } else if byte >= 0xA0 {
        format!(
            "re-save the file as UTF-8; byte 0x{byte:02X} is `{}` in Latin-1 (`iconv -f LATIN1 -t UTF-8 FILE` converts from Latin-1)",
            char::from(byte)
        )
    } else {
        format!("re-save the file as UTF-8 (byte 0x{byte:02X} cannot appear here in UTF-8)")
    };
    Diagnostic::error("not-utf8", file, message)
        .at(line, column)
        .hint(hint)
        .snippet(snippet)
}

/// A YAML syntax or budget error, located.
pub fn yaml_error(file: &str, e: &serde_saphyr::Error) -> Diagnostic {
    let (line, column) = e
        .location()
        .map(|l| (l.line(), l.column()))
        .unwrap_or((0, 0));
    let message = e.to_string();
    let first = message.lines().next().unwrap_or("invalid YAML");
    let first = match first.find(" at line ") {
        Some(i) => &first[..i],
        None => first,
    };
    if let Some(detail) = first.strip_prefix("budget breached: ") {
        return Diagnostic::error(
            "yaml-budget",
            file,
            format!("input budget exceeded ({detail}): alias bombs, deep nesting and oversized documents are refused"),
        )
        .at(line, column)
        .hint("expand the aliases by hand or split the file; SSOT files stay small and plain");
    }
    Diagnostic::error("yaml", file, first.to_string())
        .at(line, column)
        .hint("fix the YAML syntax; documents are separated by `---`")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn located(bytes: &[u8]) -> Diagnostic {
        let e = std::str::from_utf8(bytes).expect_err("not UTF-8");
        not_utf8("f.yaml", bytes, e)
    }

    #[test]
    fn a_bad_byte_is_located_by_line_and_column_in_characters() {
        // Two lines before, and a multi-byte character before the bad byte on its line.
        let d = located(b"a: 1\r\nb: 2\nc: \xc3\xa9t\xe9\n");
        assert_eq!((d.code, d.line, d.column), ("not-utf8", 3, 6));
        assert!(
            d.message.contains("byte 0xE9 (byte offset 17)"),
            "{}",
            d.message
        );
        assert_eq!(d.snippet.as_deref(), Some("c: \u{e9}t\u{FFFD}"));
        assert!(d
            .hint
            .as_deref()
            .is_some_and(|h| h.contains("`\u{e9}` in Latin-1")));
        let shown = d.render(None);
        assert!(
            shown.starts_with("f.yaml:3:6: error[not-utf8]: "),
            "{shown}"
        );
        assert!(
            shown.contains("3 | c: \u{e9}t\u{FFFD}\n  |      ^\n"),
            "{shown}"
        );
    }

    #[test]
    fn a_truncated_character_and_utf16_are_told_apart() {
        let d = located(b"a: \xe2\x82");
        assert_eq!((d.line, d.column), (1, 4));
        assert!(
            d.message.contains("ends inside a character"),
            "{}",
            d.message
        );
        let d = located(b"\xff\xfea\x00:\x00");
        assert_eq!((d.line, d.column), (1, 1));
        assert!(d.hint.as_deref().is_some_and(|h| h.contains("UTF-16")));
    }
}
