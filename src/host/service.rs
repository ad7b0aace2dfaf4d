//! Running Odoo on a host. Where systemd runs (a droplet), a slot is the template unit
//! `odooops-odoo@<slot>` (rendered into the cloud-init); where it does not (a container,
//! the demo, the tests), OdooOps starts the slot's Odoo detached with a pidfile and stops it
//! by that pidfile — and nothing restarts it if it crashes: production hosts use systemd.
//! Either way a slot's runtime config is its odoo.conf with every `${NAME}` replaced from
//! the secrets file (0600), and health is `GET /web/health` → `{"status": "pass"}` on the
//! host itself.

use super::layout::{Layout, Slot};
use super::transport::{HostError, Transport};
use std::time::{Duration, Instant};

/// How the host supervises Odoo.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Supervisor {
    Systemd,
    Pidfile,
}

/// Writes `run/<slot>.conf`: `$1` odoo.conf, `$2` the secrets file, `$3` the output.
const RENDER: &str = r#"
import os, re, sys
src, secrets, out = sys.argv[1], sys.argv[2], sys.argv[3]
values = {}
if os.path.exists(secrets):
    for line in open(secrets):
        if "=" in line:
            k, v = line.rstrip("\n").split("=", 1)
            values[k] = v
text = re.sub(r"\$\{([A-Z0-9_]+)\}", lambda m: values.get(m.group(1), m.group(0)), open(src).read())
fd = os.open(out + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
os.write(fd, text.encode())
os.close(fd)
os.replace(out + ".tmp", out)
"#;

/// Everything a slot runs with.
#[derive(Clone, Debug)]
pub struct SlotRun<'a> {
    pub layout: &'a Layout,
    pub slot: Slot,
    /// Odoo's source directory on the host.
    pub odoo: &'a str,
    /// The virtualenv on the host.
    pub venv: &'a str,
}

impl SlotRun<'_> {
    /// Render the slot's runtime config on the host.
    async fn render(&self, t: &Transport) -> Result<String, HostError> {
        let out = self.layout.runtime_config(self.slot);
        let script = r#"mkdir -p "$(dirname "$4")"; "$1/bin/python" -c "$5" "$2" "$3" "$4""#;
        t.run(
            "rendering the runtime config",
            script,
            &[
                self.venv,
                &self.layout.config(self.slot),
                &self.layout.secrets(),
                &out,
                RENDER,
            ],
            None,
            Duration::from_secs(60),
        )
        .await?;
        Ok(out)
    }

    /// Run `odoo-bin` once with `args` and `--stop-after-init` (init, update), its output
    /// appended to `log`; bounded by `timeout` (killed after).
    pub async fn once(
        &self,
        t: &Transport,
        args: &[&str],
        log: &str,
        timeout: Duration,
    ) -> Result<(), HostError> {
        let conf = self.render(t).await?;
        // In the background with its pid recorded, so that a rollback or the recovery of a
        // deploy whose controller died can stop it.
        let script = r#"
src="$1"; venv="$2"; conf="$3"; log="$4"; pidf="$5"; shift 5
mkdir -p "$(dirname "$log")" "$(dirname "$pidf")"
cd "$src"
setsid "$venv/bin/python" odoo-bin -c "$conf" --stop-after-init "$@" >> "$log" 2>&1 < /dev/null &
pid=$!
echo "$pid" > "$pidf"
wait "$pid"; rc=$?
rm -f "$pidf"
exit "$rc"
"#;
        let pidf = self.layout.update_pidfile();
        let mut all: Vec<&str> = vec![self.odoo, self.venv, &conf, log, &pidf];
        all.extend_from_slice(args);
        t.run("running odoo-bin", script, &all, None, timeout)
            .await
            .map(|_| ())
    }

    /// Start the slot's Odoo (detached, pidfile) unless it runs already.
    pub async fn start(&self, t: &Transport, supervisor: Supervisor) -> Result<(), HostError> {
        let conf = self.render(t).await?;
        match supervisor {
            Supervisor::Systemd => {
                // The unit (`odooops-odoo@<slot>`, from the bootstrap) runs this launcher.
                let launcher = format!(
                    "#!/bin/sh\n# Slot {slot} of {root}, written by odooops.\ncd {odoo} && exec {python} odoo-bin -c {conf}\n",
                    slot = self.slot.as_str(),
                    root = self.layout.root,
                    odoo = super::sh_quote(self.odoo),
                    python = super::sh_quote(&format!("{}/bin/python", self.venv)),
                    conf = super::sh_quote(&conf),
                );
                t.write_file(
                    "writing the slot's launcher",
                    &self.layout.launcher(self.slot),
                    launcher.as_bytes(),
                    0o755,
                )
                .await?;
                t.run(
                    "starting Odoo",
                    r#"sudo systemctl restart "odooops-odoo@$1""#,
                    &[self.slot.as_str()],
                    None,
                    Duration::from_secs(120),
                )
                .await
                .map(|_| ())
            }
            Supervisor::Pidfile => {
                let script = r#"
mkdir -p "$(dirname "$4")" "$(dirname "$5")"
if [ -f "$4" ] && kill -0 "$(cat "$4")" 2>/dev/null; then exit 0; fi
cd "$1"
setsid nohup "$2/bin/python" odoo-bin -c "$3" >> "$5" 2>&1 < /dev/null &
echo $! > "$4"
"#;
                t.run(
                    "starting Odoo",
                    script,
                    &[
                        self.odoo,
                        self.venv,
                        &conf,
                        &self.layout.pidfile(self.slot),
                        &self.layout.log(self.slot),
                    ],
                    None,
                    Duration::from_secs(60),
                )
                .await
                .map(|_| ())
            }
        }
    }
}

