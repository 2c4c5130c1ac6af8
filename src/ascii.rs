//! ASCII digit tables and the decimal writer shared by the fingerprints (JA3's decimal
//! lists, JA4's hex lists) and the event writer: hot paths that format numbers without
//! `core::fmt`.

/// Lowercase hex digits.
pub(crate) const HEX: &[u8; 16] = b"0123456789abcdef";

/// The two decimal digits of 0..100, in order.
const DIGITS2: &[u8; 200] = b"\
0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// Writes the decimal digits of `v` at the end of `buf`, two per division ([`DIGITS2`]);
/// returns where they start.
#[inline]
pub(crate) fn digits_u64(buf: &mut [u8; 20], mut v: u64) -> usize {
    let mut i = buf.len();
    while v >= 100 {
        let d = (v % 100) as usize * 2;
        v /= 100;
        i -= 2;
        buf[i] = DIGITS2[d];
        buf[i + 1] = DIGITS2[d + 1];
    }
    if v >= 10 {
        let d = v as usize * 2;
        i -= 2;
        buf[i] = DIGITS2[d];
        buf[i + 1] = DIGITS2[d + 1];
    } else {
        i -= 1;
        buf[i] = b'0' + v as u8;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_digits_match_display() {
        let mut buf = [0u8; 20];
        for v in (0..=100_000u64).chain([u64::from(u32::MAX), u64::MAX / 7, u64::MAX]) {
            let i = digits_u64(&mut buf, v);
            assert_eq!(std::str::from_utf8(&buf[i..]), Ok(v.to_string().as_str()));
        }
    }
}
