//! The cloud-init of a droplet Odoo is delivered to (its environment has `spec.delivery`):
//! the bootstrap every release builds on. It makes the deploy user (with the droplet's SSH
//! keys, which DigitalOcean gives root), installs what Odoo's source install needs (Python,
//! its build dependencies, the PostgreSQL client library) and Caddy, writes the systemd
//! units a release is run by — `odooops-odoo@a`/`@b` (one per slot) and `odooops-proxy` —
//! with the sudo rule that lets the deploy user start, stop and restart exactly those, and
//! closes outbound port 25. Outside production the mail catcher runs on the host's loopback.
//! No secret is in it: releases write the secrets file (0600) through SSH.

use super::render::{captures_mail, defaults};
use crate::ssot::{Delivery, Environment, Project};
use std::fmt::Write;

/// Debian/Ubuntu packages of a source install (Odoo's documentation) and the proxy.
pub const PACKAGES: &[&str] = &[
    "python3",
    "python3-venv",
    "python3-dev",
    "build-essential",
    "libpq-dev",
    "libxml2-dev",
    "libxslt1-dev",
    "libldap2-dev",
    "libsasl2-dev",
    "libjpeg-dev",
    "zlib1g-dev",
    "libffi-dev",
    "postgresql-client",
    "curl",
    "caddy",
    "iptables",
];

