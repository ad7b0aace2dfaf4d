//! A parser for Python literals — the subset `ast.literal_eval` accepts that manifests use:
//! strings (every quote style, triple quotes, `r`/`b`/`u` prefixes, implicit concatenation of
//! adjacent literals, escapes), integers and floats (with unary sign), lists, tuples, dicts,
//! sets, `True`/`False`/`None`, comments, line continuations and trailing commas.
//!
//! Anything else — names, calls, operators, f-strings — is a located error. The parser never
//! panics on any input (a property test feeds it random and mutated bytes) and bounds nesting.

use lexemes::is_prefix;
use thiserror::Error;

mod lexemes;

/// Deepest nesting of containers accepted (CPython's own parser limit is about 200).
pub const MAX_DEPTH: usize = 100;

/// A Python literal value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Str(String),
    Bytes(Vec<u8>),
    Int(i64),
    Float(f64),
    Bool(bool),
    None,
    List(Vec<Value>),
    Tuple(Vec<Value>),
    Set(Vec<Value>),
    /// Key/value pairs in source order; on a duplicate key the last one wins (see [`Value::get`]).
    Dict(Vec<(Value, Value)>),
}

impl Value {
    /// The Python type name, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "str",
            Value::Bytes(_) => "bytes",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::Bool(_) => "bool",
            Value::None => "None",
            Value::List(_) => "list",
            Value::Tuple(_) => "tuple",
            Value::Set(_) => "set",
            Value::Dict(_) => "dict",
        }
    }
    /// Look a string key up in a dict (last duplicate wins, as in Python).
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Dict(pairs) => pairs
                .iter()
                .rev()
                .find(|(k, _)| matches!(k, Value::Str(s) if s == key))
                .map(|(_, v)| v),
            _ => None,
        }
    }
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
    /// Python truthiness.
    pub fn truthy(&self) -> bool {
        match self {
            Value::Str(s) => !s.is_empty(),
            Value::Bytes(b) => !b.is_empty(),
            Value::Int(i) => *i != 0,
            Value::Float(f) => *f != 0.0,
            Value::Bool(b) => *b,
            Value::None => false,
            Value::List(v) | Value::Tuple(v) | Value::Set(v) => !v.is_empty(),
            Value::Dict(v) => !v.is_empty(),
        }
    }
    /// Elements of a list, tuple or set.
    pub fn items(&self) -> Option<&[Value]> {
        match self {
            Value::List(v) | Value::Tuple(v) | Value::Set(v) => Some(v),
            _ => None,
        }
    }
}

/// A parse error with its 1-based line and column (columns count characters).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{line}:{column}: {message}")]
pub struct ParseError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// Parse a whole source text holding exactly one literal expression.
pub fn parse(src: &str) -> Result<Value, ParseError> {
    let mut p = Parser {
        src,
        b: src.as_bytes(),
        pos: 0,
        depth: 0,
    };
    // A UTF-8 byte-order mark is accepted, as Python does.
    if src.starts_with('\u{feff}') {
        p.pos = 3;
    }
    p.skip_ws()?;
    if p.pos >= p.b.len() {
        return Err(p.err_at(p.pos, "expected a literal, found end of input"));
    }
    let v = p.expr()?;
    p.skip_ws()?;
    if p.pos < p.b.len() {
        // `{...},` at top level is a one-element tuple in Python.
        if p.b[p.pos] == b',' {
            return Err(p.err_at(
                p.pos,
                "unexpected `,` after the literal (a top-level tuple is not a manifest)",
            ));
        }
        return Err(p.err_at(
            p.pos,
            &format!("unexpected {} after the literal", p.describe()),
        ));
    }
    Ok(v)
}

struct Parser<'a> {
    src: &'a str,
    b: &'a [u8],
    pos: usize,
    depth: usize,
}

