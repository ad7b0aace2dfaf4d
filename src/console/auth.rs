//! Bearer-token authentication and roles. Tokens are the values of secret-registry keys named
//! in the Project's `console.tokens`, read from the process environment once at start-up and
//! kept only as sha256 hashes; comparison is constant time. Forms use a double-submit CSRF
//! cookie.

use crate::ssot::{ConsoleRole, Ssot};
use sha2::{Digest, Sha256};

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
    pub role: Role,
    /// The credential came from the Authorization header (not a cookie).
    pub via_header: bool,
}

/// Configured tokens (hashes only) and the public-read switch.
#[derive(Clone, Debug, Default)]
pub struct Auth {
    pub public_read: bool,
    tokens: Vec<([u8; 32], Role)>,
    /// Registry keys named as tokens whose env var was unset at start-up.
    pub missing: Vec<String>,
}

pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// Constant-time equality of two byte strings of the same length (length is not secret).
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut diff = 0u8;
    for (x, y) in a.iter().zip(b) {
        diff |= x ^ y;
    }
    std::hint::black_box(diff) == 0
}

impl Auth {
    /// Build from every Project's `console` block, reading token values with `lookup`
    /// (the process environment in production).
    pub fn from_ssot(ssot: &Ssot, lookup: impl Fn(&str) -> Option<String>) -> Auth {
        let mut auth = Auth::default();
        for p in ssot.projects() {
            let Some(c) = &p.spec.console else { continue };
            auth.public_read |= c.public_read;
            for t in &c.tokens {
                let role = match t.role {
                    ConsoleRole::Viewer => Role::Viewer,
                    ConsoleRole::Operator => Role::Operator,
                };
                match lookup(&t.secret).filter(|v| !v.is_empty()) {
                    Some(v) => auth.add_token(&v, role),
                    None => auth.missing.push(t.secret.clone()),
                }
            }
        }
        auth
    }

    pub fn add_token(&mut self, token: &str, role: Role) {
        self.tokens.push((sha256(token.as_bytes()), role));
    }

    pub fn token_count(&self, role: Role) -> usize {
        self.tokens.iter().filter(|(_, r)| *r == role).count()
    }

    /// The role of a presented token, or None. Every configured hash is compared (no early
    /// exit), each in constant time.
    pub fn role_of(&self, token: &str) -> Option<Role> {
        let h = sha256(token.as_bytes());
        let mut found: Option<Role> = None;
        for (hash, role) in &self.tokens {
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
