//! Where an environment lives on its host. Everything is under one root per environment:
//!
//! ```text
//! <root>/
//!   odoo/<revision>/        Odoo's source at the pinned revision (or a link to it)
//!   venvs/<digest>/         a virtualenv per requirements digest (reused while unchanged)
//!   releases/<commit>/      the code repository at exactly that commit
//!   etc/odoo-<slot>.conf    odoo.conf of a slot (`${NAME}` references, no secrets)
//!   etc/secrets.env         the secret values, 0600, written through standard input
//!   run/<slot>.pid          the Odoo process of a slot (where nothing else supervises it)
//!   run/<slot>.conf         the slot's runtime config, references replaced (0600)
//!   run/update.pid          a running `-i`/`-u` job (killed by a rollback or a recovery)
//!   deploy.lock/            the deploy in progress (its release id in `owner`)
//!   data/                   Odoo's data_dir (filestore, sessions), shared by both slots
//!   logs/                   Odoo's logs and every update's log
//!   proxy/Caddyfile         the HTTPS proxy's config (the active slot's ports)
//!   state.json              the release serving now
//! ```
//!
//! Two slots, `a` and `b`, each with its own HTTP and gevent ports: a new release starts on
//! the slot not serving, the proxy switches to it once it is healthy, then the old one stops.

/// One of the two places a release runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Slot {
    A,
    B,
}

impl Slot {
    pub fn other(self) -> Slot {
        match self {
            Slot::A => Slot::B,
            Slot::B => Slot::A,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Slot::A => "a",
            Slot::B => "b",
        }
    }
}

/// The paths and ports of one environment on its host.
#[derive(Clone, Debug, PartialEq)]
pub struct Layout {
    pub root: String,
    /// Slot `a`'s HTTP port; its gevent (websocket) port is `+3`; slot `b` adds 100.
    pub base_port: u16,
}

impl Layout {
    pub fn new(root: &str, base_port: u16) -> Layout {
        Layout {
            root: root.trim_end_matches('/').to_string(),
            base_port,
        }
    }
    fn at(&self, rel: &str) -> String {
        format!("{}/{rel}", self.root)
    }
    pub fn odoo_source(&self, revision: &str) -> String {
        self.at(&format!("odoo/{revision}"))
    }
    pub fn venv(&self, digest: &str) -> String {
        self.at(&format!("venvs/{digest}"))
    }
    pub fn release(&self, commit: &str) -> String {
        self.at(&format!("releases/{commit}"))
    }
    pub fn config(&self, slot: Slot) -> String {
        self.at(&format!("etc/odoo-{}.conf", slot.as_str()))
    }
    pub fn secrets(&self) -> String {
        self.at("etc/secrets.env")
    }
    pub fn pidfile(&self, slot: Slot) -> String {
        self.at(&format!("run/{}.pid", slot.as_str()))
    }
    /// What systemd's `odooops-odoo@<slot>` runs.
    pub fn launcher(&self, slot: Slot) -> String {
        self.at(&format!("run/{}.sh", slot.as_str()))
    }
    /// The running `odoo-bin -i/-u --stop-after-init` of a deploy.
    pub fn update_pidfile(&self) -> String {
        self.at("run/update.pid")
    }
    pub fn runtime_config(&self, slot: Slot) -> String {
        self.at(&format!("run/{}.conf", slot.as_str()))
    }
    pub fn data_dir(&self) -> String {
        self.at("data")
    }
    pub fn log(&self, slot: Slot) -> String {
        self.at(&format!("logs/odoo-{}.log", slot.as_str()))
    }
    pub fn update_log(&self, release: &str) -> String {
        self.at(&format!("logs/update-{release}.log"))
    }
    pub fn caddyfile(&self) -> String {
        self.at("proxy/Caddyfile")
    }
    pub fn state(&self) -> String {
        self.at("state.json")
    }
    pub fn http_port(&self, slot: Slot) -> u16 {
        match slot {
            Slot::A => self.base_port,
            Slot::B => self.base_port + 100,
        }
    }
    pub fn gevent_port(&self, slot: Slot) -> u16 {
        self.http_port(slot) + 3
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_have_their_own_ports_and_paths() {
        let l = Layout::new("/opt/odooops/staging/", 8069);
        assert_eq!(l.http_port(Slot::A), 8069);
        assert_eq!(l.gevent_port(Slot::A), 8072);
        assert_eq!(l.http_port(Slot::B), 8169);
        assert_eq!(l.gevent_port(Slot::B), 8172);
        assert_eq!(l.config(Slot::B), "/opt/odooops/staging/etc/odoo-b.conf");
        assert_eq!(Slot::A.other(), Slot::B);
    }
}
