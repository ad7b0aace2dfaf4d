//! What the neutralization of Odoo 17.0 Community's modules amounts to, written down as data
//! from `ODOO-FACTS.md` and the observed results of `odoo-bin neutralize` (not Odoo's code).
//! [`super::rules`] turns each entry into SQL for the `--builtin-rules` path, and the
//! post-check reads the payment credentials from here.
//!
//! The modules listed are exactly the 17.0 Community modules that ship a
//! `data/neutralize.sql`; `base` is special-cased in [`super::rules`] (an insert, an upsert and a
//! sub-select), every payment provider is a list of credential columns ([`PAYMENT`]), every
//! other module a list of [`Op`]s ([`MODULES`]).

mod modules;
mod payment;

pub use modules::MODULES;
pub use payment::PAYMENT;

/// A value a rule writes into a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Val {
    Null,
    Bool(bool),
    /// A text placeholder (`''` included): never a real credential.
    Text(&'static str),
}

/// One operation of a module's neutralization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Set columns of `table` on every row (`only`: a SQL condition restricting the rows).
    Set {
        what: &'static str,
        table: &'static str,
        set: &'static [(&'static str, Val)],
        only: Option<&'static str>,
    },
    /// Delete these `ir_config_parameter` keys.
    DropParams {
        what: &'static str,
        keys: &'static [&'static str],
    },
    /// Blank these `ir_config_parameter` keys (value `''`).
    BlankParams {
        what: &'static str,
        keys: &'static [&'static str],
    },
    /// Remove every row of a table, and of the tables whose foreign keys point at it.
    Empty {
        what: &'static str,
        table: &'static str,
    },
    /// Activate the `ir_ui_view` with this key.
    ShowView {
        what: &'static str,
        key: &'static str,
    },
    /// IAP account tokens: the part after the first `+` (or the end) becomes `+disabled`;
    /// tokens too long to be current ones are replaced by a disabled placeholder.
    DisableIapTokens,
}

/// One module's operations.
#[derive(Debug, Clone, Copy)]
pub struct Entry {
    pub module: &'static str,
    pub ops: &'static [Op],
}

/// A payment provider module: its provider code and the columns holding its credentials,
/// each with what neutralization leaves there.
#[derive(Debug, Clone, Copy)]
pub struct PaymentCredentials {
    pub module: &'static str,
    pub code: &'static str,
    pub columns: &'static [(&'static str, Val)],
}

/// The series this catalog describes.
pub const SERIES: &str = "17.0";

/// The operations for `module` (`base` and unknown modules: none here).
pub fn ops(module: &str) -> Option<Vec<Op>> {
    if let Some(e) = MODULES.iter().find(|e| e.module == module) {
        return Some(e.ops.to_vec());
    }
    PAYMENT.iter().find(|p| p.module == module).map(|p| {
        vec![Op::Set {
            what: "wipe the provider's credentials",
            table: "payment_provider",
            set: p.columns,
            only: None,
        }]
    })
}

/// Does `module` ship a `data/neutralize.sql` in Odoo `series`? `None` when this catalog does
/// not describe that series.
pub fn ships_script(series: &str, module: &str) -> Option<bool> {
    (series == SERIES).then(|| {
        module == "base"
            || (module != "fetchmail" && MODULES.iter().any(|e| e.module == module))
            || PAYMENT.iter().any(|p| p.module == module)
    })
}

/// Every module of the catalog (17.0 Community's modules that ship a script).
pub fn modules() -> impl Iterator<Item = &'static str> {
    std::iter::once("base")
        .chain(
            MODULES
                .iter()
                .map(|e| e.module)
                .filter(|m| *m != "fetchmail"),
        )
        .chain(PAYMENT.iter().map(|p| p.module))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalog_names_the_52_modules_of_17_0_once_each() {
        let all: Vec<&str> = modules().collect();
        let mut uniq = all.clone();
        uniq.sort_unstable();
        uniq.dedup();
        assert_eq!(all.len(), uniq.len(), "no module twice");
        assert_eq!(all.len(), 52);
        assert_eq!(ships_script("17.0", "payment_stripe"), Some(true));
        assert_eq!(ships_script("17.0", "fetchmail"), Some(false));
        assert_eq!(ships_script("17.0", "sale"), Some(false));
        assert_eq!(ships_script("16.0", "payment_stripe"), None);
        assert!(ops("fetchmail").is_some(), "kept for databases up to 15.0");
        assert!(ops("base").is_none() && ops("sale").is_none());
    }
}