/// Stop a running `-i`/`-u` job, if any (its process group: TERM, then KILL).
pub async fn kill_update(t: &Transport, layout: &Layout) -> Result<(), HostError> {
    let script = r#"
[ -f "$1" ] || exit 0
pid=$(cat "$1")
# Only a real process id: never 0 or 1 (`kill -1` signals every process).
case "$pid" in ''|*[!0-9]*|0|1) rm -f "$1"; exit 0;; esac
# dash's kill: `-PID` is the process group (it has no `--`).
kill -TERM "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
n=0
while kill -0 "$pid" 2>/dev/null && [ "$n" -lt 100 ]; do sleep 0.1; n=$((n+1)); done
kill -KILL "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
rm -f "$1"
"#;
    t.run(
        "stopping the update job",
        script,
        &[&layout.update_pidfile()],
        None,
        Duration::from_secs(60),
    )
    .await
    .map(|_| ())
}

/// Stop a slot's Odoo (TERM, then KILL after `grace`); stopping a stopped slot is fine.
pub async fn stop(
    t: &Transport,
    layout: &Layout,
    slot: Slot,
    supervisor: Supervisor,
    grace: Duration,
) -> Result<(), HostError> {
    match supervisor {
        Supervisor::Systemd => t
            .run(
                "stopping Odoo",
                r#"sudo systemctl stop "odooops-odoo@$1" || true"#,
                &[slot.as_str()],
                None,
                grace + Duration::from_secs(30),
            )
            .await
            .map(|_| ()),
        Supervisor::Pidfile => {
            let script = r#"
[ -f "$1" ] || exit 0
pid=$(cat "$1")
# Only a real process id: never 0 or 1 (`kill -1` signals every process).
case "$pid" in ''|*[!0-9]*|0|1) rm -f "$1"; exit 0;; esac
# The whole process group (dash's kill: `-PID`, it has no `--`): Odoo's workers and
# gevent process go with it.
kill -TERM "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
n=0
while kill -0 "$pid" 2>/dev/null && [ "$n" -lt "$2" ]; do sleep 0.1; n=$((n+1)); done
kill -KILL "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
rm -f "$1"
"#;
            let tenths = (grace.as_millis() / 100).to_string();
            t.run(
                "stopping Odoo",
                script,
                &[&layout.pidfile(slot), &tenths],
                None,
                grace + Duration::from_secs(30),
            )
            .await
            .map(|_| ())
        }
    }
}

