//! Fields the validator accepts but nothing acts on yet. Where one is set, `validate` warns
//! (`unused-field`), so that nobody counts on it by mistake. The table is the one place that
//! lists them: remove an entry in the change that implements its field (and its line in
//! spec/resources.md, "Accepted but not acted on").

use super::Ctx;
use crate::ssot::model::Kind;
use crate::ssot::structural::Entry;
use serde_json::Value;

/// A field that is validated and kept, but has no effect yet.
#[derive(Debug, Clone, Copy)]
pub struct UnusedField {
    pub kind: Kind,
    /// JSON pointer of the field in the resource.
    pub pointer: &'static str,
    /// Why setting it does nothing, in one line.
    pub reason: &'static str,
}

pub const UNUSED_FIELDS: &[UnusedField] = &[
    UnusedField {
        kind: Kind::BackupPolicy,
        pointer: "/spec/restoreDrill",
        reason: "no restore drill is run yet; restores happen only when asked for",
    },
    UnusedField {
        kind: Kind::Environment,
        pointer: "/spec/limits/ttlDays",
        reason: "databases are not expired yet; a development database lives until removed",
    },
];

/// Warn for each field of the table that `e` sets (present, not null, not an empty list).
pub(super) fn unused_fields(cx: &mut Ctx, e: &Entry) {
    let kind = e.resource.kind();
    let mut value = None;
    for f in UNUSED_FIELDS.iter().filter(|f| f.kind == kind) {
        let v: &Value = value.get_or_insert_with(|| e.resource.to_value());
        let set = match v.pointer(f.pointer) {
            None | Some(Value::Null) => false,
            Some(Value::Array(items)) => !items.is_empty(),
            Some(_) => true,
        };
        if set {
            let name = f.pointer.rsplit('/').next().unwrap_or(f.pointer);
            cx.warn(
                e,
                f.pointer,
                "unused-field",
                format!("`{name}` is accepted but not acted on: {}", f.reason),
                "it is validated and kept; remove it to silence this warning",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::UNUSED_FIELDS;

    #[test]
    fn every_entry_is_documented_in_the_resource_reference() {
        let spec = include_str!("../../../spec/resources.md");
        let section = spec
            .split("### Accepted but not acted on")
            .nth(1)
            .expect("spec/resources.md has the section");
        for f in UNUSED_FIELDS {
            let row = format!("| {} | `{}` |", f.kind, f.pointer);
            assert!(section.contains(&row), "spec/resources.md lacks `{row}`");
        }
    }
}
