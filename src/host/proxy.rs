//! The HTTPS proxy in front of Odoo: Caddy (Debian's package), on the host's HTTP and HTTPS
//! ports, routing `/websocket` to the active slot's gevent port and everything else to its
//! HTTP port (Odoo runs with `proxy_mode`). On a real domain Caddy gets its certificate
//! itself (ACME); `internal` TLS uses Caddy's own CA (tests, hosts without a public name).
//! Switching slots rewrites the config and reloads it gracefully: requests in flight finish
//! on the old slot, new ones go to the new. Caddy's own log (errors such as a 502's cause) is
//! `<root>/logs/proxy.log`.
//!
//! The mail catcher's web UI (non-production) is not routed through the proxy: it listens on
//! the host's loopback (`127.0.0.1:8025`); reach it with an SSH tunnel
//! (`ssh -L 8025:127.0.0.1:8025 <user>@<host>`, then http://127.0.0.1:8025).

use super::layout::{Layout, Slot};
use super::service::Supervisor;
use super::transport::{HostError, Transport};
use std::time::Duration;

/// How an environment's proxy is reached.
#[derive(Clone, Debug, PartialEq)]
pub struct ProxySpec {
    /// The site address: a domain (`erp.example.com`) or `https://HOST:PORT`.
    pub site: String,
    pub http_port: u16,
    pub https_port: u16,
    /// Caddy's admin endpoint on the host's loopback (for graceful reloads).
    pub admin_port: u16,
    /// Caddy's internal CA instead of ACME.
    pub internal_tls: bool,
}

/// Requests Odoo could not take (its listen queue full — a single staging worker's is 8
/// connections deep, and the kernel then drops new connections' SYNs — or a slot between
/// stop and start) wait instead of answering 502: a connection attempt may take 10 s (Caddy's
/// default is 3 s) and a refused one is retried for up to 10 s (a connection that was never
/// made is always safe to retry).
const RETRY: &str = "\t\t\tlb_try_duration 10s\n\t\t\tlb_try_interval 250ms\n\t\t\ttransport http {\n\t\t\t\tdial_timeout 10s\n\t\t\t}\n";

/// The Caddyfile of an environment whose active slot is `active`.
pub fn caddyfile(spec: &ProxySpec, layout: &Layout, active: Slot) -> String {
    let mut global = format!(
        "\tadmin 127.0.0.1:{}\n\thttp_port {}\n\thttps_port {}\n\tstorage file_system {root}/proxy/data\n\tlog {{\n\t\toutput file {root}/logs/proxy.log\n\t}}\n",
        spec.admin_port,
        spec.http_port,
        spec.https_port,
        root = layout.root
    );
    if spec.internal_tls {
        global.push_str("\tskip_install_trust\n");
    }
    let tls = if spec.internal_tls {
        "\ttls internal\n"
    } else {
        ""
    };
    format!(
        "# The proxy of {root}, rendered by odooops (active slot: {slot}). Do not edit.\n{{\n{global}}}\n\n{site} {{\n{tls}\thandle /websocket* {{\n\t\treverse_proxy 127.0.0.1:{gevent} {{\n{retry}\t\t}}\n\t}}\n\thandle {{\n\t\treverse_proxy 127.0.0.1:{http} {{\n{retry}\t\t}}\n\t}}\n}}\n",
        root = layout.root,
        slot = active.as_str(),
        retry = RETRY,
        site = spec.site,
        gevent = layout.gevent_port(active),
        http = layout.http_port(active),
    )
}

/// Point the proxy at `active`: write the config, start Caddy if it does not run, else
/// reload it gracefully.
pub async fn switch(
    t: &Transport,
    spec: &ProxySpec,
    layout: &Layout,
    active: Slot,
    supervisor: Supervisor,
) -> Result<(), HostError> {
    let file = layout.caddyfile();
    t.write_file(
        "writing the proxy config",
        &file,
        caddyfile(spec, layout, active).as_bytes(),
        0o644,
    )
    .await?;
    let admin = format!("127.0.0.1:{}", spec.admin_port);
    let start = match supervisor {
        Supervisor::Systemd => r#"sudo systemctl start odooops-proxy"#,
        Supervisor::Pidfile => {
            // Detached from the session (an SSH channel closes only when every descriptor
            // of it is closed).
            r#"XDG_CONFIG_HOME="$3/config" XDG_DATA_HOME="$3/data" setsid caddy start --config "$1" --adapter caddyfile --pidfile "$3/caddy.pid" >/dev/null 2>&1 </dev/null"#
        }
    };
    let script = format!(
        r#"mkdir -p "$3/config" "$3/data"
if curl -fsS --max-time 3 "http://$2/config/" >/dev/null 2>&1; then
  XDG_CONFIG_HOME="$3/config" XDG_DATA_HOME="$3/data" caddy reload --config "$1" --adapter caddyfile --address "$2" >/dev/null
else
  {start}
fi"#
    );
    let dir = format!("{}/proxy", layout.root);
    t.run(
        "switching the proxy",
        &script,
        &[&file, &admin, &dir],
        None,
        Duration::from_secs(60),
    )
    .await
    .map(|_| ())
}

/// Stop the proxy (tests and `odooops demo` tear-down).
pub async fn stop(t: &Transport, spec: &ProxySpec) -> Result<(), HostError> {
    t.run(
        "stopping the proxy",
        r#"caddy stop --address "$1" >/dev/null 2>&1 || true"#,
        &[&format!("127.0.0.1:{}", spec.admin_port)],
        None,
        Duration::from_secs(30),
    )
    .await
    .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_config_routes_websockets_and_the_rest_to_the_active_slot() {
        let l = Layout::new("/opt/odooops/staging", 8069);
        let spec = ProxySpec {
            site: "staging.example.com".into(),
            http_port: 80,
            https_port: 443,
            admin_port: 2019,
            internal_tls: false,
        };
        let a = caddyfile(&spec, &l, Slot::A);
        assert!(
            a.contains("reverse_proxy 127.0.0.1:8072")
                && a.contains("reverse_proxy 127.0.0.1:8069"),
            "{a}"
        );
        let b = caddyfile(&spec, &l, Slot::B);
        assert!(
            b.contains("reverse_proxy 127.0.0.1:8172")
                && b.contains("reverse_proxy 127.0.0.1:8169"),
            "{b}"
        );
        assert!(!a.contains("tls internal"));
        // Both routes wait for a slot that cannot take a connection yet.
        assert_eq!(a.matches("lb_try_duration 10s").count(), 2, "{a}");
    }
}