/// Whether a slot answers `/web/health` with `{"status": "pass"}` now.
pub async fn healthy(t: &Transport, layout: &Layout, slot: Slot) -> bool {
    let url = format!("http://127.0.0.1:{}/web/health", layout.http_port(slot));
    t.run(
        "health check",
        r#"curl -fsS --max-time 5 "$1" | grep -q '"pass"'"#,
        &[&url],
        None,
        Duration::from_secs(15),
    )
    .await
    .is_ok()
}

/// Load the database's registry in a slot before it takes traffic: `/web/health` answers
/// without the database, the first real page loads it (seconds, on a small host).
pub async fn warm(
    t: &Transport,
    layout: &Layout,
    slot: Slot,
    timeout: Duration,
) -> Result<(), HostError> {
    let url = format!("http://127.0.0.1:{}/web/login", layout.http_port(slot));
    t.run(
        "warming up Odoo",
        r#"curl -fsS -o /dev/null --max-time "$2" "$1""#,
        &[&url, &timeout.as_secs().max(1).to_string()],
        None,
        timeout + Duration::from_secs(15),
    )
    .await
    .map(|_| ())
}

/// Let a slot the proxy no longer routes to finish what it was sent. After a reload the
/// proxy's old configuration still serves the client connections it holds until they close,
/// and Odoo answers each proxied request on a fresh connection: so wait at least `min`,
/// then until no connection to the slot's HTTP port has been seen for half a second (five
/// samples), at most `max`. Without `ss` on the host only `min` is waited.
pub async fn drain(
    t: &Transport,
    layout: &Layout,
    slot: Slot,
    min: Duration,
    max: Duration,
) -> Result<(), HostError> {
    let tenths = |d: Duration| (d.as_millis() / 100).max(1).to_string();
    t.run(
        "draining the previous release",
        r#"i=0
quiet=0
have_ss=0
command -v ss >/dev/null 2>&1 && have_ss=1
while [ "$i" -lt "$3" ]; do
  n=0
  [ "$have_ss" -eq 1 ] && n=$(ss -Htn state established "( sport = :$1 )" 2>/dev/null | wc -l)
  if [ "$n" -eq 0 ]; then quiet=$((quiet+1)); else quiet=0; fi
  [ "$i" -ge "$2" ] && [ "$quiet" -ge 5 ] && exit 0
  sleep 0.1
  i=$((i+1))
done"#,
        &[
            &layout.http_port(slot).to_string(),
            &tenths(min),
            &tenths(max),
        ],
        None,
        max + Duration::from_secs(15),
    )
    .await
    .map(|_| ())
}

/// Wait until a slot is healthy; an error (with the log's tail) when it dies or the
/// deadline passes.
pub async fn wait_healthy(
    t: &Transport,
    layout: &Layout,
    slot: Slot,
    deadline: Duration,
) -> Result<Duration, HostError> {
    let started = Instant::now();
    loop {
        if healthy(t, layout, slot).await {
            return Ok(started.elapsed());
        }
        let alive = t
            .run(
                "checking the Odoo process",
                r#"[ -f "$1" ] && kill -0 "$(cat "$1")""#,
                &[&layout.pidfile(slot)],
                None,
                Duration::from_secs(15),
            )
            .await
            .is_ok();
        if !alive || started.elapsed() >= deadline {
            let tail = t
                .run(
                    "reading the log",
                    r#"tail -n 40 "$1" 2>/dev/null || true"#,
                    &[&layout.log(slot)],
                    None,
                    Duration::from_secs(15),
                )
                .await
                .map(|e| e.stdout_text())
                .unwrap_or_default();
            return Err(HostError::Invalid(format!(
                "Odoo on slot {} {} (/web/health never answered pass); last log lines:\n{tail}",
                slot.as_str(),
                if alive {
                    format!("was not healthy within {}s", deadline.as_secs())
                } else {
                    "exited".to_string()
                }
            )));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
