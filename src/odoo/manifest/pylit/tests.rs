use super::*;

fn s(x: &str) -> Value {
    Value::Str(x.to_string())
}

fn ok(src: &str) -> Value {
    match parse(src) {
        Ok(v) => v,
        Err(e) => panic!("{src:?} should parse: {e}"),
    }
}

fn err(src: &str) -> ParseError {
    match parse(src) {
        Ok(v) => panic!("{src:?} should fail, got {v:?}"),
        Err(e) => e,
    }
}

#[test]
fn every_quote_style() {
    assert_eq!(ok("'a'"), s("a"));
    assert_eq!(ok("\"a\""), s("a"));
    assert_eq!(ok("'''a\n'b'\n'''"), s("a\n'b'\n"));
    assert_eq!(ok("\"\"\"x\"\"y\"\"\""), s("x\"\"y"));
    assert_eq!(ok("''"), s(""));
    assert_eq!(ok("''''''"), s(""));
}

#[test]
fn prefixes_raw_bytes_unicode() {
    assert_eq!(ok(r"r'a\nb'"), s(r"a\nb"));
    assert_eq!(ok(r"R'\''"), s(r"\'"));
    assert_eq!(ok("u'x'"), s("x"));
    assert_eq!(ok(r"b'\x00A'"), Value::Bytes(vec![0, b'A']));
    assert_eq!(ok(r"Rb'\x'"), Value::Bytes(b"\\x".to_vec()));
    assert_eq!(ok(r"bR'\x'"), Value::Bytes(b"\\x".to_vec()));
    assert!(err("f'{x}'").message.contains("f-strings"));
    assert!(err("b'é'").message.contains("ASCII"));
}

#[test]
fn escapes() {
    assert_eq!(ok(r#"'\n\t\\\'\"'"#), s("\n\t\\'\""));
    assert_eq!(ok(r"'\x41\101\u00e9\U0001F600'"), s("AAé😀"));
    assert_eq!(ok("'a\\\nb'"), s("ab"));
    // Unknown escapes keep the backslash.
    assert_eq!(ok(r"'\d+'"), s(r"\d+"));
    assert!(err(r"'\x4'").message.contains("hex digits"));
    assert!(err(r"'\ud800'").message.contains("not a valid character"));
    assert!(err(r"'\N{DASH}'").message.contains("named unicode"));
}

#[test]
fn implicit_concatenation() {
    assert_eq!(ok("'a' \"b\" '''c'''"), s("abc"));
    assert_eq!(ok("('a'\n  # comment\n  r'\\b')"), s("a\\b"));
    assert_eq!(ok("b'a' B'b'"), Value::Bytes(b"ab".to_vec()));
    assert!(err("'a' b'b'").message.contains("mix bytes and str"));
}

#[test]
fn numbers() {
    assert_eq!(ok("42"), Value::Int(42));
    assert_eq!(ok("-7"), Value::Int(-7));
    assert_eq!(ok("+ 7"), Value::Int(7));
    assert_eq!(ok("1_000"), Value::Int(1000));
    assert_eq!(ok("0x1F"), Value::Int(31));
    assert_eq!(ok("0o17"), Value::Int(15));
    assert_eq!(ok("0b101"), Value::Int(5));
    assert_eq!(ok("0"), Value::Int(0));
    assert_eq!(ok("1.5"), Value::Float(1.5));
    assert_eq!(ok(".5"), Value::Float(0.5));
    assert_eq!(ok("1e3"), Value::Float(1000.0));
    assert_eq!(ok("2.5E-1"), Value::Float(0.25));
    assert!(err("017").message.contains("leading zeros"));
    assert!(err("1__0").message.contains("invalid number"));
    assert!(err("99999999999999999999").message.contains("too large"));
    assert!(err("1j").message.contains("complex"));
    assert!(err("1.2.3").message.contains("invalid number"));
}

#[test]
fn containers_and_constants() {
    assert_eq!(
        ok("[1, (2,), (3), (), {4}, {}, True, False, None,]"),
        Value::List(vec![
            Value::Int(1),
            Value::Tuple(vec![Value::Int(2)]),
            Value::Int(3),
            Value::Tuple(vec![]),
            Value::Set(vec![Value::Int(4)]),
            Value::Dict(vec![]),
            Value::Bool(true),
            Value::Bool(false),
            Value::None,
        ])
    );
    let d = ok("{'a': 1, 'a': 2, ('t', 1): [], }");
    assert_eq!(d.get("a"), Some(&Value::Int(2)), "last duplicate wins");
    assert!(err("{[1]: 2}").message.contains("unhashable list"));
    assert!(err("{{1}}").message.contains("unhashable set"));
    assert!(err("{(1, (2, [3])): 4}")
        .message
        .contains("unhashable tuple"));
    assert!(err("{1, (2, {})}")
        .message
        .contains("unhashable tuple used as a set element"));
}

#[test]
fn comments_and_continuations() {
    let v = ok("# header\n{ # open\n 'a' : \\\n 1 # one\n} # end\n# trailing\n");
    assert_eq!(v.get("a"), Some(&Value::Int(1)));
    assert_eq!(ok("\u{feff}{}"), Value::Dict(vec![]));
}

#[test]
fn non_literals_are_located_errors() {
    let e = err("{\n  'name': _('Sale'),\n}");
    assert_eq!((e.line, e.column), (2, 11));
    assert!(e.message.contains("call of `_(…)`"), "{}", e.message);
    let e = err("{'a': foo}");
    assert!(e.message.contains("name `foo`"));
    let e = err("{'a': 1 + 2}");
    assert_eq!((e.line, e.column), (1, 9));
    assert!(e.message.contains("expected `,` or `}`"), "{}", e.message);
    assert!(err("{'a': 1},").message.contains("top-level tuple"));
    assert!(err("").message.contains("end of input"));
    assert!(err("{'a': 1").message.contains("expected `,` or `}`"));
    assert!(err("'abc").message.contains("unterminated"));
    assert!(err("'a\nb'").message.contains("newline"));
    assert!(
        err("{'a' 1}").message.contains("expected `:`")
            || err("{'a' 1}").message.contains("expected `,`")
    );
    assert!(err("{'a': 1, 'b'}").message.contains("expected `:`"));
    assert!(err("-'a'").message.contains("unary sign"));
    assert!(err("→").message.contains("expected a literal"));
    assert!(err("x\\y").message.contains("name `x`"));
}

#[test]
fn columns_count_characters_not_bytes() {
    let e = err("{'é': ñ}");
    assert_eq!((e.line, e.column), (1, 7));
}

#[test]
fn deep_nesting_is_refused_not_overflowed() {
    let deep = "[".repeat(100_000);
    assert!(err(&deep).message.contains("nested deeper"));
    let ok_depth = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
    assert!(parse(&ok_depth).is_ok());
}
