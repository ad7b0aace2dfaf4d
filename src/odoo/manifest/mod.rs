//! Odoo addon manifests (`__manifest__.py`): a real Python-literal parser ([`pylit`]) and the
//! typed fields the module graph needs, with Odoo's defaults for absent keys.

pub mod pylit;

use pylit::Value;
use serde::Serialize;
use std::collections::BTreeMap;
use thiserror::Error;

/// Odoo's default license when a manifest has none (`odoo/modules/module.py`).
pub const DEFAULT_LICENSE: &str = "LGPL-3";

#[derive(Debug, Error)]
pub enum ManifestError {
    #[error("{path}:{0}", path = .1)]
    Syntax(pylit::ParseError, String),
    #[error("{path}: the manifest must be a dict literal, found {found}")]
    NotADict { path: String, found: &'static str },
    #[error("{path}: `{key}` must be {expected}, found {found}")]
    Field {
        path: String,
        key: &'static str,
        expected: &'static str,
        found: String,
    },
}

/// The manifest fields OdooOps reasons about.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Manifest {
    pub name: Option<String>,
    /// As written; `None` when absent (Odoo then uses `1.0`).
    pub version: Option<String>,
    pub depends: Vec<String>,
    /// As written, else [`DEFAULT_LICENSE`].
    pub license: String,
    pub installable: bool,
    /// `True`, `False`, or a list of dependencies that trigger installation.
    pub auto_install: bool,
    pub external_python: Vec<String>,
    pub external_bin: Vec<String>,
    pub data: Vec<String>,
    /// Asset bundle name → number of entries.
    pub assets: BTreeMap<String, usize>,
}

impl Manifest {
    /// Parse a manifest's source text. `path` only names the file in errors.
    pub fn parse(src: &str, path: &str) -> Result<Manifest, ManifestError> {
        let v = pylit::parse(src).map_err(|e| ManifestError::Syntax(e, path.to_string()))?;
        Manifest::from_value(&v, path)
    }

