//! Bearer-token authentication and roles. Tokens are the values of secret-registry keys named
//! in a Project's `console.tokens`, read from the process environment once at start-up and
//! kept only as sha256 hashes, each with its project and role; comparison is constant time
//! (`subtle`). What a token (or an anonymous reader, through `publicRead`) may see is its
//! [`Scope`]. Forms use a double-submit CSRF cookie.

pub use super::access::Scope;
use crate::ssot::{ConsoleRole, Ssot};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use subtle::ConstantTimeEq as _;

/// Who is asking, by role; `Anonymous` only reads when `publicRead` is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Anonymous,
    Viewer,
    Operator,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Anonymous => "anonymous",
            Role::Viewer => "viewer",
            Role::Operator => "operator",
        }
    }
}

/// The principal of a request, put in its extensions by the auth middleware.
#[derive(Clone, Copy, Debug)]
pub struct Principal {
    /// The token's best role over its projects (Anonymous without a token).
    pub role: Role,
    /// The credential came from the Authorization header (not a cookie).
    pub via_header: bool,
}

/// Configured tokens (hashes only, each with its project) and the public-read switches.
#[derive(Clone, Debug, Default)]
pub struct Auth {
    /// Every project readable without a token (the demo's loopback console).
    pub public_read: bool,
    /// Projects readable without a token (their `console.publicRead`).
    pub public_projects: BTreeSet<String>,
    /// (sha256 of the token, role, project: None for every project).
    tokens: Vec<([u8; 32], Role, Option<String>)>,
    /// Registry keys named as tokens whose env var was unset at start-up.
    pub missing: Vec<String>,
}

pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// Constant-time equality of two byte strings (`subtle`); a length mismatch is `false` at
/// once (the length is not secret: tokens are compared as sha256 hashes).
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

impl Auth {
    /// Build from every Project's `console` block, reading token values with `lookup`
    /// (the process environment in production).
    pub fn from_ssot(ssot: &Ssot, lookup: impl Fn(&str) -> Option<String>) -> Auth {
        let mut auth = Auth::default();
        for p in ssot.projects() {
            let Some(c) = &p.spec.console else { continue };
            let project = &p.metadata.name;
            if c.public_read {
                auth.public_projects.insert(project.clone());
            }
            for t in &c.tokens {
                let role = match t.role {
                    ConsoleRole::Viewer => Role::Viewer,
                    ConsoleRole::Operator => Role::Operator,
                };
                match lookup(&t.secret).filter(|v| !v.is_empty()) {
                    Some(v) => auth.add_project_token(&v, role, project),
                    None => {
                        if !auth.missing.contains(&t.secret) {
                            auth.missing.push(t.secret.clone())
                        }
                    }
                }
            }
        }
        auth
    }

    /// A token with `role` on every project.
    pub fn add_token(&mut self, token: &str, role: Role) {
        self.tokens.push((sha256(token.as_bytes()), role, None));
    }

    /// A token with `role` on one project.
    pub fn add_project_token(&mut self, token: &str, role: Role, project: &str) {
        self.tokens
            .push((sha256(token.as_bytes()), role, Some(project.to_string())));
    }

    pub fn token_count(&self, role: Role) -> usize {
        self.tokens.iter().filter(|(_, r, _)| *r == role).count()
    }

    /// Whether anything is readable without a token.
    pub fn any_public(&self) -> bool {
        self.public_read || !self.public_projects.is_empty()
    }

    /// What a reader without a token sees: the `publicRead` projects.
    pub fn anonymous_scope(&self) -> Scope {
        let mut s = Scope::none();
        if self.public_read {
            s.grant_all(Role::Anonymous);
        }
        for p in &self.public_projects {
            s.grant(p, Role::Anonymous);
        }
        s
    }

    /// What a presented token sees (with the `publicRead` projects), or None when it is not
    /// a configured token. Every configured hash is compared (no early exit), each in
    /// constant time.
    pub fn scope_of(&self, token: &str) -> Option<Scope> {
        let h = sha256(token.as_bytes());
        let mut scope = self.anonymous_scope();
        let mut found = false;
        for (hash, role, project) in &self.tokens {
            if ct_eq(hash, &h) {
                found = true;
                match project {
                    Some(p) => scope.grant(p, *role),
                    None => scope.grant_all(*role),
                }
            }
        }
        found.then_some(scope)
    }

    /// The best role of a presented token over its projects, or None.
    pub fn role_of(&self, token: &str) -> Option<Role> {
        let h = sha256(token.as_bytes());
        let mut found: Option<Role> = None;
        for (hash, role, _) in &self.tokens {
            if ct_eq(hash, &h) {
                found = Some(found.map_or(*role, |f| f.max(*role)));
            }
        }
        found
    }
}

/// `Authorization: Bearer X` → X.
pub fn bearer(headers: &axum::http::HeaderMap) -> Option<&str> {
    let v = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, rest) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
}

/// One cookie's value.
pub fn cookie<'a>(headers: &'a axum::http::HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

pub const TOKEN_COOKIE: &str = "odooops_token";
pub const CSRF_COOKIE: &str = "odooops_csrf";

/// A fresh CSRF token (random, hex).
pub fn new_csrf() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Double-submit check: the form field equals the cookie.
pub fn csrf_ok(headers: &axum::http::HeaderMap, field: &str) -> bool {
    match cookie(headers, CSRF_COOKIE) {
        Some(c) if !c.is_empty() => ct_eq(c.as_bytes(), field.as_bytes()),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_and_constant_time_compare() {
        let mut a = Auth::default();
        a.add_token("view-token", Role::Viewer);
        a.add_token("op-token", Role::Operator);
        assert_eq!(a.role_of("view-token"), Some(Role::Viewer));
        assert_eq!(a.role_of("op-token"), Some(Role::Operator));
        assert_eq!(a.role_of("nope"), None);
        let mut p = Auth::default();
        p.public_projects.insert("b".into());
        p.add_project_token("a-view-token", Role::Viewer, "a");
        let s = p.scope_of("a-view-token").expect("a configured token");
        assert_eq!(s.role_on("a"), Some(Role::Viewer));
        assert_eq!(s.role_on("b"), Some(Role::Anonymous));
        assert_eq!(s.role_on("c"), None);
        assert!(p.scope_of("nope").is_none());
        assert_eq!(p.anonymous_scope().role_on("a"), None);
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
    }

    #[test]
    fn parses_bearer_and_cookies() {
        let mut h = axum::http::HeaderMap::new();
        h.insert(
            "authorization",
            "Bearer  t0k ".parse().expect("header value"),
        );
        h.insert(
            "cookie",
            "a=1; odooops_csrf=xyz".parse().expect("header value"),
        );
        assert_eq!(bearer(&h), Some("t0k"));
        assert_eq!(cookie(&h, CSRF_COOKIE), Some("xyz"));
        assert!(csrf_ok(&h, "xyz"));
        assert!(!csrf_ok(&h, "xy"));
    }
}
