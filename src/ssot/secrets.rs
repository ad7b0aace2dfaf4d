//! Recognizing values that look like real secrets, so the SSOT never holds one.
//! Detection names what was found, never the value.

/// What kind of secret a value looks like, if any.
pub fn classify(field: &str, value: &str) -> Option<&'static str> {
    let v = value.trim();
    if let Some(kind) = classify_shape(v) {
        return Some(kind);
    }
    if is_credential_field(field) && !is_registry_key_name(v) && high_entropy(v) {
        return Some("a high-entropy credential");
    }
    None
}

/// Shape-based detection: token prefixes and formats of the providers we talk to.
fn classify_shape(v: &str) -> Option<&'static str> {
    let prefixed = |prefixes: &[&str], min_tail: usize, tail_ok: fn(char) -> bool| {
        prefixes.iter().any(|p| {
            v.strip_prefix(p)
                .is_some_and(|t| t.len() >= min_tail && t.chars().all(tail_ok))
        })
    };
    let hex = |c: char| c.is_ascii_hexdigit();
    let token = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    if prefixed(&["dop_v1_", "doo_v1_", "dor_v1_"], 16, hex) {
        return Some("a DigitalOcean token");
    }
    if prefixed(
        &["xoxb-", "xoxp-", "xoxa-", "xoxr-", "xoxs-", "xoxe-"],
        10,
        token,
    ) {
        return Some("a Slack token");
    }
    if v.starts_with("https://hooks.slack.com/services/") && v.len() > 45 {
        return Some("a Slack webhook URL");
    }
    if prefixed(&["sbp_"], 20, hex) || prefixed(&["sb_secret_"], 16, token) {
        return Some("a Supabase key");
    }
    if prefixed(&["ghp_", "gho_", "ghs_", "github_pat_"], 20, token) {
        return Some("a GitHub token");
    }
    if prefixed(&["plane_api_", "plane_wh_"], 16, token) {
        return Some("a Plane key");
    }
    if prefixed(&["AKIA", "ASIA"], 16, |c| {
        c.is_ascii_uppercase() || c.is_ascii_digit()
    }) && v.len() == 20
    {
        return Some("an AWS access key");
    }
    if v.contains("-----BEGIN") && v.contains("PRIVATE KEY") {
        return Some("a PEM private key");
    }
    if looks_like_jwt(v) {
        return Some("a JWT");
    }
    if url_with_password(v) {
        return Some("a URL with an embedded password");
    }
    None
}

fn looks_like_jwt(v: &str) -> bool {
    let parts: Vec<&str> = v.split('.').collect();
    parts.len() == 3
        && v.starts_with("eyJ")
        && v.len() >= 36
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '=')
        })
}

fn url_with_password(v: &str) -> bool {
    let Some((scheme, rest)) = v.split_once("://") else {
        return false;
    };
    if scheme.is_empty()
        || !scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '+')
    {
        return false;
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    match authority.rsplit_once('@') {
        Some((userinfo, _)) => userinfo
            .split_once(':')
            .is_some_and(|(_, pw)| !pw.is_empty()),
        None => false,
    }
}

/// Field names that hold credentials (or references to them).
fn is_credential_field(field: &str) -> bool {
    let f = field.to_ascii_lowercase();
    [
        "token",
        "secret",
        "password",
        "passwd",
        "apikey",
        "api_key",
        "credential",
        "privatekey",
    ]
    .iter()
    .any(|w| f.contains(w))
}

/// `UPPER_SNAKE_CASE`: the shape of a registry key name, which is what belongs there.
pub fn is_registry_key_name(v: &str) -> bool {
    let mut chars = v.chars();
    chars.next().is_some_and(|c| c.is_ascii_uppercase())
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// Long and random-looking (Shannon entropy ≥ 3.5 bits per char over ≥ 20 chars).
fn high_entropy(v: &str) -> bool {
    if v.len() < 20 || v.contains(char::is_whitespace) {
        return false;
    }
    let mut counts = [0usize; 256];
    for b in v.bytes() {
        counts[b as usize] += 1;
    }
    let n = v.len() as f64;
    let entropy: f64 = counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / n;
            -p * p.log2()
        })
        .sum();
    entropy >= 3.5
}

