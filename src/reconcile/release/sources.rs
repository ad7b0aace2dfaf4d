//! Where a release's code and Odoo come from, read once per reconcile: each code repository
//! the environments in scope use is fetched once into its mirror and its branches listed in
//! one `git for-each-ref`; Odoo's source is a directory on this machine or a pinned commit
//! of a mirrored repository. Module states, requirements and exported trees are cached per
//! commit, so a resync where nothing moved runs no `git` process beyond the fetch.

use crate::git::{mirror, GitAuth, Mirror, ModuleState};
use crate::provider::SecretSource;
use crate::ssot::{Environment, Project};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;

/// How git sources are reached.
#[derive(Clone, Debug)]
pub struct SourcesConfig {
    /// Mirrors, exported releases and Odoo sources live under here.
    pub data_dir: PathBuf,
    /// Bound of one `git` operation.
    pub git_timeout: Duration,
}

impl SourcesConfig {
    pub fn new(data_dir: &Path) -> SourcesConfig {
        SourcesConfig {
            data_dir: data_dir.to_path_buf(),
            git_timeout: crate::git::DEFAULT_TIMEOUT,
        }
    }
}

type States = Arc<BTreeMap<String, ModuleState>>;

/// One code repository, fetched.
struct Repo {
    mirror: Mirror,
    branches: BTreeMap<String, String>,
    addons_paths: Vec<String>,
    states: Mutex<HashMap<String, States>>,
    requirements: Mutex<HashMap<String, Vec<u8>>>,
}

/// Odoo's source of a project.
#[derive(Clone, Debug)]
pub struct OdooTree {
    pub revision: String,
    /// Its requirements file.
    pub requirements: Vec<u8>,
    where_: OdooWhere,
}

#[derive(Clone, Debug)]
enum OdooWhere {
    Path(PathBuf),
    Mirror(Mirror),
}

impl std::fmt::Debug for Sources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sources")
            .field("repos", &self.repos.keys().collect::<Vec<_>>())
            .field("projects", &self.odoo.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// The git sources of one reconcile.
pub struct Sources {
    config: SourcesConfig,
    /// By repository URL; an error says why it could not be read.
    repos: BTreeMap<String, Result<Arc<Repo>, String>>,
    /// By project.
    odoo: BTreeMap<String, Result<OdooTree, String>>,
    /// Commits a push named, by environment.
    pinned: BTreeMap<String, String>,
}

fn auth(project: &Project, secrets: &dyn SecretSource) -> Result<GitAuth, String> {
    let repo = &project.spec.repository;
    let Some(key) = &repo.credentials_secret else {
        return Ok(GitAuth::None);
    };
    let value = secrets.get(key).ok_or_else(|| {
        format!(
            "Project/{}: spec.repository.credentialsSecret `{key}` is not set in the controller's environment",
            project.metadata.name
        )
    })?;
    Ok(GitAuth::for_url(&repo.url, value))
}

/// `name → commit` of every branch of a mirror, in one `git for-each-ref`.
async fn branches(m: &Mirror) -> Result<BTreeMap<String, String>, String> {
    let out = m
        .git(&[
            "for-each-ref",
            "--format=%(objectname) %(refname:strip=2)",
            "refs/heads/",
        ])
        .map_err(|e| e.to_string())?
        .output()
        .await
        .map_err(|e| e.to_string())?;
    Ok(String::from_utf8_lossy(&out)
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(sha, name)| (name.to_string(), sha.to_string()))
        .collect())
}

/// Is `a` an ancestor of `b`?
async fn is_ancestor(m: &Mirror, a: &str, b: &str) -> bool {
    match m.git(&["merge-base", "--is-ancestor", a, b]) {
        Ok(cmd) => matches!(cmd.run(None).await, Ok((out, _)) if out.status.success()),
        Err(_) => false,
    }
}

async fn open_fetched(cfg: &SourcesConfig, url: &str, auth: GitAuth) -> Result<Mirror, String> {
    let existed = mirror::mirror_dir(&cfg.data_dir, url)
        .join("HEAD")
        .is_file();
    let m = Mirror::open_with_timeout(&cfg.data_dir, url, auth, cfg.git_timeout)
        .await
        .map_err(|e| e.to_string())?;
    if existed {
        m.fetch().await.map_err(|e| e.to_string())?;
    }
    Ok(m)
}

