//! Caller-supplied monotonic time.
//!
//! The core never reads a clock. Every input that can start or stop a timer takes an
//! [`Instant`]: a count of milliseconds from an epoch the caller picks (boot, process
//! start, anything monotonic). Arithmetic saturates, so a bogus input can never panic
//! or wrap; the machines additionally clamp `now` so time never runs backwards inside
//! them.
//!
//! Under the `std` feature, [`Clock`] converts [`std::time::Instant`] against a fixed
//! reference point taken once.
#![forbid(unsafe_code)]

use core::fmt;
use core::ops::{Add, Sub};
use core::time::Duration;

/// A point in time: milliseconds since a caller-chosen monotonic epoch.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Instant(u64);

impl Instant {
    /// The epoch itself.
    pub const ZERO: Instant = Instant(0);
    /// The far future; a deadline here never fires.
    pub const MAX: Instant = Instant(u64::MAX);

    /// An instant `ms` milliseconds after the epoch.
    #[must_use]
    pub const fn from_millis(ms: u64) -> Self {
        Instant(ms)
    }

    /// Milliseconds since the epoch.
    #[must_use]
    pub const fn as_millis(self) -> u64 {
        self.0
    }

    /// `self + d`, saturating at [`Instant::MAX`].
    #[must_use]
    pub fn saturating_add(self, d: Duration) -> Self {
        Instant(self.0.saturating_add(duration_ms(d)))
    }

    /// `self - d`, saturating at [`Instant::ZERO`].
    #[must_use]
    pub fn saturating_sub(self, d: Duration) -> Self {
        Instant(self.0.saturating_sub(duration_ms(d)))
    }

    /// Time elapsed from `earlier` to `self`; zero if `earlier` is later.
    #[must_use]
    pub fn saturating_duration_since(self, earlier: Instant) -> Duration {
        Duration::from_millis(self.0.saturating_sub(earlier.0))
    }
}

/// Whole milliseconds in `d`, saturating at `u64::MAX`.
#[must_use]
pub fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, d: Duration) -> Instant {
        self.saturating_add(d)
    }
}

impl Sub<Duration> for Instant {
    type Output = Instant;
    fn sub(self, d: Duration) -> Instant {
        self.saturating_sub(d)
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;
    fn sub(self, earlier: Instant) -> Duration {
        self.saturating_duration_since(earlier)
    }
}

impl fmt::Debug for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:03}s", self.0 / 1000, self.0 % 1000)
    }
}

impl fmt::Display for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// Converts [`std::time::Instant`] to [`Instant`] against a reference point fixed at
/// construction. Only the adapters use it; nothing in the core reads a clock.
#[cfg(feature = "std")]
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    origin: std::time::Instant,
}

#[cfg(feature = "std")]
impl Clock {
    /// A clock whose epoch is the moment of this call.
    #[must_use]
    pub fn new() -> Self {
        Clock {
            origin: std::time::Instant::now(),
        }
    }

    /// A clock with an explicit epoch.
    #[must_use]
    pub fn with_origin(origin: std::time::Instant) -> Self {
        Clock { origin }
    }

    /// The current time.
    #[must_use]
    pub fn now(&self) -> Instant {
        self.convert(std::time::Instant::now())
    }

    /// `t` as an [`Instant`]; moments before the epoch map to [`Instant::ZERO`].
    #[must_use]
    pub fn convert(&self, t: std::time::Instant) -> Instant {
        Instant(duration_ms(t.saturating_duration_since(self.origin)))
    }

    /// The `std` instant matching `t`, saturating far in the future.
    #[must_use]
    pub fn to_std(&self, t: Instant) -> std::time::Instant {
        let d = Duration::from_millis(t.as_millis());
        self.origin
            .checked_add(d)
            .unwrap_or_else(|| self.origin + Duration::from_secs(86_400 * 365 * 30))
    }
}

#[cfg(feature = "std")]
impl Default for Clock {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates() {
        let t = Instant::from_millis(5);
        assert_eq!(t - Duration::from_millis(10), Instant::ZERO);
        assert_eq!(Instant::MAX + Duration::from_secs(1), Instant::MAX);
        assert_eq!(
            Instant::from_millis(3) - Instant::from_millis(7),
            Duration::ZERO
        );
        assert_eq!(
            Instant::from_millis(7) - Instant::from_millis(3),
            Duration::from_millis(4)
        );
        assert_eq!(t + Duration::MAX, Instant::MAX);
    }

    #[cfg(feature = "std")]
    #[test]
    fn std_conversion_is_monotonic() {
        let c = Clock::new();
        let a = c.now();
        let b = c.now();
        assert!(b >= a);
        let back = c.to_std(Instant::from_millis(1500));
        assert_eq!(c.convert(back), Instant::from_millis(1500));
    }
}
