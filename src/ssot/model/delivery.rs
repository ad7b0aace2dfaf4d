//! How Odoo is delivered to an environment's host: Odoo's own source at a pinned revision
//! (on the `Project`), and how the host is reached and laid out (on the `Environment`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Odoo's source, installed from source on the host (Odoo's documented "source install").
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OdooSource {
    /// A git repository of Odoo (its public one, or a mirror). One of `url` and `path`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// A directory on the controller's machine holding Odoo's source (a local mirror).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The pinned revision: a commit (with `url`), or a name this copy is known by (with
    /// `path`). A release records it; changing it is a new release.
    pub revision: String,
    /// Odoo's Python requirements file, relative to the source (default
    /// `requirements.txt`), or an absolute path on the controller's machine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requirements: Option<String>,
}

#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum TransportKind {
    /// Over SSH to the environment's droplet (or `address`).
    #[default]
    Ssh,
    /// On the controller's own machine (a single-machine install, the demo).
    Local,
}

#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SupervisorKind {
    /// systemd units (`odooops-odoo@<slot>`, `odooops-proxy`), as the cloud-init installs.
    Systemd,
    /// A pidfile per slot; nothing restarts a crashed Odoo (containers, the demo, tests).
    Pidfile,
}

#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    /// A certificate from Let's Encrypt for the environment's domain (Caddy's ACME).
    #[default]
    Auto,
    /// Caddy's internal CA (hosts without a public name, tests).
    Internal,
}

/// The HTTPS proxy in front of Odoo.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProxyPorts {
    /// `false`: no proxy; Odoo answers on its slot's port of the host's loopback only (a
    /// single-machine install without Caddy, the demo). The URL then changes with the slot.
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default = "p80")]
    pub http_port: u16,
    #[serde(default = "p443")]
    pub https_port: u16,
    /// Caddy's admin endpoint on the host's loopback.
    #[serde(default = "p2019")]
    pub admin_port: u16,
    #[serde(default)]
    pub tls: TlsMode,
}

impl Default for ProxyPorts {
    fn default() -> Self {
        ProxyPorts {
            enabled: true,
            http_port: 80,
            https_port: 443,
            admin_port: 2019,
            tls: TlsMode::Auto,
        }
    }
}

fn yes() -> bool {
    true
}
fn p80() -> u16 {
    80
}
fn p443() -> u16 {
    443
}
fn p2019() -> u16 {
    2019
}
fn p22() -> u16 {
    22
}
fn p8069() -> u16 {
    8069
}
fn odooops_user() -> String {
    "odooops".into()
}
fn opt_root() -> String {
    "/opt/odooops".into()
}
fn python3() -> String {
    "python3".into()
}

/// How Odoo reaches this environment's host.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Delivery {
    #[serde(default)]
    pub transport: TransportKind,
    /// The SSH user (the cloud-init creates it).
    #[serde(default = "odooops_user")]
    pub user: String,
    /// Registry key of the deploy key (an OpenSSH private key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh_key_secret: Option<String>,
    /// The host's public key (`ssh-ed25519 AAAA…`), pinned: SSH never trusts blindly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_key: Option<String>,
    #[serde(default = "p22")]
    pub ssh_port: u16,
    /// The host's address; default: the droplet's public IPv4.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// The environment lives under `<root>/<environment name>`.
    #[serde(default = "opt_root")]
    pub root: String,
    /// Slot `a`'s HTTP port (its websocket port is +3; slot `b` adds 100).
    #[serde(default = "p8069")]
    pub odoo_port: u16,
    #[serde(default)]
    pub proxy: ProxyPorts,
    /// Default: systemd over SSH, pidfile on the local transport.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supervisor: Option<SupervisorKind>,
    /// The host's Python interpreter for virtualenvs.
    #[serde(default = "python3")]
    pub python: String,
}
