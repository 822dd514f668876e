//! The memory a request needs, estimated before any work and refused with one line naming what
//! asked for it, instead of an allocation failure or an exhausted machine halfway through.
//!
//! The limit is the machine's available memory (`MemAvailable` in `/proc/meminfo`), or
//! [`FALLBACK_LIMIT`] where that cannot be read; `SDALAB_MEMORY_LIMIT` (bytes, or with a `K`, `M`
//! or `G` suffix) lowers it. Estimates multiply checked counts, so an absurd count is an error
//! rather than a wrap-around.

use std::fmt;

/// The limit where the available memory cannot be read.
pub const FALLBACK_LIMIT: u64 = 8 << 30;

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BudgetError {
    #[error("{what}: the sizes multiply beyond what any machine can address")]
    Overflow { what: String },
    #[error("{what}: needs about {}, more than the {} {origin} (set SDALAB_MEMORY_LIMIT to change the limit)", Bytes(*need), Bytes(*limit))]
    TooLarge { what: String, need: u64, limit: u64, origin: &'static str },
}

/// A byte count, printed with a binary unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bytes(pub u64);

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let units = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
        let mut value = self.0 as f64;
        let mut unit = 0;
        while value >= 1024.0 && unit + 1 < units.len() {
            value /= 1024.0;
            unit += 1;
        }
        if unit == 0 { write!(f, "{} bytes", self.0) } else { write!(f, "{value:.1} {}", units[unit]) }
    }
}

/// How much memory requests may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryBudget {
    limit: u64,
    origin: &'static str,
}

impl MemoryBudget {
    /// This machine's: the available memory, lowered by `SDALAB_MEMORY_LIMIT` when set.
    pub fn of_machine() -> Self {
        let available = std::fs::read_to_string("/proc/meminfo").ok().and_then(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix("MemAvailable:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                .map(|kb| kb.saturating_mul(1024))
        });
        let machine = match available {
            Some(bytes) => Self { limit: bytes, origin: "available on this machine" },
            None => Self { limit: FALLBACK_LIMIT, origin: "allowed where the available memory is unknown" },
        };
        match std::env::var("SDALAB_MEMORY_LIMIT").ok().as_deref().and_then(parse_size) {
            Some(limit) if limit < machine.limit => Self { limit, origin: "allowed by SDALAB_MEMORY_LIMIT" },
            _ => machine,
        }
    }

    /// A fixed limit (tests, callers with their own policy).
    pub fn with_limit(limit: u64) -> Self {
        Self { limit, origin: "allowed" }
    }

    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// Refuses `what` (the flag or entry that sets the size) when `counts` values of `bytes_each`
    /// bytes exceed the limit. Returns the estimate.
    pub fn check(&self, what: &str, counts: &[usize], bytes_each: u64) -> Result<u64, BudgetError> {
        let need = estimate(counts, bytes_each).ok_or_else(|| BudgetError::Overflow { what: what.into() })?;
        if need > self.limit {
            return Err(BudgetError::TooLarge { what: what.into(), need, limit: self.limit, origin: self.origin });
        }
        Ok(need)
    }
}

/// `Π counts × bytes_each`, or `None` when it does not fit in 64 bits.
pub fn estimate(counts: &[usize], bytes_each: u64) -> Option<u64> {
    counts.iter().try_fold(bytes_each, |n, &c| n.checked_mul(u64::try_from(c).ok()?))
}

/// `123`, `64K`, `512M`, `8G` (binary units).
fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let (number, shift) = match text.chars().last()? {
        'k' | 'K' => (&text[..text.len() - 1], 10),
        'm' | 'M' => (&text[..text.len() - 1], 20),
        'g' | 'G' => (&text[..text.len() - 1], 30),
        _ => (text, 0),
    };
    number.trim().parse::<u64>().ok()?.checked_mul(1 << shift)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_over_the_limit_or_beyond_addressing_are_refused() {
        let budget = MemoryBudget::with_limit(1 << 20);
        assert_eq!(budget.check("--samples", &[64, 65, 3], 8), Ok(64 * 65 * 3 * 8));
        let err = budget.check("--samples", &[1 << 20, 3], 8).unwrap_err();
        assert!(err.to_string().starts_with("--samples: needs about 24.0 MiB, more than the 1.0 MiB"), "{err}");
        let err = budget.check("length", &[usize::MAX, 3], 8).unwrap_err();
        assert_eq!(err, BudgetError::Overflow { what: "length".into() });
        assert_eq!(parse_size("512M"), Some(512 << 20));
        assert_eq!(parse_size("3g"), Some(3 << 30));
        assert_eq!(parse_size("lots"), None);
        assert_eq!(Bytes(1536).to_string(), "1.5 KiB");
    }
}
