//! ModuleSet rules: waves numbered 1..n, each module in one wave, addon names.

use super::{valid_module_name, Ctx, Index};
use crate::ssot::model::*;
use crate::ssot::structural::Entry;
use std::collections::HashMap;

pub(super) fn module_set(cx: &mut Ctx, e: &Entry, m: &ModuleSet, _idx: &Index) {
    let mut seen: HashMap<&str, u32> = HashMap::new();
    let mut numbers: Vec<u32> = m.spec.waves.iter().map(|w| w.wave).collect();
    numbers.sort_unstable();
    let expected: Vec<u32> = (1..=m.spec.waves.len() as u32).collect();
    if numbers != expected {
        cx.err(
            e,
            "/spec/waves",
            "waves",
            format!(
                "waves must be numbered 1..{} without gaps or repeats, found {numbers:?}",
                m.spec.waves.len()
            ),
            "renumber the waves 1, 2, 3, …",
        );
    }
    for (wi, w) in m.spec.waves.iter().enumerate() {
        for (mi, name) in w.modules.iter().enumerate() {
            let ptr = format!("/spec/waves/{wi}/modules/{mi}");
            if !valid_module_name(name) {
                cx.err(
                    e,
                    &ptr,
                    "invalid-value",
                    format!("`{name}` is not an addon technical name"),
                    "addon names are lowercase letters, digits and `_`",
                );
            } else if let Some(first) = seen.insert(name, w.wave) {
                cx.err(
                    e,
                    &ptr,
                    "waves",
                    format!("`{name}` is already in wave {first}"),
                    "list each module in one wave only",
                );
            }
        }
    }
}
