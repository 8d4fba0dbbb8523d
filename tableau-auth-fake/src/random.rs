//! Random material: credentials tokens, LUIDs, trusted tickets, cookies.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const URL_SAFE: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static FALLBACK: AtomicU64 = AtomicU64::new(0x9e37_79b9_7f4a_7c15);

/// Fills `buf` with random bytes from the OS; falls back to a time-seeded generator if the OS
/// source fails (never expected, but the fake must not panic).
pub(crate) fn fill(buf: &mut [u8]) {
    if getrandom::fill(buf).is_ok() {
        return;
    }
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    for byte in buf.iter_mut() {
        // splitmix64
        let mut z = FALLBACK
            .fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed)
            .wrapping_add(nanos);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        *byte = (z ^ (z >> 31)) as u8;
    }
}

/// `len` characters drawn uniformly from `alphabet` (at most 256 symbols).
fn string_from(alphabet: &[u8], len: usize) -> String {
    let limit = 256 - (256 % alphabet.len());
    let mut out = String::with_capacity(len);
    let mut buf = [0u8; 64];
    while out.len() < len {
        fill(&mut buf);
        for &b in &buf {
            if usize::from(b) < limit && out.len() < len {
                out.push(char::from(alphabet[usize::from(b) % alphabet.len()]));
            }
        }
    }
    out
}

/// A Tableau Server style credentials token: 32 alphanumeric characters.
pub(crate) fn token() -> String {
    string_from(ALNUM, 32)
}

fn uuid_v4_bytes() -> [u8; 16] {
    let mut b = [0u8; 16];
    fill(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    b
}

/// A Tableau 10.2+ style trusted ticket: a Base64 UUID v4 (24 characters including `==`), a
/// colon, then 24 URL-safe random characters.
pub(crate) fn ticket() -> String {
    format!(
        "{}:{}",
        STANDARD.encode(uuid_v4_bytes()),
        string_from(URL_SAFE, 24)
    )
}

/// Random bytes that are neither XML nor JSON (no `<`, `{`, `[` anywhere).
pub(crate) fn garbage(len: usize) -> Vec<u8> {
    let mut buf = vec![0u8; len];
    fill(&mut buf);
    for b in &mut buf {
        if matches!(*b, b'<' | b'{' | b'[' | b'"') {
            *b = b'#';
        }
    }
    if let Some(first) = buf.first_mut() {
        *first = 0xff;
    }
    buf
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        let t = token();
        assert_eq!(t.len(), 32);
        assert!(t.bytes().all(|b| b.is_ascii_alphanumeric()));
        let k = ticket();
        assert_eq!(k.len(), 49);
        assert!(k[..24].ends_with("=="));
        assert_eq!(&k[24..25], ":");
        assert!(k[25..].bytes().all(|b| URL_SAFE.contains(&b)));
        assert!(!garbage(300).contains(&b'<'));
    }
}
