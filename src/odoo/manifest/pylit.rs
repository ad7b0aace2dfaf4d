//! A parser for Python literals — the subset `ast.literal_eval` accepts that manifests use:
//! strings (every quote style, triple quotes, `r`/`b`/`u` prefixes, implicit concatenation of
//! adjacent literals, escapes), integers and floats (with unary sign), lists, tuples, dicts,
//! sets, `True`/`False`/`None`, comments, line continuations and trailing commas.
//!
//! Anything else — names, calls, operators, f-strings — is a located error. The parser never
//! panics on any input (a property test feeds it random and mutated bytes) and bounds nesting.

use thiserror::Error;

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
        let ok = match v {
            Value::List(_) | Value::Dict(_) | Value::Set(_) => false,
            Value::Tuple(items) => items
                .iter()
                .all(|i| !matches!(i, Value::List(_) | Value::Dict(_) | Value::Set(_))),
            _ => true,
        };
        if ok {
            Ok(())
        } else {
            Err(self.err_at(
                at,
                &format!("unhashable {} used as a {what}", v.type_name()),
            ))
        }
    }

    /// One or more adjacent string literals, concatenated.
    fn strings(&mut self) -> Result<Value, ParseError> {
        let start = self.pos;
        let (mut is_bytes, mut acc) = self.string()?;
        loop {
            let save = self.pos;
            self.skip_ws()?;
            let next_is_string = match self.peek() {
                Some(b'\'' | b'"') => true,
                Some(c) if c.is_ascii_alphabetic() => {
                    let end = self.word_end();
                    matches!(self.b.get(end), Some(b'\'' | b'"'))
                        && is_prefix(&self.src[self.pos..end])
                }
                _ => false,
            };
            if !next_is_string {
                self.pos = save;
                break;
            }
            let at = self.pos;
            let (b, more) = self.string()?;
            if b != is_bytes {
                return Err(self.err_at(at, "cannot mix bytes and str literals"));
            }
            is_bytes = b;
            acc.extend_from_slice(&more);
        }
        if is_bytes {
            Ok(Value::Bytes(acc))
        } else {
            String::from_utf8(acc).map(Value::Str).map_err(|_| {
                self.err_at(start, "string is not valid UTF-8 (lone surrogate escape?)")
            })
        }
    }

    /// One string literal (prefix included). Returns (is_bytes, content bytes).
    fn string(&mut self) -> Result<(bool, Vec<u8>), ParseError> {
        let start = self.pos;
        let mut raw = false;
        let mut bytes = false;
        while let Some(c) = self.peek() {
            match c.to_ascii_lowercase() {
                b'r' => raw = true,
                b'b' => bytes = true,
                b'u' => {}
                b'f' => {
                    return Err(self.err_at(start, "f-strings are not literals"));
                }
                _ => break,
            }
            self.pos += 1;
        }
        let Some(q) = self.peek() else {
            return Err(self.err_at(start, "expected a quote"));
        };
        let triple = self.b[self.pos..].starts_with(&[q, q, q]);
        self.pos += if triple { 3 } else { 1 };
        let mut out: Vec<u8> = Vec::new();
        loop {
            let Some(c) = self.peek() else {
                return Err(self.err_at(start, "unterminated string literal"));
            };
            if c == q {
                if !triple {
                    self.pos += 1;
                    break;
                }
                if self.b[self.pos..].starts_with(&[q, q, q]) {
                    self.pos += 3;
                    break;
                }
                out.push(c);
                self.pos += 1;
                continue;
            }
            if c == b'\n' && !triple {
                return Err(self.err_at(
                    start,
                    "unterminated string literal (newline in a single-quoted string)",
                ));
            }
            if bytes && c >= 0x80 {
                return Err(self.err_at(self.pos, "bytes literals may only hold ASCII characters"));
            }
            if c != b'\\' {
                // Copy a whole UTF-8 character.
                let len = utf8_len(c);
                let end = (self.pos + len).min(self.b.len());
                out.extend_from_slice(&self.b[self.pos..end]);
                self.pos = end;
                continue;
            }
            // A backslash.
            let esc_at = self.pos;
            let Some(n) = self.b.get(self.pos + 1).copied() else {
                return Err(self.err_at(start, "unterminated string literal"));
            };
            if raw {
                // Raw: the backslash stays, and it protects the next character (a quote too).
                out.push(b'\\');
                if n == b'\r' && self.b.get(self.pos + 2) == Some(&b'\n') {
                    out.extend_from_slice(b"\r\n");
                    self.pos += 3;
                } else {
                    let len = utf8_len(n);
                    let end = (self.pos + 1 + len).min(self.b.len());
                    out.extend_from_slice(&self.b[self.pos + 1..end]);
                    self.pos = end;
                }
                continue;
            }
            self.pos += 2;
            match n {
                b'\n' => {}
                b'\r' => {
                    if self.peek() == Some(b'\n') {
                        self.pos += 1;
                    }
                }
                b'\\' => out.push(b'\\'),
                b'\'' => out.push(b'\''),
                b'"' => out.push(b'"'),
                b'a' => out.push(0x07),
                b'b' => out.push(0x08),
                b'f' => out.push(0x0c),
                b'n' => out.push(b'\n'),
                b'r' => out.push(b'\r'),
                b't' => out.push(b'\t'),
                b'v' => out.push(0x0b),
                b'0'..=b'7' => {
                    let mut val: u32 = u32::from(n - b'0');
                    for _ in 0..2 {
                        match self.peek() {
                            Some(d @ b'0'..=b'7') => {
                                val = val * 8 + u32::from(d - b'0');
                                self.pos += 1;
                            }
                            _ => break,
                        }
                    }
                    self.push_code(&mut out, val, bytes, esc_at)?;
                }
                b'x' => {
                    let val = self.hex_digits(2, esc_at)?;
                    self.push_code(&mut out, val, bytes, esc_at)?;
                }
                b'u' | b'U' if !bytes => {
                    let val = self.hex_digits(if n == b'u' { 4 } else { 8 }, esc_at)?;
                    self.push_code(&mut out, val, false, esc_at)?;
                }
                b'N' if !bytes => {
                    return Err(self.err_at(
                        esc_at,
                        "named unicode escapes (\\N{…}) are not supported; write the character itself",
                    ));
                }
                other => {
                    // Unknown escapes keep their backslash, as Python does.
                    out.push(b'\\');
                    if bytes && other >= 0x80 {
                        return Err(
                            self.err_at(esc_at, "bytes literals may only hold ASCII characters")
                        );
                    }
                    let len = utf8_len(other);
                    let begin = self.pos - 1;
                    let end = (begin + len).min(self.b.len());
                    out.extend_from_slice(&self.b[begin..end]);
                    self.pos = end;
                }
            }
        }
        Ok((bytes, out))
    }

    fn hex_digits(&mut self, n: usize, esc_at: usize) -> Result<u32, ParseError> {
        let mut val: u32 = 0;
        for _ in 0..n {
            match self.peek().and_then(|c| (c as char).to_digit(16)) {
                Some(d) => {
                    val = val.wrapping_mul(16).wrapping_add(d);
                    self.pos += 1;
                }
                None => {
                    return Err(self.err_at(
                        esc_at,
                        &format!("truncated escape: expected {n} hex digits"),
                    ))
                }
            }
        }
        Ok(val)
    }

    fn push_code(
        &self,
        out: &mut Vec<u8>,
        val: u32,
        bytes: bool,
        at: usize,
    ) -> Result<(), ParseError> {
        if bytes {
            let b = u8::try_from(val)
                .map_err(|_| self.err_at(at, "octal escape value out of range for bytes"))?;
            out.push(b);
            return Ok(());
        }
        let ch = char::from_u32(val).ok_or_else(|| {
            self.err_at(
                at,
                &format!("escape \\u{{{val:x}}} is not a valid character"),
            )
        })?;
        let mut buf = [0u8; 4];
        out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
        Ok(())
    }

    fn number(&mut self, negative: bool) -> Result<Value, ParseError> {
        let start = self.pos;
        let mut end = self.pos;
        while end < self.b.len() {
            let c = self.b[end];
            let exp_sign = (c == b'+' || c == b'-')
                && end > start
                && matches!(self.b[end - 1], b'e' | b'E')
                && !self.src[start..end].starts_with("0x")
                && !self.src[start..end].starts_with("0X");
            if c.is_ascii_alphanumeric() || c == b'_' || c == b'.' || exp_sign {
                end += 1;
            } else {
                break;
            }
        }
        let text = &self.src[start..end];
        let bad = || self.err_at(start, &format!("invalid number literal `{text}`"));
        if text.ends_with('_') || text.contains("__") {
            return Err(bad());
        }
        let clean: String = text.chars().filter(|c| *c != '_').collect();
        let lower = clean.to_ascii_lowercase();
        let radix = match lower.get(..2) {
            Some("0x") => Some(16),
            Some("0o") => Some(8),
            Some("0b") => Some(2),
            _ => None,
        };
        let value = if let Some(radix) = radix {
            let digits = &lower[2..];
            if digits.is_empty() {
                return Err(bad());
            }
            let v = i64::from_str_radix(digits, radix).map_err(|_| {
                self.err_at(
                    start,
                    &format!("number literal `{text}` is invalid or too large"),
                )
            })?;
            Value::Int(if negative { -v } else { v })
        } else if lower.ends_with('j') {
            return Err(self.err_at(start, "complex numbers are not supported"));
        } else if lower.contains(['.', 'e']) {
            if !lower
                .bytes()
                .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'+' | b'-'))
            {
                return Err(bad());
            }
            let f: f64 = lower.parse().map_err(|_| bad())?;
            Value::Float(if negative { -f } else { f })
        } else {
            if !lower.bytes().all(|c| c.is_ascii_digit()) {
                return Err(bad());
            }
            if lower.len() > 1 && lower.starts_with('0') && lower.bytes().any(|c| c != b'0') {
                return Err(self.err_at(
                    start,
                    &format!("leading zeros in `{text}` are not allowed (use 0o for octal)"),
                ));
            }
            let v: i64 = lower
                .parse()
                .map_err(|_| self.err_at(start, &format!("integer `{text}` is too large")))?;
            Value::Int(if negative { -v } else { v })
        };
        self.pos = end;
        Ok(value)
    }
}

fn is_prefix(word: &str) -> bool {
    matches!(
        word.to_ascii_lowercase().as_str(),
        "r" | "u" | "b" | "br" | "rb" | "f" | "fr" | "rf"
    )
}

fn utf8_len(first: u8) -> usize {
    match first {
        0xf0..=0xff => 4,
        0xe0..=0xef => 3,
        0xc0..=0xdf => 2,
        _ => 1,
    }
}

#[cfg(test)]
#[path = "pylit_tests.rs"]
mod tests;
