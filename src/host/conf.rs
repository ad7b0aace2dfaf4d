//! odoo.conf for a source install on a host: the environment's rendered config
//! ([`crate::odoo::render::odoo_conf`], `${NAME}` references and all) with the paths and
//! ports of one slot of its layout: the release's addons paths before Odoo's own, the shared
//! data directory, the slot's HTTP and websocket ports on the host's loopback (the proxy is
//! in front), `proxy_mode` on.

use super::layout::{Layout, Slot};
use crate::odoo::render;
use crate::ssot::{Environment, Project};

/// Replace (or add) `key = value` lines of an `[options]` config.
pub fn with_options(conf: &str, options: &[(&str, String)]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut done = vec![false; options.len()];
    for line in conf.lines() {
        let key = line.split('=').next().unwrap_or("").trim();
        match options.iter().position(|(k, _)| *k == key) {
            Some(i) if line.contains('=') && !line.trim_start().starts_with(';') => {
                out.push(format!("{key} = {}", options[i].1));
                done[i] = true;
            }
            _ => out.push(line.to_string()),
        }
    }
    for (i, (k, v)) in options.iter().enumerate() {
        if !done[i] {
            out.push(format!("{k} = {v}"));
        }
    }
    let mut s = out.join("\n");
    s.push('\n');
    s
}

/// The odoo.conf of `slot` running `release` (a directory on the host) with Odoo's source
/// at `odoo`.
pub fn slot_conf(
    project: &Project,
    env: &Environment,
    layout: &Layout,
    slot: Slot,
    release: &str,
    odoo: &str,
) -> String {
    let mut addons: Vec<String> = project
        .spec
        .repository
        .addons_paths
        .iter()
        .map(|p| format!("{release}/{}", p.trim_matches('/')))
        .collect();
    if addons.is_empty() {
        addons.push(release.to_string());
    }
    addons.push(format!("{odoo}/addons"));
    addons.push(format!("{odoo}/odoo/addons"));
    with_options(
        &render::odoo_conf(project, env),
        &[
            ("addons_path", addons.join(",")),
            ("data_dir", layout.data_dir()),
            ("http_interface", "127.0.0.1".to_string()),
            ("http_port", layout.http_port(slot).to_string()),
            ("gevent_port", layout.gevent_port(slot).to_string()),
            ("proxy_mode", "True".to_string()),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_replaced_in_place_or_added() {
        let conf = "[options]\n; http_port = 1\nhttp_port = 8069\ndata_dir = /var/lib/odoo\n";
        let out = with_options(
            conf,
            &[("http_port", "8169".into()), ("proxy_mode", "True".into())],
        );
        assert_eq!(
            out,
            "[options]\n; http_port = 1\nhttp_port = 8169\ndata_dir = /var/lib/odoo\nproxy_mode = True\n"
        );
    }
}