fn indent(text: &str, by: usize) -> String {
    let pad = " ".repeat(by);
    text.lines()
        .map(|l| {
            if l.is_empty() {
                String::new()
            } else {
                format!("{pad}{l}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The systemd template unit of Odoo's slots: it runs the launcher a release writes
/// (`run/<slot>.sh`: Odoo's source, the virtualenv and the slot's runtime config).
pub fn odoo_unit(env: &Environment, d: &Delivery) -> String {
    let root = format!("{}/{}", d.root.trim_end_matches('/'), env.metadata.name);
    format!(
        "[Unit]\n\
         Description=Odoo of Environment/{name}, slot %i (OdooOps)\n\
         After=network-online.target\n\
         Wants=network-online.target\n\n\
         [Service]\n\
         User={user}\n\
         ExecStart=/bin/sh {root}/run/%i.sh\n\
         Restart=on-failure\n\
         RestartSec=5\n\
         KillMode=control-group\n\
         TimeoutStopSec=30\n\n\
         [Install]\n\
         WantedBy=multi-user.target\n",
        name = env.metadata.name,
        user = d.user,
    )
}

/// The systemd unit of the HTTPS proxy (Caddy on 80/443 as the deploy user).
pub fn proxy_unit(env: &Environment, d: &Delivery) -> String {
    let proxy = format!(
        "{}/{}/proxy",
        d.root.trim_end_matches('/'),
        env.metadata.name
    );
    format!(
        "[Unit]\n\
         Description=HTTPS proxy of Environment/{name} (OdooOps)\n\
         After=network-online.target\n\
         Wants=network-online.target\n\n\
         [Service]\n\
         User={user}\n\
         AmbientCapabilities=CAP_NET_BIND_SERVICE\n\
         Environment=XDG_CONFIG_HOME={proxy}/config XDG_DATA_HOME={proxy}/data\n\
         ExecStart=/usr/bin/caddy run --config {proxy}/Caddyfile --adapter caddyfile\n\
         ExecReload=/usr/bin/caddy reload --config {proxy}/Caddyfile --adapter caddyfile --address 127.0.0.1:{admin}\n\
         Restart=on-failure\n\n\
         [Install]\n\
         WantedBy=multi-user.target\n",
        name = env.metadata.name,
        user = d.user,
        admin = d.proxy.admin_port,
    )
}

/// `#cloud-config` of a droplet an environment's releases are delivered to.
pub fn cloud_init(project: &Project, env: &Environment, d: &Delivery, egress: &str) -> String {
    let spec = &env.spec;
    let user = &d.user;
    let root = format!("{}/{}", d.root.trim_end_matches('/'), env.metadata.name);
    let mut y = String::new();
    let _ = writeln!(y, "#cloud-config");
    let _ = writeln!(
        y,
        "# Environment/{} — project {}, Odoo {} from source, stage {}. Rendered by odooops.",
        env.metadata.name,
        project.metadata.name,
        project.spec.odoo.series.as_str(),
        spec.stage.as_str()
    );
    y.push_str(
        "# The bootstrap of its releases: each release uploads Odoo's source, a virtualenv, the\n\
         # code and the config over SSH as the deploy user, and the secrets file (0600).\n\
         # No secret is in this file. Pin the host key (`ssh-keyscan -t ed25519 HOST`) as\n\
         # spec.delivery.hostKey before the first release.\n",
    );
    y.push_str("package_update: true\npackages:\n");
    for p in PACKAGES {
        let _ = writeln!(y, "  - {p}");
    }
    if captures_mail(env) {
        y.push_str("  - docker.io\n");
    }
    let _ = writeln!(
        y,
        "users:\n  - default\n  - name: {user}\n    shell: /bin/bash\n    lock_passwd: true"
    );
    y.push_str("write_files:\n");
    let file = |y: &mut String, path: &str, perm: &str, content: &str| {
        let _ = writeln!(
            y,
            "  - path: {path}\n    permissions: '{perm}'\n    content: |"
        );
        y.push_str(&indent(content, 6));
        y.push('\n');
    };
    file(
        &mut y,
        "/etc/systemd/system/odooops-odoo@.service",
        "0644",
        &odoo_unit(env, d),
    );
    file(
        &mut y,
        "/etc/systemd/system/odooops-proxy.service",
        "0644",
        &proxy_unit(env, d),
    );
    file(
        &mut y,
        "/etc/sudoers.d/odooops",
        "0440",
        &format!(
            "# The deploy user runs exactly the units of its releases.\n\
             {user} ALL=(root) NOPASSWD: /usr/bin/systemctl start odooops-odoo@*, /usr/bin/systemctl stop odooops-odoo@*, /usr/bin/systemctl restart odooops-odoo@*, /usr/bin/systemctl start odooops-proxy, /usr/bin/systemctl reload odooops-proxy\n"
        ),
    );
    file(&mut y, "/opt/odooops/egress.sh", "0755", egress);
    file(
        &mut y,
        "/etc/systemd/system/odooops-egress.service",
        "0644",
        "[Unit]\nDescription=OdooOps egress policy (outbound port 25 closed)\n\n[Service]\nType=oneshot\nExecStart=/opt/odooops/egress.sh\nRemainAfterExit=yes\n\n[Install]\nWantedBy=multi-user.target\n",
    );
    y.push_str("runcmd:\n");
    let _ = writeln!(
        y,
        "  - [sh, -c, 'install -d -o {user} -m 700 /home/{user}/.ssh && install -o {user} -m 600 /root/.ssh/authorized_keys /home/{user}/.ssh/authorized_keys']"
    );
    let _ = writeln!(y, "  - [install, -d, -o, {user}, -m, '750', '{root}']");
    // Debian's caddy package starts its own default site on :80.
    y.push_str("  - [systemctl, disable, --now, caddy]\n");
    y.push_str("  - [systemctl, daemon-reload]\n");
    y.push_str("  - [systemctl, enable, --now, odooops-egress.service]\n");
    y.push_str("  - [systemctl, enable, odooops-proxy.service]\n");
    if captures_mail(env) {
        let _ = writeln!(
            y,
            "  - [docker, run, -d, --name, mailcatcher, --restart, unless-stopped, -p, '127.0.0.1:{smtp}:1025', -p, '127.0.0.1:{web}:8025', '{img}']",
            smtp = defaults::CATCHER_SMTP_PORT,
            web = defaults::CATCHER_WEB_PORT,
            img = defaults::CATCHER_IMAGE
        );
    }
    y
}