impl Parser<'_> {
    fn err_at(&self, pos: usize, message: &str) -> ParseError {
        let pos = pos.min(self.b.len());
        // Find a char boundary at or before pos.
        let mut p = pos;
        while p > 0 && !self.src.is_char_boundary(p) {
            p -= 1;
        }
        let before = &self.src[..p];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
        let column = before[line_start..].chars().count() + 1;
        ParseError {
            line,
            column,
            message: message.to_string(),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    /// What is at the cursor, for messages.
    fn describe(&self) -> String {
        match self.src.get(self.pos..).and_then(|s| s.chars().next()) {
            None => "end of input".to_string(),
            Some(c) if c.is_alphanumeric() || c == '_' => {
                let word: String = self.src[self.pos..]
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .take(40)
                    .collect();
                format!("name `{word}`")
            }
            Some(c) => format!("`{c}`"),
        }
    }

    /// Skip whitespace, newlines, comments and backslash line continuations.
    fn skip_ws(&mut self) -> Result<(), ParseError> {
        while let Some(c) = self.peek() {
            match c {
                b' ' | b'\t' | b'\n' | b'\r' | b'\x0c' => self.pos += 1,
                b'#' => {
                    while let Some(c) = self.peek() {
                        if c == b'\n' {
                            break;
                        }
                        self.pos += 1;
                    }
                }
                b'\\' => {
                    let rest = &self.b[self.pos + 1..];
                    if rest.starts_with(b"\n") {
                        self.pos += 2;
                    } else if rest.starts_with(b"\r\n") {
                        self.pos += 3;
                    } else {
                        return Err(self.err_at(
                            self.pos,
                            "unexpected `\\` (a line continuation must end its line)",
                        ));
                    }
                }
                _ => break,
            }
        }
        Ok(())
    }

    fn expr(&mut self) -> Result<Value, ParseError> {
        let start = self.pos;
        let Some(c) = self.peek() else {
            return Err(self.err_at(start, "expected a literal, found end of input"));
        };
        match c {
            b'[' | b'(' | b'{' => {
                self.depth += 1;
                if self.depth > MAX_DEPTH {
                    return Err(self.err_at(
                        start,
                        &format!("literal nested deeper than {MAX_DEPTH} levels"),
                    ));
                }
                self.pos += 1;
                let v = match c {
                    b'[' => self.sequence(b']').map(Value::List),
                    b'(' => self.paren(),
                    _ => self.brace(),
                };
                self.depth -= 1;
                v
            }
            b'\'' | b'"' => self.strings(),
            b'0'..=b'9' | b'.' => self.number(false),
            b'-' | b'+' => {
                self.pos += 1;
                self.skip_ws()?;
                match self.peek() {
                    Some(b'0'..=b'9' | b'.') => self.number(c == b'-'),
                    _ => {
                        Err(self.err_at(start, "a unary sign must be followed by a number literal"))
                    }
                }
            }
            _ if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 => {
                // A string prefix, a keyword constant, or a name (refused).
                let word_end = self.word_end();
                if word_end == self.pos {
                    return Err(self.err_at(
                        start,
                        &format!("expected a literal, found {}", self.describe()),
                    ));
                }
                let word = &self.src[self.pos..word_end];
                if matches!(self.b.get(word_end), Some(b'\'' | b'"')) && is_prefix(word) {
                    return self.strings();
                }
                let v = match word {
                    "True" => Value::Bool(true),
                    "False" => Value::Bool(false),
                    "None" => Value::None,
                    _ => {
                        let what = if self.b.get(word_end) == Some(&b'(') {
                            format!("call of `{word}(…)`")
                        } else if matches!(self.b.get(word_end), Some(b'\'' | b'"')) {
                            format!("string prefix `{word}`")
                        } else {
                            format!("name `{word}`")
                        };
                        return Err(self.err_at(
                            start,
                            &format!("{what} is not a literal (only strings, numbers, lists, tuples, dicts, sets, True, False and None are allowed)"),
                        ));
                    }
                };
                self.pos = word_end;
                Ok(v)
            }
            _ => Err(self.err_at(
                start,
                &format!("expected a literal, found {}", self.describe()),
            )),
        }
    }

    fn word_end(&self) -> usize {
        let mut end = self.pos;
        for (i, ch) in self.src[self.pos..].char_indices() {
            if ch.is_alphanumeric() || ch == '_' {
                end = self.pos + i + ch.len_utf8();
            } else {
                break;
            }
        }
        end
    }

    /// Elements up to `close`, comma separated, trailing comma allowed.
    fn sequence(&mut self, close: u8) -> Result<Vec<Value>, ParseError> {
        let mut out = Vec::new();
        loop {
            self.skip_ws()?;
            if self.peek() == Some(close) {
                self.pos += 1;
                return Ok(out);
            }
            out.push(self.expr()?);
            self.skip_ws()?;
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(c) if c == close => {
                    self.pos += 1;
                    return Ok(out);
                }
                _ => return Err(self.expected_sep(close)),
            }
        }
    }

    fn expected_sep(&self, close: u8) -> ParseError {
        // `'a': 'x'  'b': 1` — adjacent strings concatenate, so a forgotten comma surfaces
        // at the next colon; say so, as CPython does.
        let hint = if close == b'}' && self.peek() == Some(b':') {
            " (a missing `,` before this entry? adjacent strings are concatenated)"
        } else {
            ""
        };
        self.err_at(
            self.pos,
            &format!(
                "expected `,` or `{}`, found {}{hint}",
                close as char,
                self.describe()
            ),
        )
    }

    /// After `(`: `()` is an empty tuple, `(x)` is x, `(x,)` and `(x, y)` are tuples.
    fn paren(&mut self) -> Result<Value, ParseError> {
        self.skip_ws()?;
        if self.peek() == Some(b')') {
            self.pos += 1;
            return Ok(Value::Tuple(Vec::new()));
        }
        let first = self.expr()?;
        self.skip_ws()?;
        match self.peek() {
            Some(b')') => {
                self.pos += 1;
                Ok(first)
            }
            Some(b',') => {
                self.pos += 1;
                let mut rest = self.sequence(b')')?;
                rest.insert(0, first);
                Ok(Value::Tuple(rest))
            }
            _ => Err(self.expected_sep(b')')),
        }
    }

    /// After `{`: a dict (`{}` included) or a set.
    fn brace(&mut self) -> Result<Value, ParseError> {
        self.skip_ws()?;
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(Value::Dict(Vec::new()));
        }
        let key_pos = self.pos;
        let first = self.expr()?;
        self.skip_ws()?;
        if self.peek() != Some(b':') {
            // A set.
            self.check_hashable(&first, key_pos, "set element")?;
            let mut items = vec![first];
            match self.peek() {
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Value::Set(items));
                }
                Some(b',') => self.pos += 1,
                _ => return Err(self.expected_sep(b'}')),
            }
            loop {
                self.skip_ws()?;
                if self.peek() == Some(b'}') {
                    self.pos += 1;
                    return Ok(Value::Set(items));
                }
                let at = self.pos;
                let v = self.expr()?;
                self.check_hashable(&v, at, "set element")?;
                items.push(v);
                self.skip_ws()?;
                match self.peek() {
                    Some(b',') => self.pos += 1,
                    Some(b'}') => {
                        self.pos += 1;
                        return Ok(Value::Set(items));
                    }
                    _ => return Err(self.expected_sep(b'}')),
                }
            }
        }
        self.check_hashable(&first, key_pos, "dict key")?;
        let mut pairs = Vec::new();
        let mut key = first;
        loop {
            // At `:`.
            self.pos += 1;
            self.skip_ws()?;
            let value = self.expr()?;
            pairs.push((key, value));
            self.skip_ws()?;
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Value::Dict(pairs));
                }
                _ => return Err(self.expected_sep(b'}')),
            }
            self.skip_ws()?;
            if self.peek() == Some(b'}') {
                self.pos += 1;
                return Ok(Value::Dict(pairs));
            }
            let at = self.pos;
            key = self.expr()?;
            self.check_hashable(&key, at, "dict key")?;
            self.skip_ws()?;
            if self.peek() != Some(b':') {
                return Err(self.err_at(
                    self.pos,
                    &format!("expected `:` after a dict key, found {}", self.describe()),
                ));
            }
        }
    }

    fn check_hashable(&self, v: &Value, at: usize, what: &str) -> Result<(), ParseError> {
        fn hashable(v: &Value) -> bool {
            match v {
                Value::List(_) | Value::Dict(_) | Value::Set(_) => false,
                Value::Tuple(items) => items.iter().all(hashable),
                _ => true,
            }
        }
        if hashable(v) {
            Ok(())
        } else {
            Err(self.err_at(
                at,
                &format!("unhashable {} used as a {what}", v.type_name()),
            ))
        }
    }
}

#[cfg(test)]
mod tests;
