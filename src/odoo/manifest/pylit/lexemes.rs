//! The lexemes of the literal grammar: strings (prefixes, quotes, escapes, implicit
//! concatenation) and numbers.

use super::{ParseError, Parser, Value};

impl Parser<'_> {
    /// One or more adjacent string literals, concatenated.
    pub(super) fn strings(&mut self) -> Result<Value, ParseError> {
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

    pub(super) fn number(&mut self, negative: bool) -> Result<Value, ParseError> {
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

pub(super) fn is_prefix(word: &str) -> bool {
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
