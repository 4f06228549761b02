//! Randomness from the operating system (ring's `SystemRandom`).

use super::CryptoError;
use ring::rand::{SecureRandom, SystemRandom};
use std::sync::LazyLock;

/// The one generator every caller in this crate shares.
static RNG: LazyLock<SystemRandom> = LazyLock::new(SystemRandom::new);

/// The shared generator, for ring APIs that take one.
pub(crate) fn rng() -> &'static SystemRandom {
    &RNG
}

/// Fills `buf` with random bytes.
pub fn fill(buf: &mut [u8]) -> Result<(), CryptoError> {
    RNG.fill(buf).map_err(|_| CryptoError::Random)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_differently_each_time() {
        let mut a = [0u8; 32];
        let mut b = [0u8; 32];
        fill(&mut a).unwrap();
        fill(&mut b).unwrap();
        assert_ne!(a, [0u8; 32]);
        assert_ne!(a, b);
    }
}