    pub fn from_value(v: &Value, path: &str) -> Result<Manifest, ManifestError> {
        if !matches!(v, Value::Dict(_)) {
            return Err(ManifestError::NotADict {
                path: path.to_string(),
                found: v.type_name(),
            });
        }
        let field =
            |key: &'static str, expected: &'static str, found: &Value| ManifestError::Field {
                path: path.to_string(),
                key,
                expected,
                found: found.type_name().to_string(),
            };
        let opt_str = |key: &'static str| -> Result<Option<String>, ManifestError> {
            match v.get(key) {
                None | Some(Value::None) => Ok(None),
                Some(Value::Str(s)) => Ok(Some(s.clone())),
                Some(other) => Err(field(key, "a string", other)),
            }
        };
        let str_list =
            |key: &'static str, within: Option<&Value>| -> Result<Vec<String>, ManifestError> {
                match within {
                    None | Some(Value::None) => Ok(Vec::new()),
                    Some(list) => {
                        let items = list
                            .items()
                            .ok_or_else(|| field(key, "a list of strings", list))?;
                        items
                            .iter()
                            .map(|i| {
                                i.as_str()
                                    .map(str::to_string)
                                    .ok_or_else(|| field(key, "a list of strings", i))
                            })
                            .collect()
                    }
                }
            };
        let external = v.get("external_dependencies");
        if let Some(e) = external {
            if !matches!(e, Value::Dict(_) | Value::None) {
                return Err(field("external_dependencies", "a dict", e));
            }
        }
        let mut assets = BTreeMap::new();
        match v.get("assets") {
            None | Some(Value::None) => {}
            Some(a @ Value::Dict(pairs)) => {
                for (k, val) in pairs {
                    let (Some(bundle), Some(items)) = (k.as_str(), val.items()) else {
                        return Err(field("assets", "a dict of bundle name to list", a));
                    };
                    assets.insert(bundle.to_string(), items.len());
                }
            }
            Some(other) => return Err(field("assets", "a dict", other)),
        }
        Ok(Manifest {
            name: opt_str("name")?,
            version: opt_str("version")?,
            depends: str_list("depends", v.get("depends"))?,
            license: opt_str("license")?.unwrap_or_else(|| DEFAULT_LICENSE.to_string()),
            installable: v.get("installable").map(Value::truthy).unwrap_or(true),
            auto_install: v.get("auto_install").map(Value::truthy).unwrap_or(false),
            external_python: str_list(
                "external_dependencies",
                external.and_then(|e| e.get("python")),
            )?,
            external_bin: str_list("external_dependencies", external.and_then(|e| e.get("bin")))?,
            data: str_list("data", v.get("data"))?,
            assets,
        })
    }

    /// Does the version fit the series? Odoo prefixes short versions (`1.0.0` → `17.0.1.0.0`);
    /// a version naming another series (`16.0.1.0.0`) or with more than five parts does not.
    pub fn version_matches(&self, series: &str) -> bool {
        let Some(v) = self.version.as_deref() else {
            return true;
        };
        let parts: Vec<&str> = v.split('.').collect();
        if parts
            .iter()
            .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
        {
            return false;
        }
        if v == series || v.starts_with(&format!("{series}.")) {
            return parts.len() <= 5;
        }
        parts.len() <= 3
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SALE: &str = r#"# -*- coding: utf-8 -*-
# Copyright 2024 Acme
{
    'name': "Acme Sale",
    "version": '17.0.1.2.0',
    'depends': ['sale_management', "acme_base",],  # trailing comma
    'license': 'AGPL-3',
    'external_dependencies': {'python': ['phonenumbers'], 'bin': []},
    'data': ['security/ir.model.access.csv', 'views/sale_views.xml'],
    'assets': {'web.assets_backend': ['acme_sale/static/src/**/*']},
    'installable': True,
}
"#;

    #[test]
    fn reads_the_fields_the_graph_needs() {
        let m = Manifest::parse(SALE, "acme_sale/__manifest__.py").expect("parse");
        assert_eq!(m.name.as_deref(), Some("Acme Sale"));
        assert_eq!(m.depends, vec!["sale_management", "acme_base"]);
        assert_eq!(m.license, "AGPL-3");
        assert_eq!(m.external_python, vec!["phonenumbers"]);
        assert_eq!(m.assets.get("web.assets_backend"), Some(&1));
        assert!(m.installable && m.version_matches("17.0") && !m.version_matches("16.0"));
    }

    #[test]
    fn absent_keys_take_odoo_defaults() {
        let m = Manifest::parse("{'name': 'x'}", "x").expect("parse");
        assert_eq!(m.license, DEFAULT_LICENSE);
        assert!(m.installable && !m.auto_install && m.depends.is_empty());
        assert!(m.version_matches("17.0"));
    }

    #[test]
    fn version_rules() {
        let v = |s: &str| Manifest {
            version: Some(s.into()),
            ..Manifest::parse("{}", "x").expect("parse")
        };
        assert!(v("1.0.0").version_matches("17.0"));
        assert!(v("17.0.1.0.0").version_matches("17.0"));
        assert!(v("17.0").version_matches("17.0"));
        assert!(!v("16.0.1.0.0").version_matches("17.0"));
        assert!(!v("1.0.0.0").version_matches("17.0"));
        assert!(!v("17.0.1.x").version_matches("17.0"));
    }

    #[test]
    fn wrong_field_types_name_the_key() {
        let e = Manifest::parse("{'depends': 'base'}", "m.py").expect_err("str depends");
        assert_eq!(
            e.to_string(),
            "m.py: `depends` must be a list of strings, found str"
        );
        let e = Manifest::parse("['a']", "m.py").expect_err("list");
        assert!(e.to_string().contains("must be a dict literal, found list"));
    }
}
