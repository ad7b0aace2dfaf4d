//! `db_object_count`: tables + sequences of the environment database ≤ `max` (Odoo.sh: 10,000).
//! Measured with [`crate::provider::postgres::object_count_on`], the code backups use too.

use super::{Outcome, Verdict};
use crate::provider::postgres::ObjectCount;
use crate::ssot::GateParams;
use serde_json::json;

/// Odoo.sh's limit on tables + sequences per database.
pub const DEFAULT_MAX: u64 = 10_000;

/// Pure evaluation of a measured count.
pub fn evaluate(count: &ObjectCount, params: &GateParams) -> Verdict {
    let max = params.max.unwrap_or(DEFAULT_MAX);
    let measured =
        json!({"tables": count.tables, "sequences": count.sequences, "total": count.total});
    let threshold = json!({"max": max});
    if count.total <= max {
        Verdict::new(
            Outcome::Pass,
            measured,
            threshold,
            format!(
                "{} objects ({} tables + {} sequences) ≤ {max}",
                count.total, count.tables, count.sequences
            ),
        )
    } else {
        Verdict::new(
            Outcome::Fail,
            measured,
            threshold,
            format!(
                "{} objects ({} tables + {} sequences) exceed {max} by {}: drop unused tables or sequences",
                count.total,
                count.tables,
                count.sequences,
                count.total - max
            ),
        )
    }
}
