//! Fault injection for the simulator: by probability or by count, per route or global,
//! seeded so a test sees the same faults every run.
//!
//! Spec grammar (the `--faults` flag): rules separated by `;`, fields by `,`:
//! `p=0.2,kinds=429|500|503|timeout|reset|malformed|truncate,seed=7;route=/digitalocean/v2/droplets,count=2,kinds=429`
//! (`method=POST` limits a rule to one method) plus global `latency_ms=50`, `retry_after=1` (seconds in 429 answers), `timeout_ms=3000`.

use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// 429 with `Retry-After` and the provider's error body.
    TooMany,
    /// 500 with the provider's error body.
    ServerError,
    /// 503 with the provider's error body.
    Unavailable,
    /// The answer comes after the client's timeout.
    Timeout,
    /// The connection is closed without an answer.
    Reset,
    /// 200 with a body that is not JSON.
    Malformed,
    /// The body stops half-way.
    Truncate,
}

impl FaultKind {
    fn parse(s: &str) -> Result<FaultKind, String> {
        Ok(match s {
            "429" => FaultKind::TooMany,
            "500" => FaultKind::ServerError,
            "503" => FaultKind::Unavailable,
            "timeout" => FaultKind::Timeout,
            "reset" => FaultKind::Reset,
            "malformed" => FaultKind::Malformed,
            "truncate" => FaultKind::Truncate,
            other => {
                return Err(format!(
                "unknown fault kind `{other}` (429, 500, 503, timeout, reset, malformed, truncate)"
            ))
            }
        })
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Rule {
    /// Path prefix the rule applies to (e.g. `/digitalocean/v2/droplets`); none = all.
    pub route: Option<String>,
    /// HTTP method the rule applies to (`POST`); none = every method.
    #[serde(default)]
    pub method: Option<String>,
    /// Probability per matching request.
    pub probability: f64,
    /// Fire on the next `count` matching requests (instead of by probability).
    pub count: Option<u32>,
    pub kinds: Vec<FaultKind>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct FaultConfig {
    pub rules: Vec<Rule>,
    pub seed: u64,
    pub latency_ms: u64,
    pub retry_after_secs: u64,
    pub timeout_ms: u64,
}

impl Default for FaultConfig {
    fn default() -> Self {
        FaultConfig {
            rules: Vec::new(),
            seed: 1,
            latency_ms: 0,
            retry_after_secs: 1,
            timeout_ms: 3000,
        }
    }
}

impl FaultConfig {
    pub fn parse(spec: &str) -> Result<FaultConfig, String> {
        let mut cfg = FaultConfig::default();
        for rule_text in spec.split(';').map(str::trim).filter(|s| !s.is_empty()) {
            let mut rule = Rule {
                route: None,
                method: None,
                probability: 0.0,
                count: None,
                kinds: Vec::new(),
            };
            let mut is_rule = false;
            for field in rule_text
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
            {
                let (k, v) = field
                    .split_once('=')
                    .ok_or_else(|| format!("`{field}`: expected key=value"))?;
                let num = |v: &str| {
                    v.parse::<u64>()
                        .map_err(|_| format!("`{field}`: not a number"))
                };
                match k {
                    "p" | "probability" => {
                        rule.probability = v
                            .parse()
                            .map_err(|_| format!("`{field}`: not a probability"))?;
                        if !(0.0..=1.0).contains(&rule.probability) {
                            return Err(format!("`{field}`: probability must be within 0..1"));
                        }
                        is_rule = true;
                    }
                    "count" => {
                        rule.count = Some(num(v)? as u32);
                        is_rule = true;
                    }
                    "route" => rule.route = Some(v.to_string()),
                    "method" => rule.method = Some(v.to_ascii_uppercase()),
                    "kinds" => {
                        rule.kinds = v
                            .split('|')
                            .map(FaultKind::parse)
                            .collect::<Result<_, _>>()?;
                        is_rule = true;
                    }
                    "seed" => cfg.seed = num(v)?,
                    "latency_ms" => cfg.latency_ms = num(v)?,
                    "retry_after" => cfg.retry_after_secs = num(v)?,
                    "timeout_ms" => cfg.timeout_ms = num(v)?,
                    other => return Err(format!("unknown fault field `{other}`")),
                }
            }
            if is_rule {
                if rule.kinds.is_empty() {
                    rule.kinds = vec![
                        FaultKind::TooMany,
                        FaultKind::ServerError,
                        FaultKind::Unavailable,
                    ];
                }
                cfg.rules.push(rule);
            }
        }
        Ok(cfg)
    }
}

/// Live fault state: the config plus a seeded generator and the count rules' budgets.
#[derive(Debug)]
pub struct Faults {
    pub config: FaultConfig,
    rng: fastrand::Rng,
    fired: u64,
}

impl Faults {
    pub fn new(config: FaultConfig) -> Faults {
        let rng = fastrand::Rng::with_seed(config.seed);
        Faults {
            config,
            rng,
            fired: 0,
        }
    }
    pub fn fired(&self) -> u64 {
        self.fired
    }

    /// Decide the fault (if any) for a request path. Control routes never fault.
    pub fn decide(&mut self, path: &str) -> Option<FaultKind> {
        self.decide_for("", path)
    }

    /// Decide the fault for a request `method path` (rules with a method match only it).
    pub fn decide_for(&mut self, method: &str, path: &str) -> Option<FaultKind> {
        if path.starts_with("/_sim") {
            return None;
        }
        for rule in self.config.rules.iter_mut() {
            if rule.route.as_deref().is_some_and(|r| !path.starts_with(r)) {
                continue;
            }
            if rule
                .method
                .as_deref()
                .is_some_and(|m| !m.eq_ignore_ascii_case(method))
            {
                continue;
            }
            let hit = match rule.count.as_mut() {
                Some(0) => false,
                Some(n) => {
                    *n -= 1;
                    true
                }
                None => self.rng.f64() < rule.probability,
            };
            if hit {
                self.fired += 1;
                let i = self.rng.usize(..rule.kinds.len());
                return Some(rule.kinds[i]);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_grammar() {
        let c = FaultConfig::parse("p=0.2,kinds=429|500|timeout,seed=7;route=/digitalocean/v2/droplets,count=2,kinds=429;latency_ms=5").expect("parse");
        assert_eq!(c.seed, 7);
        assert_eq!(c.latency_ms, 5);
        assert_eq!(c.rules.len(), 2);
        assert_eq!(c.rules[1].count, Some(2));
        assert!(FaultConfig::parse("p=2").is_err());
        assert!(FaultConfig::parse("kinds=boom").is_err());
    }

    #[test]
    fn counts_and_probabilities_are_reproducible() {
        let cfg = FaultConfig::parse("route=/a,count=2,kinds=429;p=0.5,seed=3").expect("parse");
        let mut f = Faults::new(cfg.clone());
        assert_eq!(f.decide("/a/x"), Some(FaultKind::TooMany));
        assert_eq!(f.decide("/a/x"), Some(FaultKind::TooMany));
        let seq1: Vec<_> = (0..50).map(|_| f.decide("/b")).collect();
        let mut g = Faults::new(cfg);
        g.decide("/a");
        g.decide("/a");
        let seq2: Vec<_> = (0..50).map(|_| g.decide("/b")).collect();
        assert_eq!(seq1, seq2);
        let n = seq1.iter().filter(|x| x.is_some()).count();
        assert!((10..=40).contains(&n), "{n}");
        assert_eq!(f.decide("/_sim/state"), None);
    }

    #[test]
    fn a_method_limits_a_rule() {
        let cfg = FaultConfig::parse("route=/a,method=post,count=1,kinds=500").expect("parse");
        let mut f = Faults::new(cfg);
        assert_eq!(f.decide_for("GET", "/a/x"), None);
        assert_eq!(f.decide_for("POST", "/a/x"), Some(FaultKind::ServerError));
        assert_eq!(f.decide_for("POST", "/a/x"), None, "count spent");
    }
}