impl Sources {
    /// Fetch what `envs` (those delivering Odoo) need. Nothing here fails the reconcile: a
    /// repository that cannot be read blocks the releases of its environments only.
    pub async fn prepare(
        config: SourcesConfig,
        envs: &[(&Project, &Environment)],
        secrets: &dyn SecretSource,
        pinned: BTreeMap<String, String>,
    ) -> Sources {
        let mut by_url: BTreeMap<String, &Project> = BTreeMap::new();
        let mut projects: BTreeMap<String, &Project> = BTreeMap::new();
        for (p, e) in envs {
            if e.spec.delivery.is_none() {
                continue;
            }
            by_url
                .entry(p.spec.repository.url.trim().to_string())
                .or_insert(p);
            projects.entry(p.metadata.name.clone()).or_insert(p);
        }
        let cfg = &config;
        let repos = futures::future::join_all(by_url.into_iter().map(|(url, p)| async move {
            let r = async {
                let m = open_fetched(cfg, &url, auth(p, secrets)?).await?;
                let b = branches(&m).await?;
                Ok(Arc::new(Repo {
                    mirror: m,
                    branches: b,
                    addons_paths: p.spec.repository.addons_paths.clone(),
                    states: Mutex::new(HashMap::new()),
                    requirements: Mutex::new(HashMap::new()),
                }))
            }
            .await;
            (url, r)
        }))
        .await
        .into_iter()
        .collect();
        let odoo = futures::future::join_all(
            projects
                .into_iter()
                .map(|(name, p)| async move { (name, odoo_tree(cfg, p).await) }),
        )
        .await
        .into_iter()
        .collect();
        let mut s = Sources {
            config,
            repos,
            odoo,
            pinned: BTreeMap::new(),
        };
        // A pushed commit must be in the mirror (a force-push may have dropped it already).
        for (env, sha) in pinned {
            let project = envs
                .iter()
                .find(|(_, e)| e.metadata.name == env)
                .map(|(p, _)| *p);
            if let Some(Ok(repo)) = project.and_then(|p| s.repo_entry(p)) {
                if repo.mirror.ensure_commit(&sha).await.is_ok() {
                    s.pinned.insert(env, sha);
                }
            }
        }
        s
    }

    fn repo_entry(&self, project: &Project) -> Option<&Result<Arc<Repo>, String>> {
        self.repos.get(project.spec.repository.url.trim())
    }

    fn repo(&self, project: &Project) -> Result<&Arc<Repo>, String> {
        match self.repo_entry(project) {
            Some(Ok(r)) => Ok(r),
            Some(Err(e)) => Err(e.clone()),
            None => Err(format!(
                "the repository of project {} was not fetched",
                project.metadata.name
            )),
        }
    }

