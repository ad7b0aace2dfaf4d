//! A YAML document parsed into a located tree, then lowered to JSON plus a map from JSON
//! pointer to source position. Validation speaks JSON pointers; users read line numbers.

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::{Map, Number, Value};
use serde_saphyr::Spanned;
use std::collections::HashMap;
use std::fmt;

/// A source position (1-based line and column; 0 when unknown).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct Pos {
    pub line: u64,
    pub column: u64,
}

impl Pos {
    fn of(loc: &serde_saphyr::Location) -> Pos {
        Pos {
            line: loc.line(),
            column: loc.column(),
        }
    }
}

/// A YAML node with its position.
#[derive(Debug)]
enum Raw {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(String),
    Seq(Vec<Spanned<Raw>>),
    Map(Vec<(Spanned<Raw>, Spanned<Raw>)>),
}

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = Raw;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML node")
    }
    fn visit_unit<E>(self) -> Result<Raw, E> {
        Ok(Raw::Null)
    }
    fn visit_none<E>(self) -> Result<Raw, E> {
        Ok(Raw::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Raw, D::Error> {
        Raw::deserialize(d)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Raw, E> {
        Ok(Raw::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Raw, E> {
        Ok(Raw::Int(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Raw, E> {
        Ok(Raw::UInt(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Raw, E> {
        Ok(Raw::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Raw, E> {
        Ok(Raw::Str(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Raw, E> {
        Ok(Raw::Str(v))
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Raw, E> {
        String::from_utf8(v.to_vec())
            .map(Raw::Str)
            .map_err(|_| E::custom("binary values are not supported"))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Raw, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<Raw>>()? {
            items.push(item);
        }
        Ok(Raw::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Raw, A::Error> {
        let mut entries = Vec::new();
        while let Some(k) = map.next_key::<Spanned<Raw>>()? {
            let v = map.next_value::<Spanned<Raw>>()?;
            entries.push((k, v));
        }
        Ok(Raw::Map(entries))
    }
}

impl<'de> Deserialize<'de> for Raw {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Raw, D::Error> {
        d.deserialize_any(RawVisitor)
    }
}

/// One YAML document as JSON, with positions for every JSON pointer.
#[derive(Debug, Clone)]
pub struct LocatedDoc {
    pub value: Value,
    /// Position of the document's root node.
    pub start: Pos,
    values: HashMap<String, Pos>,
    keys: HashMap<String, Pos>,
}

impl LocatedDoc {
    /// Best position for a JSON pointer: the key of the field when it is a mapping entry,
    /// else the value; for a pointer that does not exist (a missing field), the nearest
    /// existing ancestor.
    pub fn pos(&self, pointer: &str) -> Pos {
        let mut p = pointer.to_string();
        loop {
            if let Some(pos) = self.keys.get(&p).or_else(|| self.values.get(&p)) {
                return *pos;
            }
            match p.rfind('/') {
                Some(i) => p.truncate(i),
                None => return self.start,
            }
        }
    }

    /// Position of the value (not the key) at a pointer, falling back like [`Self::pos`].
    pub fn value_pos(&self, pointer: &str) -> Pos {
        self.values
            .get(pointer)
            .copied()
            .unwrap_or_else(|| self.pos(pointer))
    }
}

/// Escape one JSON-pointer segment (RFC 6901).
pub fn escape_segment(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}

/// Parse every document of a YAML text. Empty documents are skipped.
pub fn parse_documents(
    text: &str,
    options: serde_saphyr::Options,
) -> Result<Vec<LocatedDoc>, serde_saphyr::Error> {
    let raws: Vec<Spanned<Raw>> = serde_saphyr::from_multiple_with_options(text, options)?;
    Ok(raws.into_iter().map(lower_doc).collect())
}

fn lower_doc(root: Spanned<Raw>) -> LocatedDoc {
    let mut doc = LocatedDoc {
        value: Value::Null,
        start: Pos::of(&root.referenced),
        values: HashMap::new(),
        keys: HashMap::new(),
    };
    let mut values = HashMap::new();
    let mut keys = HashMap::new();
    doc.value = lower(root, String::new(), &mut values, &mut keys);
    doc.values = values;
    doc.keys = keys;
    doc
}

fn scalar_key(raw: &Raw) -> String {
    match raw {
        Raw::Null => "null".into(),
        Raw::Bool(b) => b.to_string(),
        Raw::Int(i) => i.to_string(),
        Raw::UInt(u) => u.to_string(),
        Raw::Float(f) => f.to_string(),
        Raw::Str(s) => s.clone(),
        Raw::Seq(_) | Raw::Map(_) => "<complex key>".into(),
    }
}

fn lower(
    node: Spanned<Raw>,
    ptr: String,
    values: &mut HashMap<String, Pos>,
    keys: &mut HashMap<String, Pos>,
) -> Value {
    values.insert(ptr.clone(), Pos::of(&node.referenced));
    match node.value {
        Raw::Null => Value::Null,
        Raw::Bool(b) => Value::Bool(b),
        Raw::Int(i) => Value::Number(i.into()),
        Raw::UInt(u) => Value::Number(u.into()),
        Raw::Float(f) => Number::from_f64(f)
            .map(Value::Number)
            .unwrap_or(Value::Null),
        Raw::Str(s) => Value::String(s),
        Raw::Seq(items) => Value::Array(
            items
                .into_iter()
                .enumerate()
                .map(|(i, item)| lower(item, format!("{ptr}/{i}"), values, keys))
                .collect(),
        ),
        Raw::Map(entries) => {
            let mut out = Map::new();
            for (k, v) in entries {
                let key = scalar_key(&k.value);
                let child = format!("{ptr}/{}", escape_segment(&key));
                keys.insert(child.clone(), Pos::of(&k.referenced));
                let value = lower(v, child, values, keys);
                out.insert(key, value);
            }
            Value::Object(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_follow_pointers() {
        let text = "a: 1\nb:\n  c: [x, y]\n  d: true\n---\nz: null\n";
        let docs = parse_documents(text, crate::ssot::loader::Limits::default().yaml_options())
            .expect("parse");
        assert_eq!(docs.len(), 2);
        let d = &docs[0];
        assert_eq!(d.value["b"]["c"][1], "y");
        assert_eq!(d.pos("/b/d").line, 4);
        assert_eq!(d.pos("/b/d").column, 3);
        assert_eq!(d.value_pos("/b/c/1").line, 3);
        // A missing field points at its nearest ancestor.
        assert_eq!(d.pos("/b/missing").line, 2);
        assert_eq!(docs[1].start.line, 6);
    }

    #[test]
    fn keys_with_slashes_are_escaped() {
        let docs = parse_documents(
            "a/b: 1\n",
            crate::ssot::loader::Limits::default().yaml_options(),
        )
        .expect("parse");
        assert_eq!(docs[0].pos("/a~1b").line, 1);
    }
}
