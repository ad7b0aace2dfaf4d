"""The providers' official Python clients judge the simulator (tests/sim_clients.rs).

DigitalOcean's `pydo` and Slack's `slack_sdk`, pointed at `odooops sim serve --token ...`,
must see what they would see from the real APIs: asynchronous droplet creates and actions,
a running droplet refused a resize, strict validation, SOA/NS records in a new zone,
clusters that come online later with a connection URI, and each provider's own answer
to an unknown token. Exits non-zero (with a message) at the first difference.
"""

import sys
import time

import pydo
from azure.core.exceptions import HttpResponseError
from azure.core.pipeline.policies import HeadersPolicy
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

base, token = sys.argv[1], sys.argv[2]


def client(tok):
    # The simulator is plain HTTP on loopback; azure-core refuses its bearer-token policy
    # there, so the same header is sent by a headers policy.
    return pydo.Client(token=tok, endpoint=f"{base}/digitalocean",
                       authentication_policy=HeadersPolicy({"Authorization": f"Bearer {tok}"}))


do = client(token)


def check(cond, what):
    if not cond:
        print(f"FAIL: {what}", flush=True)
        sys.exit(1)
    print(f"ok: {what}", flush=True)


def until(fetch, ready, what, seconds=10):
    deadline = time.time() + seconds
    while True:
        v = fetch()
        if ready(v):
            return v
        if time.time() > deadline:
            check(False, f"{what} within {seconds}s (last: {v})")
        time.sleep(0.05)


def refused(call, status):
    try:
        call()
    except HttpResponseError as e:
        return e.status_code == status
    return False


# Authentication: the real answer to an unknown token.
stranger = client("test-token-stranger")
check(refused(lambda: stranger.account.get(), 401), "an unknown token gets 401")
check(do.account.get()["account"]["status"] == "active", "the account answers")

# A droplet is created asynchronously: new, no address, then active with one.
created = do.droplets.create(body={
    "name": "judge-web", "region": "fra1", "size": "s-1vcpu-1gb",
    "image": "ubuntu-24-04-x64", "tags": ["judge"],
})
d = created["droplet"]
check(d["status"] == "new" and d["networks"]["v4"] == [], "a new droplet has no address yet")
action_id = created["links"]["actions"][0]["id"]
until(lambda: do.actions.get(action_id)["action"]["status"],
      lambda s: s == "completed", "the create action completes")
up = do.droplets.get(d["id"])["droplet"]
check(up["status"] == "active" and up["networks"]["v4"], "the droplet is active with an address")

# A running droplet is not resized; actions lock the droplet.
check(refused(lambda: do.droplet_actions.post(d["id"], body={"type": "resize", "size": "s-2vcpu-4gb"}), 422),
      "resizing a running droplet is refused (422)")
off = do.droplet_actions.post(d["id"], body={"type": "power_off"})["action"]
check(off["status"] == "in-progress", "an action starts in progress")
check(refused(lambda: do.droplet_actions.post(d["id"], body={"type": "power_on"}), 422),
      "a locked droplet refuses a second action (422)")
until(lambda: do.droplet_actions.get(d["id"], off["id"])["action"]["status"],
      lambda s: s == "completed", "power_off completes")
resize = do.droplet_actions.post(d["id"], body={"type": "resize", "size": "s-2vcpu-4gb"})["action"]
until(lambda: do.actions.get(resize["id"])["action"]["status"], lambda s: s == "completed", "the resize completes")
check(do.droplets.get(d["id"])["droplet"]["size_slug"] == "s-2vcpu-4gb", "the droplet is resized")

# Validation as the real API does it.
check(refused(lambda: do.droplets.create(body={"name": "bad name!", "region": "fra1", "size": "s-1vcpu-1gb", "image": "ubuntu-24-04-x64"}), 422),
      "a hostname with a space is refused")
check(refused(lambda: do.droplets.create(body={"name": "ok", "region": "mars1", "size": "s-1vcpu-1gb", "image": "ubuntu-24-04-x64"}), 422),
      "an unknown region is refused")
check(refused(lambda: do.firewalls.create(body={"name": "judge-fw", "inbound_rules": [{"protocol": "tcp", "sources": {"addresses": ["0.0.0.0/0"]}}]}), 422),
      "a tcp rule without ports is refused")
do.domains.create(body={"name": "judge.example"})
kinds = sorted(r["type"] for r in do.domains.list_records("judge.example")["domain_records"])
check(kinds == ["NS", "NS", "NS", "SOA"], "a new zone has its SOA and NS records")
check(refused(lambda: do.domains.create_record("judge.example", body={"type": "A", "name": "www", "data": "not-an-ip"}), 422),
      "an A record needs an IPv4 address")

# A cluster is creating, then online with its connection URI.
c = do.databases.create_cluster(body={"name": "judge-pg", "engine": "pg", "version": "16",
                                      "region": "fra1", "size": "db-s-1vcpu-1gb", "num_nodes": 1})["database"]
check(c["status"] == "creating", "a new cluster is creating")
online = until(lambda: do.databases.get_cluster(c["id"])["database"],
               lambda x: x["status"] == "online", "the cluster comes online")
check(online["connection"]["uri"].startswith("postgresql://"), "an online cluster has its connection URI")

# Slack: the Web API answers an unknown token with ok=false, invalid_auth.
slack = WebClient(token="test-token-stranger", base_url=f"{base}/slack/api/")
try:
    slack.chat_postMessage(channel="C0JUDGE", text="hello")
    check(False, "Slack refuses an unknown token")
except SlackApiError as e:
    check(e.response["error"] == "invalid_auth", "Slack answers invalid_auth to an unknown token")
posted = WebClient(token=token, base_url=f"{base}/slack/api/").chat_postMessage(channel="#alerts", text="hello")
check(posted["ok"] and posted["ts"], "Slack posts with the account's token")
print("all checks passed")
