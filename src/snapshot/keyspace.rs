//! Salesforce Ids as numbers, to split an object into Id ranges of about equal size.
//!
//! The first 15 characters of an Id are base-62 digits in ASCII order (`0`-`9`, `A`-`Z`,
//! `a`-`z`), so ASCII order is numeric order and `ORDER BY Id` is that order. Given the lowest
//! and highest Id of an object (two `LIMIT 1` probes), [`boundaries`] divides the span between
//! them evenly; each boundary is written as an 18-character Id (with its case-checksum suffix) for
//! `WHERE Id >= '…' AND Id < '…'`. Ids are handed out roughly in sequence, so even slices of the
//! key space hold about even numbers of rows; an uneven split costs time, never rows (the ranges
//! cover everything below, between and above the boundaries).

const DIGITS: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

fn digit(b: u8) -> Option<u128> {
    DIGITS.iter().position(|&d| d == b).map(|p| p as u128)
}

/// The number an Id's first 15 characters spell; `None` for something that is not an Id.
pub fn value(id: &str) -> Option<u128> {
    let b = id.as_bytes();
    if b.len() != 15 && b.len() != 18 {
        return None;
    }
    b[..15].iter().try_fold(0u128, |acc, &c| Some(acc * 62 + digit(c)?))
}

/// The 18-character Id of a number below 62^15.
pub fn id(mut value: u128) -> String {
    let mut body = [b'0'; 15];
    for slot in body.iter_mut().rev() {
        *slot = DIGITS[(value % 62) as usize];
        value /= 62;
    }
    let mut out = String::from_utf8(body.to_vec()).expect("ASCII");
    const SUFFIX: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";
    for chunk in body.chunks(5) {
        let flags =
            chunk.iter().enumerate().filter(|(_, b)| b.is_ascii_uppercase()).fold(0, |acc, (i, _)| acc | (1 << i));
        out.push(SUFFIX[flags] as char);
    }
    out
}

/// Up to `k - 1` boundaries strictly above `lowest` and at most `highest`, splitting the span
/// into `k` even slices (fewer when the span is narrower than `k`). Empty when either is not an Id.
pub fn boundaries(lowest: &str, highest: &str, k: usize) -> Vec<String> {
    let (Some(lo), Some(hi)) = (value(lowest), value(highest)) else { return Vec::new() };
    if hi <= lo || k < 2 {
        return Vec::new();
    }
    let span = hi - lo;
    let mut out: Vec<u128> = (1..k as u128).map(|i| lo + span * i / k as u128).filter(|&v| v > lo).collect();
    out.dedup();
    out.into_iter().map(id).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_with_their_checksum() {
        // The suffix of a real Id shape: `005` + `5g0` + … (see sf-sim's generator).
        for text in ["0055g000000000AAAA", "0Pa5g00000000zzAAA"] {
            let v = value(text).unwrap();
            assert_eq!(&id(v)[..15], &text[..15]);
        }
        assert_eq!(id(value("001000000000000").unwrap()), "001000000000000AAA");
        assert_eq!(id(value("00D000000000ABC").unwrap()), "00D000000000ABCEA2");
        assert_eq!(value("not an id"), None);
        assert_eq!(value("0055g000000000-AA"), None);
    }

    #[test]
    fn ascii_order_is_numeric_order() {
        let ids = [
            "0055g0000000009AAA",
            "0055g000000000AAAA",
            "0055g000000000ZAAA",
            "0055g000000000aAAA",
            "0055g000000000zAAA",
        ];
        for w in ids.windows(2) {
            assert!(w[0] < w[1]);
            assert!(value(w[0]).unwrap() < value(w[1]).unwrap());
        }
    }

    #[test]
    fn the_span_is_cut_evenly_and_never_outside_it() {
        let (lo, hi) = ("0Pa5g0000000001AAA", "0Pa5g0000004c92AAA");
        let b = boundaries(lo, hi, 4);
        assert_eq!(b.len(), 3);
        let (vlo, vhi) = (value(lo).unwrap(), value(hi).unwrap());
        let vs: Vec<u128> = b.iter().map(|x| value(x).unwrap()).collect();
        assert!(vs.windows(2).all(|w| w[0] < w[1]));
        assert!(vs.iter().all(|&v| v > vlo && v <= vhi));
        let quarter = (vhi - vlo) / 4;
        assert!(vs[0] - vlo <= quarter + 1 && vs[0] - vlo + 1 >= quarter);
        for x in &b {
            assert!(lo < x.as_str() && x.as_str() <= hi, "{x}");
        }
        // A narrow span gives fewer boundaries; one Id or a bad probe gives none.
        assert_eq!(boundaries("0Pa5g0000000001AAA", "0Pa5g0000000003AAA", 10), ["0Pa5g0000000002CAA"]);
        assert!(boundaries(lo, lo, 5).is_empty());
        assert!(boundaries(lo, "x", 5).is_empty());
    }
}
