//! Secret values: read from their source at call time, never printed.

use std::fmt;

/// A secret value. `Debug` and `Display` print `***`; only [`SecretValue::expose`] reveals it,
/// and only the HTTP layer calls that, to build a header.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(String);

impl SecretValue {
    pub fn new(value: impl Into<String>) -> Self {
        SecretValue(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Where secret values are read from, by registry key name.
pub trait SecretSource: Send + Sync {
    fn get(&self, key: &str) -> Option<SecretValue>;
}

/// The controller's process environment: the key name is the variable name.
#[derive(Debug, Default, Clone, Copy)]
pub struct EnvSecrets;

impl SecretSource for EnvSecrets {
    fn get(&self, key: &str) -> Option<SecretValue> {
        std::env::var(key)
            .ok()
            .filter(|v| !v.is_empty())
            .map(SecretValue)
    }
}

/// A fixed map, for tests and the simulator-backed demo.
#[derive(Debug, Default, Clone)]
pub struct StaticSecrets(pub std::collections::BTreeMap<String, SecretValue>);

impl StaticSecrets {
    pub fn with(mut self, key: &str, value: &str) -> Self {
        self.0.insert(key.to_string(), SecretValue::new(value));
        self
    }
}

impl SecretSource for StaticSecrets {
    fn get(&self, key: &str) -> Option<SecretValue> {
        self.0.get(key).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints_the_value() {
        let s = SecretValue::new("test-token-canary");
        assert_eq!(format!("{s}"), "***");
        assert_eq!(format!("{s:?}"), "***");
        assert_eq!(format!("{:?}", Some(s.clone())), "Some(***)");
        assert_eq!(s.expose(), "test-token-canary");
    }
}
