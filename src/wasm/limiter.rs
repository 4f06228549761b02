//! Store resource limits that also remember whether the memory limit was hit,
//! so a later trap (an allocator abort after `memory.grow` returned -1) is
//! reported as a memory limit rather than a generic trap.

use wasmtime::{ResourceLimiter, StoreLimits, StoreLimitsBuilder};

/// Tables a provider may create (Rust modules use one).
const MAX_TABLES: usize = 2;
/// Elements per table.
const MAX_TABLE_ELEMENTS: usize = 10_000;

/// Wasmtime's `StoreLimits` plus a "memory growth was refused" flag.
pub struct Limiter {
    inner: StoreLimits,
    memory_bytes: usize,
    /// Set once a memory growth (or the initial memory) went over the limit.
    pub memory_denied: bool,
}

impl Limiter {
    /// One instance, one memory of at most `memory_bytes`, a few small tables.
    pub fn new(memory_bytes: usize) -> Limiter {
        let inner = StoreLimitsBuilder::new()
            .memory_size(memory_bytes)
            .instances(1)
            .memories(1)
            .tables(MAX_TABLES)
            .table_elements(MAX_TABLE_ELEMENTS)
            .build();
        Limiter {
            inner,
            memory_bytes,
            memory_denied: false,
        }
    }
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = self.inner.memory_growing(current, desired, maximum)?;
        if !allowed && desired > self.memory_bytes {
            self.memory_denied = true;
        }
        Ok(allowed)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.inner.table_growing(current, desired, maximum)
    }

    fn instances(&self) -> usize {
        self.inner.instances()
    }

    fn tables(&self) -> usize {
        self.inner.tables()
    }

    fn memories(&self) -> usize {
        self.inner.memories()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusal_over_the_limit_is_remembered() {
        let mut l = Limiter::new(1 << 20);
        assert!(matches!(l.memory_growing(0, 1 << 20, None), Ok(true)));
        assert!(!l.memory_denied);
        // The module's own maximum refusing is not our limit.
        assert!(matches!(
            l.memory_growing(0, 1 << 19, Some(1 << 18)),
            Ok(false)
        ));
        assert!(!l.memory_denied);
        assert!(matches!(
            l.memory_growing(1 << 20, 2 << 20, None),
            Ok(false)
        ));
        assert!(l.memory_denied);
        assert_eq!(
            (l.instances(), l.memories(), l.tables()),
            (1, 1, MAX_TABLES)
        );
    }
}