/// Mask anything secret-shaped in a source line before it is shown in a diagnostic.
pub fn redact_line(line: &str) -> String {
    let (prefix, field, value) = match line.split_once(':') {
        Some((k, v)) if !k.contains("//") && !k.contains('"') => (
            format!("{k}:"),
            k.trim().trim_start_matches("- ").to_string(),
            v,
        ),
        _ => (String::new(), String::new(), line),
    };
    let whole = value.trim().trim_matches(|c| c == '"' || c == '\'');
    if line.contains("PRIVATE KEY") || (!whole.is_empty() && classify(&field, whole).is_some()) {
        return format!("{prefix} ***");
    }
    let mut out = String::with_capacity(line.len());
    out.push_str(&prefix);
    let mut token = String::new();
    let flush = |token: &mut String, out: &mut String| {
        if !token.is_empty() {
            if classify(&field, token).is_some() {
                out.push_str("***");
            } else {
                out.push_str(token);
            }
            token.clear();
        }
    };
    for c in value.chars() {
        if c.is_whitespace() || matches!(c, '"' | '\'' | ',' | '[' | ']' | '{' | '}') {
            flush(&mut token, &mut out);
            out.push(c);
        } else {
            token.push(c);
        }
    }
    flush(&mut token, &mut out);
    out
}

/// A registry key name suggested for a secret found at a JSON pointer.
pub fn suggest_key_name(pointer: &str) -> String {
    let segs: Vec<&str> = pointer
        .split('/')
        .filter(|s| !s.is_empty() && !s.chars().all(|c| c.is_ascii_digit()))
        .filter(|s| {
            !matches!(
                *s,
                "spec" | "metadata" | "providers" | "annotations" | "labels"
            )
        })
        .collect();
    let tail: Vec<&str> = segs.iter().rev().take(2).rev().copied().collect();
    let mut out = String::new();
    for seg in tail {
        let seg = seg.strip_suffix("Secret").unwrap_or(seg);
        for c in seg.chars() {
            if c.is_ascii_uppercase() && !out.is_empty() && !out.ends_with('_') {
                out.push('_');
            }
            if c.is_ascii_alphanumeric() {
                out.push(c.to_ascii_uppercase());
            } else if !out.ends_with('_') {
                out.push('_');
            }
        }
        if !out.ends_with('_') {
            out.push('_');
        }
    }
    let out = out.trim_matches('_').to_string();
    if out.is_empty() {
        "MY_SECRET".into()
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn do_token() -> String {
        format!("dop_v1_{}", "ab".repeat(32))
    }

    #[test]
    fn recognizes_provider_tokens() {
        assert_eq!(classify("note", &do_token()), Some("a DigitalOcean token"));
        let slack = format!("xoxb-{}-{}", "1234567890", "abcdefghij");
        assert_eq!(classify("x", &slack), Some("a Slack token"));
        let sbp = format!("sbp_{}", "0f".repeat(20));
        assert_eq!(classify("x", &sbp), Some("a Supabase key"));
        let jwt = format!(
            "eyJ{}.eyJ{}.{}",
            "hbGciOiJIUzI1NiJ9", "zdWIiOiIxIn0", "c2lnbmF0dXJlX3BhcnQ"
        );
        assert_eq!(classify("x", &jwt), Some("a JWT"));
        let aws = format!("AKIA{}", "ABCDEFGHIJKLMNOP");
        assert_eq!(classify("x", &aws), Some("an AWS access key"));
        let pem = format!("-----BEGIN RSA {} KEY-----\nMIIB", "PRIVATE");
        assert_eq!(classify("x", &pem), Some("a PEM private key"));
        assert_eq!(
            classify("url", "postgres://odoo:hunter2@db.example.com:5432/odoo"),
            Some("a URL with an embedded password")
        );
    }

    #[test]
    fn registry_key_names_are_fine() {
        assert_eq!(classify("tokenSecret", "DIGITALOCEAN_TOKEN"), None);
        assert_eq!(classify("passwordSecret", "SMTP_PASSWORD"), None);
        assert_eq!(classify("image", "odoo:17.0"), None);
        assert_eq!(
            classify("url", "https://github.com/acme/odoo-addons.git"),
            None
        );
        assert_eq!(classify("url", "postgres://db.example.com/odoo"), None);
    }

    #[test]
    fn entropy_only_in_credential_fields() {
        let random = "Zx8Qp2Lm9Rt4Vw7Ks1Nb6Hj3Gf5Dc0Ay";
        assert!(classify("tokenSecret", random).is_some());
        assert!(classify("description", random).is_none());
    }

    #[test]
    fn redaction_hides_the_value() {
        let t = do_token();
        let line = format!("    tokenSecret: {t}");
        let shown = redact_line(&line);
        assert!(!shown.contains(&t), "{shown}");
        assert!(shown.contains("tokenSecret"));
        assert_eq!(redact_line("  size: s-2vcpu-4gb"), "  size: s-2vcpu-4gb");
    }

    #[test]
    fn key_names_from_paths() {
        assert_eq!(
            suggest_key_name("/spec/providers/digitalocean/tokenSecret"),
            "DIGITALOCEAN_TOKEN"
        );
        assert_eq!(
            suggest_key_name("/spec/mail/passwordSecret"),
            "MAIL_PASSWORD"
        );
    }
}