    /// The commit `env` deploys: the one a push named when the branch, as just fetched, is
    /// at it or behind it (the fetch raced the push); else the branch's head — a later push
    /// or a force-push moved the branch since, and a late job never deploys an older or
    /// dropped commit over it.
    pub async fn commit_of(&self, project: &Project, env: &Environment) -> Result<String, String> {
        let repo = self.repo(project)?;
        let branch = &env.spec.branch;
        let head = repo.branches.get(branch).cloned();
        match (self.pinned.get(&env.metadata.name), head) {
            (Some(pushed), Some(head)) => {
                if &head == pushed || is_ancestor(&repo.mirror, &head, pushed).await {
                    Ok(pushed.clone())
                } else {
                    Ok(head)
                }
            }
            (Some(pushed), None) => Ok(pushed.clone()),
            (None, Some(head)) => Ok(head),
            (None, None) => Err(format!(
                "branch `{branch}` of Environment/{} is not in {} (branches: {})",
                env.metadata.name,
                repo.mirror.remote(),
                repo.branches
                    .keys()
                    .take(10)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }

    pub fn odoo_of(&self, project: &Project) -> Result<&OdooTree, String> {
        match self.odoo.get(&project.metadata.name) {
            Some(Ok(o)) => Ok(o),
            Some(Err(e)) => Err(e.clone()),
            None => Err(format!(
                "Odoo's source of project {} was not read",
                project.metadata.name
            )),
        }
    }

    /// The module states of the code at `commit` (cached).
    pub async fn module_states(&self, project: &Project, commit: &str) -> Result<States, String> {
        let repo = self.repo(project)?;
        let mut cache = repo.states.lock().await;
        if let Some(s) = cache.get(commit) {
            return Ok(s.clone());
        }
        repo.mirror
            .ensure_commit(commit)
            .await
            .map_err(|e| e.to_string())?;
        let s = Arc::new(
            crate::git::module_states(&repo.mirror, commit, &repo.addons_paths)
                .await
                .map_err(|e| e.to_string())?,
        );
        cache.insert(commit.to_string(), s.clone());
        Ok(s)
    }

    /// Odoo's requirements then the repository's `requirements.txt` at `commit` (cached).
    pub async fn requirements(&self, project: &Project, commit: &str) -> Result<Vec<u8>, String> {
        let odoo = self.odoo_of(project)?;
        let repo = self.repo(project)?;
        let mut cache = repo.requirements.lock().await;
        if let Some(r) = cache.get(commit) {
            return Ok(r.clone());
        }
        let own = repo
            .mirror
            .show(commit, "requirements.txt")
            .await
            .map_err(|e| e.to_string())?;
        let mut all = odoo.requirements.clone();
        if let Some(own) = own {
            if !all.ends_with(b"\n") && !all.is_empty() {
                all.push(b'\n');
            }
            all.extend_from_slice(b"# the repository's requirements.txt\n");
            all.extend_from_slice(&own);
        }
        cache.insert(commit.to_string(), all.clone());
        Ok(all)
    }

    /// The code at `commit` on this machine (exported once, then reused).
    pub async fn code_dir(&self, project: &Project, commit: &str) -> Result<PathBuf, String> {
        let repo = self.repo(project)?;
        let dir = self
            .config
            .data_dir
            .join("releases")
            .join(mirror_name(&repo.mirror))
            .join(commit);
        if dir.join(DONE).is_file() {
            return Ok(dir);
        }
        let tmp = sibling(&dir);
        repo.mirror
            .export(commit, &tmp, project.spec.repository.submodules)
            .await
            .map_err(|e| e.to_string())?;
        finish_export(&tmp, &dir)?;
        Ok(dir)
    }

    /// Odoo's source on this machine: the SSOT's directory, or the pinned commit exported
    /// once from its mirror.
    pub async fn odoo_dir(&self, project: &Project) -> Result<PathBuf, String> {
        let odoo = self.odoo_of(project)?;
        match &odoo.where_ {
            OdooWhere::Path(p) => Ok(p.clone()),
            OdooWhere::Mirror(m) => {
                let dir = self.config.data_dir.join("odoo-src").join(&odoo.revision);
                if dir.join(DONE).is_file() {
                    return Ok(dir);
                }
                let tmp = sibling(&dir);
                m.export(&odoo.revision, &tmp, false)
                    .await
                    .map_err(|e| e.to_string())?;
                finish_export(&tmp, &dir)?;
                Ok(dir)
            }
        }
    }
}

/// Marks a finished export.
const DONE: &str = ".odooops-exported";

fn mirror_name(m: &Mirror) -> String {
    m.dir()
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "code".into())
}

fn sibling(dir: &Path) -> PathBuf {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    dir.with_file_name(format!(".{name}.tmp-{}", uuid::Uuid::new_v4().simple()))
}

fn finish_export(tmp: &Path, dir: &Path) -> Result<(), String> {
    let io = |e: std::io::Error| format!("{}: {e}", dir.display());
    std::fs::write(tmp.join(DONE), b"").map_err(io)?;
    if dir.exists() {
        // An unfinished earlier export, or a concurrent one that finished first.
        if dir.join(DONE).is_file() {
            let _ = std::fs::remove_dir_all(tmp);
            return Ok(());
        }
        std::fs::remove_dir_all(dir).map_err(io)?;
    }
    std::fs::rename(tmp, dir).map_err(io)
}

/// Read Odoo's source of a project: its requirements, and where the tree is.
async fn odoo_tree(cfg: &SourcesConfig, p: &Project) -> Result<OdooTree, String> {
    let name = &p.metadata.name;
    let src = p.spec.odoo.source.as_ref().ok_or_else(|| {
        format!("Project/{name}: spec.odoo.source is not set (where Odoo's source comes from)")
    })?;
    let req_name = src.requirements.as_deref().unwrap_or("requirements.txt");
    match (&src.path, &src.url) {
        (Some(path), _) => {
            let dir = PathBuf::from(path);
            if !dir.join("odoo-bin").is_file() {
                return Err(format!(
                    "Project/{name}: spec.odoo.source.path {path} holds no odoo-bin (is it Odoo's source?)"
                ));
            }
            let req = if Path::new(req_name).is_absolute() {
                PathBuf::from(req_name)
            } else {
                dir.join(req_name)
            };
            let requirements = std::fs::read(&req).map_err(|e| {
                format!("Project/{name}: Odoo's requirements {}: {e}", req.display())
            })?;
            Ok(OdooTree {
                revision: src.revision.clone(),
                requirements,
                where_: OdooWhere::Path(dir),
            })
        }
        (None, Some(url)) => {
            let m = Mirror::open_with_timeout(&cfg.data_dir, url, GitAuth::None, cfg.git_timeout)
                .await
                .map_err(|e| e.to_string())?;
            m.ensure_commit(&src.revision)
                .await
                .map_err(|e| format!("Project/{name}: spec.odoo.source.revision: {e}"))?;
            let requirements = if Path::new(req_name).is_absolute() {
                std::fs::read(req_name).map_err(|e| format!("{req_name}: {e}"))?
            } else {
                m.show(&src.revision, req_name)
                    .await
                    .map_err(|e| e.to_string())?
                    .unwrap_or_default()
            };
            Ok(OdooTree {
                revision: src.revision.clone(),
                requirements,
                where_: OdooWhere::Mirror(m),
            })
        }
        (None, None) => Err(format!(
            "Project/{name}: spec.odoo.source needs `url` or `path`"
        )),
    }
}
