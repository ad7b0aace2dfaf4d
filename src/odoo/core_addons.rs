//! Odoo Community core addon names per series, embedded in the binary (lists in
//! `src/odoo/core_addons/`, from OCA manifestoo-core; see its README). A dependency on one of
//! these is satisfied by Odoo itself.

const CE_14: &str = include_str!("core_addons/ce-14.0.txt");
const CE_15: &str = include_str!("core_addons/ce-15.0.txt");
const CE_16: &str = include_str!("core_addons/ce-16.0.txt");
const CE_17: &str = include_str!("core_addons/ce-17.0.txt");
const CE_18: &str = include_str!("core_addons/ce-18.0.txt");
const CE_19: &str = include_str!("core_addons/ce-19.0.txt");

/// Series with an embedded list.
pub const SERIES: &[&str] = &["14.0", "15.0", "16.0", "17.0", "18.0", "19.0"];

/// The core addon names of a series (`None` for an unknown series).
pub fn core_addons(series: &str) -> Option<impl Iterator<Item = &'static str>> {
    let text = match series {
        "14.0" => CE_14,
        "15.0" => CE_15,
        "16.0" => CE_16,
        "17.0" => CE_17,
        "18.0" => CE_18,
        "19.0" => CE_19,
        _ => return None,
    };
    Some(
        text.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#')),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_series_has_base_and_no_comment_lines() {
        for s in SERIES {
            let names: Vec<&str> = core_addons(s).expect("known series").collect();
            assert!(names.contains(&"base") && names.contains(&"web"), "{s}");
            assert!(names.len() > 400, "{s}: {}", names.len());
            assert!(names.iter().all(|n| !n.contains(' ')));
        }
        assert!(core_addons("12.0").is_none());
    }

    #[test]
    fn lists_follow_the_series() {
        let has = |s: &str, n: &str| core_addons(s).expect("series").any(|x| x == n);
        assert!(has("17.0", "sale_management") && has("17.0", "website"));
        assert!(!has("17.0", "web_responsive"), "OCA addons are not core");
    }
}
