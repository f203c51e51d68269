//! A small seeded PRNG for message IDs.
//!
//! SplitMix64 (Steele, Lea, Flood 2014): one 64-bit state word, an add and a
//! three-step mix per output. It is **not cryptographic**: anyone who learns the seed
//! or enough consecutive outputs can predict later IDs. Over TCP that is acceptable —
//! an off-path attacker cannot inject into the stream without guessing sequence
//! numbers — and ID unpredictability is defence in depth (C2). The caller supplies
//! the seed (the std adapter derives it from the OS through `RandomState`); the
//! machine never reads an entropy source itself.
#![forbid(unsafe_code)]

/// SplitMix64 generator.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub(crate) fn new(seed: u64) -> Self {
        SplitMix64 { state: seed }
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub(crate) fn next_u16(&mut self) -> u16 {
        (self.next_u64() >> 48) as u16
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c2_seeds_give_different_streams() {
        let mut a = SplitMix64::new(1);
        let mut b = SplitMix64::new(2);
        let xa: [u16; 8] = core::array::from_fn(|_| a.next_u16());
        let xb: [u16; 8] = core::array::from_fn(|_| b.next_u16());
        assert_ne!(xa, xb);
        let mut again = SplitMix64::new(1);
        assert_eq!(xa, core::array::from_fn(|_| again.next_u16()));
    }
}
