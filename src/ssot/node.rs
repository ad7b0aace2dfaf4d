//! A YAML document parsed into a located tree, then lowered to JSON plus a map from JSON
//! pointer to source position. Validation speaks JSON pointers; users read line numbers.

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::{Map, Number, Value};
use serde_saphyr::Spanned;
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

/// Positions of a document's nodes, shaped like its JSON value: a mapping's children are in
/// the value's key order, so no pointer strings are kept (an SSOT of thousands of files keeps
/// a few bytes per node, not a map entry per JSON pointer).
#[derive(Debug, Clone)]
enum PosTree {
    Leaf(Pos),
    Seq(Pos, Vec<PosTree>),
    /// The mapping's position, then each entry's key position and value positions.
    Map(Pos, Vec<(Pos, PosTree)>),
}

impl PosTree {
    fn pos(&self) -> Pos {
        match self {
            PosTree::Leaf(p) | PosTree::Seq(p, _) | PosTree::Map(p, _) => *p,
        }
    }
}

/// One YAML document as JSON, with the position of every node.
#[derive(Debug, Clone)]
pub struct LocatedDoc {
    pub value: Value,
    /// Position of the document's root node.
    pub start: Pos,
    tree: PosTree,
}

impl LocatedDoc {
    /// The (key, value) positions of the node at a JSON pointer, if it exists.
    fn locate(&self, pointer: &str) -> Option<(Option<Pos>, Pos)> {
        let (mut value, mut tree, mut key) = (&self.value, &self.tree, None);
        if pointer.is_empty() {
            return Some((None, tree.pos()));
        }
        for raw in pointer.strip_prefix('/')?.split('/') {
            let seg = raw.replace("~1", "/").replace("~0", "~");
            match (value, tree) {
                (Value::Object(map), PosTree::Map(_, entries)) => {
                    let i = map.keys().position(|k| *k == seg)?;
                    let (k, child) = entries.get(i)?;
                    value = map.get(&seg)?;
                    (tree, key) = (child, Some(*k));
                }
                (Value::Array(items), PosTree::Seq(_, children)) => {
                    let i: usize = seg.parse().ok()?;
                    value = items.get(i)?;
                    (tree, key) = (children.get(i)?, None);
                }
                _ => return None,
            }
        }
        Some((key, tree.pos()))
    }

    /// Best position for a JSON pointer: the key of the field when it is a mapping entry,
    /// else the value; for a pointer that does not exist (a missing field), the nearest
    /// existing ancestor.
    pub fn pos(&self, pointer: &str) -> Pos {
        let mut p = pointer.to_string();
        loop {
            if let Some((key, value)) = self.locate(&p) {
                return key.unwrap_or(value);
            }
            match p.rfind('/') {
                Some(i) => p.truncate(i),
                None => return self.start,
            }
        }
    }

    /// Position of the value (not the key) at a pointer, falling back like [`Self::pos`].
    pub fn value_pos(&self, pointer: &str) -> Pos {
        self.locate(pointer)
            .map(|(_, value)| value)
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
    let start = Pos::of(&root.referenced);
    let (value, tree) = lower(root);
    LocatedDoc { value, start, tree }
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

fn lower(node: Spanned<Raw>) -> (Value, PosTree) {
    let pos = Pos::of(&node.referenced);
    match node.value {
        Raw::Null => (Value::Null, PosTree::Leaf(pos)),
        Raw::Bool(b) => (Value::Bool(b), PosTree::Leaf(pos)),
        Raw::Int(i) => (Value::Number(i.into()), PosTree::Leaf(pos)),
        Raw::UInt(u) => (Value::Number(u.into()), PosTree::Leaf(pos)),
        Raw::Float(f) => (
            Number::from_f64(f)
                .map(Value::Number)
                .unwrap_or(Value::Null),
            PosTree::Leaf(pos),
        ),
        Raw::Str(s) => (Value::String(s), PosTree::Leaf(pos)),
        Raw::Seq(items) => {
            let (values, trees) = items.into_iter().map(lower).unzip();
            (Value::Array(values), PosTree::Seq(pos, trees))
        }
        Raw::Map(entries) => {
            let mut out = Map::new();
            let mut trees: Vec<(Pos, PosTree)> = Vec::with_capacity(entries.len());
            for (k, v) in entries {
                let key = scalar_key(&k.value);
                let key_pos = Pos::of(&k.referenced);
                let (value, tree) = lower(v);
                // Two keys spelling the same string (`1` and "1"): the later one wins, at
                // the earlier one's place, as in the value.
                // (The linear search runs only for such a duplicate.)
                let earlier = out
                    .contains_key(&key)
                    .then(|| out.keys().position(|existing| *existing == key))
                    .flatten();
                match earlier {
                    Some(i) => trees[i] = (key_pos, tree),
                    None => trees.push((key_pos, tree)),
                }
                out.insert(key, value);
            }
            (Value::Object(out), PosTree::Map(pos, trees))
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
    fn positions_follow_the_document_order_not_the_key_order() {
        let text = "z: 1\nb:\n  - q: 1\n    a: [1, 2]\na: true\n";
        let docs = parse_documents(text, crate::ssot::loader::Limits::default().yaml_options())
            .expect("parse");
        let d = &docs[0];
        assert_eq!(d.pos("/z").line, 1);
        assert_eq!(d.pos("/a").line, 5);
        assert_eq!(d.pos("/b/0/a").line, 4);
        assert_eq!(
            (d.value_pos("/b/0/a/1").line, d.value_pos("/b/0/a/1").column),
            (4, 12)
        );
        // Out-of-range indexes and scalars fall back to the nearest ancestor.
        assert_eq!(d.pos("/b/7/x").line, 2);
        assert_eq!(d.pos("/z/deeper").line, 1);
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
