//! The inputs a connected-app JWT is minted from: the caller's clock reading and randomness.

use std::fmt;
use std::time::SystemTime;

/// The wall-clock time and randomness a connected-app JWT is minted from. The core has neither
/// of its own: adapters pass `SystemTime::now()` and 16 bytes from a CSPRNG.
#[derive(Clone, Copy)]
pub struct MintInputs {
    /// The wall-clock time of issue (`iat`; `exp` is counted from it).
    pub issued_at: SystemTime,
    /// 16 random bytes, the JWT ID (`jti`, formatted as a UUID v4).
    pub random: [u8; 16],
}

impl fmt::Debug for MintInputs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MintInputs")
            .field("issued_at", &self.issued_at)
            .finish_non_exhaustive()
    }
}
