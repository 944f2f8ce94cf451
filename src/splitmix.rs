//! The one random-number generator: the uploader's backoff jitter and the
//! simulator's seeded faults draw from it, so neither depends on the other.

/// SplitMix64: a tiny, well-mixed generator; all that jitter and fault draws need.
pub fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = x;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
