//! A secret value: no Debug or Display that shows it, zeroed when dropped.

/// A secret's bytes (UTF-8, no control characters, at most 16 KiB).
pub struct SecretValue(String);

impl SecretValue {
    /// Checks and wraps a value. Control characters are refused: a secret
    /// goes into an HTTP header, where a line break would split it.
    pub fn new(value: String) -> Result<SecretValue, String> {
        let v = SecretValue(value);
        if v.0.is_empty() {
            return Err("the value is empty".into());
        }
        if v.0.len() > super::MAX_SECRET_BYTES {
            return Err(format!(
                "the value is longer than {} bytes",
                super::MAX_SECRET_BYTES
            ));
        }
        if v.0.chars().any(char::is_control) {
            return Err("the value contains control characters (line breaks, tabs, ...)".into());
        }
        Ok(v)
    }

    /// The value, for the one place that injects it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl Drop for SecretValue {
    fn drop(&mut self) {
        // Best effort: overwrite the heap bytes before they are freed.
        let mut bytes = std::mem::take(&mut self.0).into_bytes();
        for b in bytes.iter_mut() {
            *b = 0;
        }
        // black_box keeps the optimiser from dropping the writes.
        std::hint::black_box(&bytes);
    }
}

impl std::fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretValue(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_bad_values_and_never_prints() {
        assert!(SecretValue::new(String::new()).is_err());
        assert!(SecretValue::new("a\nb".into()).is_err());
        assert!(SecretValue::new("x".repeat(20_000)).is_err());
        let v = SecretValue::new("s3cr3t".into()).unwrap();
        assert_eq!(v.expose(), "s3cr3t");
        assert!(!format!("{v:?}").contains("s3cr3t"));
    }
}
