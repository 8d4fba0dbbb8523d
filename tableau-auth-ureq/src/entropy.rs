//! The clocks and random bytes the core's policy asks for at every step.
//!
//! The policy takes 16 fresh random bytes with each input (throttle jitter, JWT IDs), and the
//! client hands it inputs several times per exchange. One `getrandom` system call per input cost
//! a measurable part of a loopback exchange, so the bytes come from the OS in blocks and are
//! handed out 16 at a time; each is handed out once and wiped from the block as it goes.

use std::fmt;
use std::time::{Instant, SystemTime};

use tableau_auth_proto::Inputs;

use crate::Error;

/// How many bytes are fetched from the OS at once (16 inputs).
const BLOCK: usize = 256;
/// The random bytes of one input.
const TAKE: usize = 16;

/// A block of random bytes from the OS, handed out 16 at a time.
pub(crate) struct Entropy {
    block: [u8; BLOCK],
    /// How much of `block` was handed out (and wiped) already.
    used: usize,
}

impl Default for Entropy {
    fn default() -> Self {
        Self {
            block: [0; BLOCK],
            used: BLOCK,
        }
    }
}

impl fmt::Debug for Entropy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Bytes yet to be used as JWT IDs: never shown.
        f.write_str("Entropy(..)")
    }
}

impl Entropy {
    /// This moment on both clocks, and 16 fresh random bytes.
    pub(crate) fn inputs(&mut self) -> Result<Inputs, Error> {
        if self.used + TAKE > BLOCK {
            getrandom::fill(&mut self.block)
                .map_err(|e| Error::Config(format!("no randomness: {e}")))?;
            self.used = 0;
        }
        let mut random = [0u8; TAKE];
        let taken = &mut self.block[self.used..self.used + TAKE];
        random.copy_from_slice(taken);
        taken.fill(0);
        self.used += TAKE;
        Ok(Inputs::new(Instant::now(), SystemTime::now(), random))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_hands_out_the_same_bytes_twice() {
        let mut entropy = Entropy::default();
        let mut seen = std::collections::HashSet::new();
        // Three blocks' worth: the refill is exercised.
        for _ in 0..3 * BLOCK / TAKE {
            let inputs = entropy.inputs().expect("randomness");
            assert!(seen.insert(inputs.random), "a repeated input");
        }
        assert!(format!("{entropy:?}").len() < 16, "no bytes in Debug");
    }
}
