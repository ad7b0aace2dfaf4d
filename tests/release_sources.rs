//! Where a release's code comes from, against a real repository served by `git daemon`:
//! the branch head; the commit a push named (its `after`) when the fetched branch is at it or
//! behind it, never a commit a later push or a force-push moved the branch past; the
//! requirements (Odoo's then the repository's); the exported tree at exactly that commit,
//! reused once exported.

#[path = "git_support/mod.rs"]
mod git_support;

use odooops::provider::StaticSecrets;
use odooops::reconcile::release::{Sources, SourcesConfig};
use odooops::ssot::{self, Limits, Ssot};
use std::collections::BTreeMap;
use std::path::Path;

fn ssot(dir: &Path, url: &str, odoo: &Path) -> Ssot {
    let text = format!(
        r#"apiVersion: odooops.dev/v1alpha1
kind: Project
metadata:
  name: shop
spec:
  odoo:
    series: "17.0"
    source:
      path: {odoo}
      revision: test
  repository:
    url: {url}
    productionBranch: main
    addonsPaths: [addons]
  providers:
    digitalocean:
      tokenSecret: DIGITALOCEAN_TOKEN
  defaultRegion: fra1
---
apiVersion: odooops.dev/v1alpha1
kind: SecretRegistry
metadata:
  name: shop-secrets
spec:
  keys:
    - name: DIGITALOCEAN_TOKEN
      source: env
      requiredBy: [controller]
    - name: DB_URL
      source: env
      requiredBy: [production]
---
apiVersion: odooops.dev/v1alpha1
kind: Environment
metadata:
  name: production
spec:
  project: shop
  stage: production
  branch: main
  maturity: beta
  host:
    size: s-1vcpu-2gb
  database:
    provider: postgres
    name: shop
    urlSecret: DB_URL
  mail:
    mode: smtp
    host: smtp.example.com
    port: 465
    encryption: ssl
  delivery:
    transport: local
    root: /tmp/odooops-sources-test
"#,
        odoo = odoo.display()
    );
    std::fs::write(dir.join("ssot.yaml"), text).expect("write");
    let report = ssot::load(dir, &Limits::default());
    assert!(report.is_valid(), "{:#?}", report.diagnostics);
    report.into_ssot().expect("valid")
}

async fn prepared(data: &Path, s: &Ssot, pinned: BTreeMap<String, String>) -> Sources {
    let envs: Vec<_> = s
        .environments()
        .map(|e| (s.project(&e.spec.project).expect("project"), e))
        .collect();
    Sources::prepare(
        SourcesConfig::new(data),
        &envs,
        &StaticSecrets::default(),
        pinned,
    )
    .await
}

#[tokio::test]
async fn the_commit_deployed_is_the_head_or_the_pushed_one_until_the_branch_moves_past_it() {
    let base = tempfile::tempdir().expect("base");
    let Some(daemon) = git_support::daemon(base.path()) else {
        return;
    };
    let work = tempfile::tempdir().expect("work");
    let repo = git_support::Repo::new(&daemon, work.path(), "shop");
    repo.write(
        "addons/shop_core/__manifest__.py",
        git_support::manifest("shop_core", "17.0.1.0.0", &["base"]),
    );
    repo.write("requirements.txt", "phonenumbers==8.13.0\n");
    let a = repo.commit("A");
    repo.push("HEAD:main");
    let odoo = tempfile::tempdir().expect("odoo");
    std::fs::write(odoo.path().join("odoo-bin"), "#!/usr/bin/env python3\n").expect("odoo-bin");
    std::fs::write(odoo.path().join("requirements.txt"), "psycopg2==2.9.9\n").expect("req");
    let tree = tempfile::tempdir().expect("tree");
    let s = ssot(tree.path(), &repo.url, odoo.path());
    let project = s.project("shop").expect("project");
    let env = s.environment("production").expect("env");
    let data = tempfile::tempdir().expect("data");

    // The head.
    let src = prepared(data.path(), &s, BTreeMap::new()).await;
    assert_eq!(src.commit_of(project, env).await.expect("commit"), a);
    let req = String::from_utf8(src.requirements(project, &a).await.expect("req")).expect("utf8");
    assert!(
        req.starts_with("psycopg2==2.9.9\n") && req.ends_with("phonenumbers==8.13.0\n"),
        "Odoo's requirements, then the repository's: {req}"
    );
    let states = src.module_states(project, &a).await.expect("states");
    assert_eq!(states["shop_core"].version.as_deref(), Some("17.0.1.0.0"));
    let dir = src.code_dir(project, &a).await.expect("export");
    assert!(dir.join("addons/shop_core/__manifest__.py").is_file());
    let again = src.code_dir(project, &a).await.expect("reused");
    assert_eq!(dir, again, "an export is reused");

    // A push of B named B; then C was pushed: a late job for B deploys C (B is behind it).
    repo.write("addons/shop_core/models.py", "# B\n");
    let b = repo.commit("B");
    repo.push("HEAD:main");
    repo.write("addons/shop_core/models.py", "# C\n");
    let c = repo.commit("C");
    repo.push("HEAD:main");
    let pin = |sha: &str| BTreeMap::from([("production".to_string(), sha.to_string())]);
    let src = prepared(data.path(), &s, pin(&b)).await;
    assert_eq!(src.commit_of(project, env).await.expect("commit"), c);

    // A force-push replaced the branch with D: a late job for the dropped C deploys D.
    repo.git(&["reset", "--hard", &a]);
    repo.write("addons/shop_core/models.py", "# D\n");
    let d = repo.commit("D");
    repo.git(&["push", "--quiet", "--force", "origin", "HEAD:main"]);
    let src = prepared(data.path(), &s, pin(&c)).await;
    assert_eq!(src.commit_of(project, env).await.expect("commit"), d);

    // The fetch raced the push: the branch is still at D, the push named E on top of it
    // (fetched by id): E is deployed, at exactly its tree.
    repo.write("addons/shop_core/models.py", "# E\n");
    let e = repo.commit("E");
    repo.push("HEAD:refs/heads/not-yet-main");
    let src = prepared(data.path(), &s, pin(&e)).await;
    assert_eq!(src.commit_of(project, env).await.expect("commit"), e);
    let exported = src.code_dir(project, &e).await.expect("export E");
    assert_eq!(
        std::fs::read_to_string(exported.join("addons/shop_core/models.py")).expect("read"),
        "# E\n",
        "the tree at exactly the pushed commit"
    );
}
