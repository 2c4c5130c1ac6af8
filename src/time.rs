//! Packet time: the only clock the pipeline knows.
//!
//! Timeouts, handshake timing and certificate validity checks are all computed from the
//! timestamps in the capture, never from the wall clock, so a replay gives the same events
//! every time it is run.

use std::fmt;

/// Nanoseconds since the Unix epoch, as read from the capture.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

const NANOS: i64 = 1_000_000_000;

impl Timestamp {
    /// From nanoseconds since the epoch.
    pub const fn from_nanos(n: i64) -> Self {
        Timestamp(n)
    }

    /// From whole seconds and a fraction counted in `1/resolution` units.
    pub fn from_parts(secs: i64, sub: u64, resolution: u64) -> Self {
        // Classic pcap's two resolutions without the 128-bit division (once per frame: the
        // division was 2% of the reading thread's time). Same value as the general case:
        // the casts keep the low 64 bits of the same product.
        let frac = match resolution {
            1_000_000 => sub.wrapping_mul(1000) as i64,
            1_000_000_000 => sub as i64,
            _ => (u128::from(sub) * NANOS as u128 / u128::from(resolution.max(1))) as i64,
        };
        Timestamp(secs.saturating_mul(NANOS).saturating_add(frac))
    }

    /// From a count of `1/resolution` units since the epoch plus an offset in seconds
    /// (pcapng's `if_tsresol` and `if_tsoffset`).
    pub fn from_units(units: u64, resolution: u64, offset_secs: i64) -> Self {
        let res = u128::from(resolution.max(1));
        let nanos = u128::from(units) * NANOS as u128 / res;
        let nanos = i64::try_from(nanos).unwrap_or(i64::MAX);
        Timestamp(nanos.saturating_add(offset_secs.saturating_mul(NANOS)))
    }

    /// Nanoseconds since the epoch.
    pub const fn as_nanos(self) -> i64 {
        self.0
    }

    /// Whole seconds since the epoch (rounded down).
    pub const fn as_secs(self) -> i64 {
        self.0.div_euclid(NANOS)
    }

    /// Microseconds from `earlier` to `self` (negative if `self` is earlier).
    pub fn micros_since(self, earlier: Timestamp) -> i64 {
        (self.0 - earlier.0) / 1000
    }

    /// `self` plus a number of seconds.
    pub fn plus_secs(self, secs: u64) -> Timestamp {
        Timestamp(self.0.saturating_add((secs as i64).saturating_mul(NANOS)))
    }
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day).
/// Howard Hinnant's `civil_from_days`; no date crate needed for this one conversion.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Formats as RFC 3339 in UTC with microseconds, as Suricata's EVE `timestamp` does
/// (`2026-11-27T10:00:00.123456Z`).
impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0.div_euclid(NANOS);
        let micros = self.0.rem_euclid(NANOS) / 1000;
        let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
        let sod = secs.rem_euclid(86_400);
        write!(
            f,
            "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}.{micros:06}Z",
            sod / 3600,
            (sod / 60) % 60,
            sod % 60
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pcap_resolutions_give_the_general_division() {
        let general = |sub: u64, res: u64| (u128::from(sub) * NANOS as u128 / u128::from(res.max(1))) as i64;
        let subs =
            [0, 1, 999_999, 1_000_000, 999_999_999, u64::from(u32::MAX), u64::MAX / 1000 + 7, u64::MAX];
        for res in [1_000_000, 1_000_000_000] {
            for sub in subs.into_iter().chain((0..64).map(|k| 1u64 << k)) {
                assert_eq!(
                    Timestamp::from_parts(5, sub, res).as_nanos(),
                    (5 * NANOS).saturating_add(general(sub, res)),
                    "{sub} at {res}"
                );
            }
        }
    }

    #[test]
    fn formats_rfc3339_micros() {
        let t = Timestamp::from_parts(1_795_860_000, 123_456, 1_000_000);
        assert_eq!(t.to_string(), "2026-11-28T10:00:00.123456Z");
        assert_eq!(Timestamp::from_nanos(0).to_string(), "1970-01-01T00:00:00.000000Z");
        // Before the epoch (certificates from 1969 exist).
        assert_eq!(Timestamp::from_nanos(-1_000).to_string(), "1969-12-31T23:59:59.999999Z");
        // A leap day.
        assert_eq!(Timestamp::from_parts(951_782_400, 0, 1).to_string(), "2000-02-29T00:00:00.000000Z");
    }

    #[test]
    fn units_and_resolutions() {
        assert_eq!(Timestamp::from_units(1_500, 1_000, 0).as_nanos(), 1_500_000_000);
        assert_eq!(Timestamp::from_units(3, 1, 10).as_nanos(), 13_000_000_000);
        // 2^-20 s resolution (pcapng if_tsresol with the high bit set).
        assert_eq!(Timestamp::from_units(1 << 20, 1 << 20, 0).as_nanos(), 1_000_000_000);
        assert_eq!(Timestamp::from_units(u64::MAX, 1, 0).as_nanos(), i64::MAX);
    }
}
