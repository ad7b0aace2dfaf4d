#!/usr/bin/env python3
"""Write the `agency` example: an Odoo agency hosting many clients, each a Project with
production, staging and development environments. Deterministic: re-running it rewrites the
same files. Usage: python3 examples/agency/generate.py [N_CLIENTS]"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
N = int(sys.argv[1]) if len(sys.argv) > 1 else 60
SERIES = ["16.0", "17.0", "18.0", "19.0"]
REGIONS = ["fra1", "ams3", "lon1", "nyc3", "sfo3", "sgp1"]
SIZES = ["s-2vcpu-4gb", "s-4vcpu-8gb", "g-2vcpu-8gb"]


def client(i):
    name = f"client-{i:03d}"
    db = name.replace("-", "_")
    series = SERIES[i % len(SERIES)]
    region = REGIONS[i % len(REGIONS)]
    return f"""# yaml-language-server: $schema=../../../../crds/document.schema.json
apiVersion: odooops.dev/v1alpha1
kind: Project
metadata:
  name: {name}
  labels: {{client: {name}, tier: {"gold" if i % 5 == 0 else "standard"}}}
spec:
  odoo:
    series: "{series}"
  repository:
    url: https://git.example.com/agency/{name}.git
    productionBranch: main
    addonsPaths: [addons]
  providers:
    digitalocean:
      tokenSecret: DIGITALOCEAN_TOKEN
    supabase:
      tokenSecret: SUPABASE_ACCESS_TOKEN
  defaultRegion: {region}
---
apiVersion: odooops.dev/v1alpha1
kind: Environment
metadata:
  name: {name}-production
  labels: {{client: {name}}}
spec:
  project: {name}
  stage: production
  branch: main
  maturity: prod
  host:
    size: {SIZES[i % len(SIZES)]}
    tags: [agency]
  database:
    provider: digitalocean
    name: {db}_production
    cluster: agency-pg-{i % 4}
    user: odoo
    passwordSecret: AGENCY_DB_PASSWORD
  odoo:
    proxyMode: true
  domain:
    zone: agency-hosting.example
    record: {name}
  mail:
    mode: smtp
    host: smtp.agency-hosting.example
    port: 587
    encryption: starttls
    passwordSecret: AGENCY_SMTP_PASSWORD
  modules:
    moduleSet: agency-standard
  notifiers: [agency-ops]
---
apiVersion: odooops.dev/v1alpha1
kind: Environment
metadata:
  name: {name}-staging
  labels: {{client: {name}}}
spec:
  project: {name}
  stage: staging
  branch: staging
  maturity: beta
  host:
    size: s-1vcpu-2gb
    tags: [agency]
  database:
    provider: digitalocean
    name: {db}_staging
    cluster: agency-pg-{i % 4}
    user: odoo
    passwordSecret: AGENCY_DB_PASSWORD
  mail:
    mode: catcher
  modules:
    moduleSet: agency-standard
  stagingSource:
    fromEnvironment: {name}-production
    neutralize: true
  reconcile:
    prune: true
---
apiVersion: odooops.dev/v1alpha1
kind: Environment
metadata:
  name: {name}-dev
  labels: {{client: {name}}}
spec:
  project: {name}
  stage: development
  branch: dev
  maturity: scaffold
  host:
    size: s-1vcpu-1gb
    tags: [agency, dev]
  database:
    provider: digitalocean
    name: {db}_dev
    cluster: agency-pg-{i % 4}
    user: odoo
    passwordSecret: AGENCY_DB_PASSWORD
  mail:
    mode: catcher
  reconcile:
    mode: detect-only
    prune: true
  limits:
    ttlDays: 3
---
apiVersion: odooops.dev/v1alpha1
kind: BackupPolicy
metadata:
  name: {name}-daily
spec:
  environment: {name}-production
  schedule: "{i % 60} {1 + i % 4} * * *"
"""


SHARED = """# yaml-language-server: $schema=../../crds/document.schema.json
# Shared by every client of the agency.
apiVersion: odooops.dev/v1alpha1
kind: SecretRegistry
metadata:
  name: agency-secrets
spec:
  keys:
    - name: DIGITALOCEAN_TOKEN
      source: env
      requiredBy: [controller]
    - name: SUPABASE_ACCESS_TOKEN
      source: env
      requiredBy: [controller]
    - name: AGENCY_DB_PASSWORD
      source: env
      requiredBy: [odoo]
    - name: AGENCY_SMTP_PASSWORD
      source: env
      requiredBy: [odoo]
    - name: AGENCY_SLACK_WEBHOOK
      source: env
      requiredBy: [agency-ops]
---
apiVersion: odooops.dev/v1alpha1
kind: ModuleSet
metadata:
  name: agency-standard
spec:
  corePolicy: allow-all
  waves:
    - wave: 1
      name: agency base
      modules: [agency_branding, web_responsive]
    - wave: 2
      name: reporting
      modules: [agency_reports]
---
apiVersion: odooops.dev/v1alpha1
kind: Notifier
metadata:
  name: agency-ops
spec:
  slack:
    webhookSecret: AGENCY_SLACK_WEBHOOK
    channel: "#agency-ops"
    events: [drift-detected, apply-failed, gate-failed, backup-failed]
---
apiVersion: odooops.dev/v1alpha1
kind: Gate
metadata:
  name: db-object-count
spec:
  type: db_object_count
  params: {max: 10000}
---
apiVersion: odooops.dev/v1alpha1
kind: Gate
metadata:
  name: smtp-policy
spec:
  type: smtp_policy
---
apiVersion: odooops.dev/v1alpha1
kind: DatabaseCluster
metadata:
  name: agency-pg-0
spec:
  region: ams3
  size: db-s-2vcpu-4gb
  version: "16"
---
apiVersion: odooops.dev/v1alpha1
kind: DatabaseCluster
metadata:
  name: agency-pg-1
spec:
  region: fra1
  size: db-s-2vcpu-4gb
  version: "16"
---
apiVersion: odooops.dev/v1alpha1
kind: DatabaseCluster
metadata:
  name: agency-pg-2
spec:
  region: nyc3
  size: db-s-2vcpu-4gb
  version: "16"
---
apiVersion: odooops.dev/v1alpha1
kind: DatabaseCluster
metadata:
  name: agency-pg-3
spec:
  region: sfo3
  size: db-s-2vcpu-4gb
  version: "16"
"""


def main():
    with open(os.path.join(HERE, "shared.yaml"), "w") as f:
        f.write(SHARED)
    for i in range(1, N + 1):
        d = os.path.join(HERE, "clients", f"client-{i:03d}")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "client.yaml"), "w") as f:
            f.write(client(i))
    print(f"wrote {N} clients under {os.path.join(HERE, 'clients')}")


if __name__ == "__main__":
    main()
