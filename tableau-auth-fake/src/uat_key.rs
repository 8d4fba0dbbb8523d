//! UAT public keys: PEM (`PUBLIC KEY`, SubjectPublicKeyInfo, or `RSA PUBLIC KEY`, PKCS#1) to the
//! PKCS#1 `RSAPublicKey` DER that ring's RS256 verifier takes, with a small DER reader of our
//! own (the fake shares no key handling with the signer it tests).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// `rsaEncryption` (1.2.840.113549.1.1.1), the content of its OBJECT IDENTIFIER.
const RSA_ENCRYPTION: [u8; 9] = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];

const SEQUENCE: u8 = 0x30;
const INTEGER: u8 = 0x02;
const BIT_STRING: u8 = 0x03;
const OID: u8 = 0x06;

/// The PKCS#1 `RSAPublicKey` DER of a PEM public key, checked to be an RSA key of 2048 to 8192
/// bits (what ring's `RSA_PKCS1_2048_8192_SHA256` accepts). The error says why, in a few words.
pub(crate) fn rsa_public_key_der(pem: &str) -> Result<Vec<u8>, &'static str> {
    let (label, der) = pem_block(pem)?;
    let pkcs1 = match label {
        "RSA PUBLIC KEY" => der,
        "PUBLIC KEY" => spki_to_pkcs1(&der)?,
        _ => return Err("the PEM block is neither PUBLIC KEY nor RSA PUBLIC KEY"),
    };
    check_pkcs1(&pkcs1)?;
    Ok(pkcs1)
}

/// PKCS#1 `RSAPublicKey` DER as `-----BEGIN RSA PUBLIC KEY-----` PEM (64 characters a line).
pub(crate) fn pkcs1_pem(der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let mut pem = String::from("-----BEGIN RSA PUBLIC KEY-----\n");
    for line in body.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem.push_str("-----END RSA PUBLIC KEY-----\n");
    pem
}

/// The first PEM block: its label and decoded body.
fn pem_block(pem: &str) -> Result<(&str, Vec<u8>), &'static str> {
    const BEGIN: &str = "-----BEGIN ";
    const DASHES: &str = "-----";
    let start = pem.find(BEGIN).ok_or("no -----BEGIN line")?;
    let rest = &pem[start + BEGIN.len()..];
    let label_end = rest.find(DASHES).ok_or("a broken -----BEGIN line")?;
    let label = &rest[..label_end];
    let body = &rest[label_end + DASHES.len()..];
    let end_line = format!("-----END {label}-----");
    let end = body.find(&end_line).ok_or("no matching -----END line")?;
    let text: String = body[..end]
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    let der = STANDARD
        .decode(text)
        .map_err(|_| "the PEM body is not base64")?;
    Ok((label, der))
}

/// One DER element: (tag, content, what follows it).
fn element(input: &[u8]) -> Result<(u8, &[u8], &[u8]), &'static str> {
    const BAD: &str = "not DER";
    let (&tag, rest) = input.split_first().ok_or(BAD)?;
    let (&first, rest) = rest.split_first().ok_or(BAD)?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 3 || rest.len() < count {
            return Err(BAD);
        }
        let len = rest[..count]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &rest[count..])
    };
    if rest.len() < len {
        return Err(BAD);
    }
    Ok((tag, &rest[..len], &rest[len..]))
}

/// The `subjectPublicKey` of an RSA SubjectPublicKeyInfo.
fn spki_to_pkcs1(der: &[u8]) -> Result<Vec<u8>, &'static str> {
    let (tag, spki, rest) = element(der)?;
    if tag != SEQUENCE || !rest.is_empty() {
        return Err("not a SubjectPublicKeyInfo");
    }
    let (tag, algorithm, rest) = element(spki)?;
    if tag != SEQUENCE {
        return Err("not a SubjectPublicKeyInfo");
    }
    let (tag, oid, _parameters) = element(algorithm)?;
    if tag != OID || oid != RSA_ENCRYPTION {
        return Err("not an RSA key");
    }
    let (tag, bits, rest) = element(rest)?;
    if tag != BIT_STRING || !rest.is_empty() {
        return Err("not a SubjectPublicKeyInfo");
    }
    match bits.split_first() {
        Some((0, key)) => Ok(key.to_vec()),
        _ => Err("not a SubjectPublicKeyInfo"),
    }
}

/// `RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }`, modulus of 2048 to
/// 8192 bits.
fn check_pkcs1(der: &[u8]) -> Result<(), &'static str> {
    const NOT: &str = "not an RSA public key";
    let (tag, key, rest) = element(der)?;
    if tag != SEQUENCE || !rest.is_empty() {
        return Err(NOT);
    }
    let (tag, modulus, rest) = element(key)?;
    let (tag2, exponent, rest) = element(rest)?;
    if tag != INTEGER || tag2 != INTEGER || exponent.is_empty() || !rest.is_empty() {
        return Err(NOT);
    }
    let modulus = match modulus.split_first() {
        Some((0, magnitude)) => magnitude,
        _ => modulus,
    };
    let bits = modulus
        .first()
        .map_or(0, |top| modulus.len() * 8 - top.leading_zeros() as usize);
    if !(2048..=8192).contains(&bits) {
        return Err("the RSA key is not 2048 to 8192 bits");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample;

    #[test]
    fn spki_and_pkcs1_pem_give_the_same_key() {
        let from_spki = rsa_public_key_der(sample::UAT_PUBLIC_KEY_PEM).expect("SPKI");
        assert_eq!(from_spki[0], SEQUENCE);
        let pem = pkcs1_pem(&from_spki);
        assert!(pem.starts_with("-----BEGIN RSA PUBLIC KEY-----\n"));
        assert!(pem.lines().all(|l| l.len() <= 64));
        assert_eq!(rsa_public_key_der(&pem).expect("PKCS#1"), from_spki);
    }

    #[test]
    fn anything_else_is_refused_with_a_reason() {
        let der = rsa_public_key_der(sample::UAT_PUBLIC_KEY_PEM).expect("SPKI");
        let cases = [
            ("", "no -----BEGIN line"),
            (
                "-----BEGIN PUBLIC KEY-----\nAAAA\n",
                "no matching -----END line",
            ),
            (
                "-----BEGIN PUBLIC KEY-----\n!!!!\n-----END PUBLIC KEY-----\n",
                "the PEM body is not base64",
            ),
            (
                "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
                "the PEM block is neither PUBLIC KEY nor RSA PUBLIC KEY",
            ),
            (
                "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
                "not a SubjectPublicKeyInfo",
            ),
        ];
        for (pem, why) in cases {
            assert_eq!(rsa_public_key_der(pem), Err(why), "{pem:?}");
        }
        // A 1024-bit key: SEQUENCE { INTEGER (129 bytes, top bit set after the 0), INTEGER 3 }.
        let mut small = vec![SEQUENCE, 0x81, 0x87, INTEGER, 0x81, 0x81, 0x00];
        small.extend([0xc5; 128]);
        small.extend([INTEGER, 0x01, 0x03]);
        assert_eq!(
            rsa_public_key_der(&pkcs1_pem(&small)),
            Err("the RSA key is not 2048 to 8192 bits")
        );
        // An EC key's SPKI (id-ecPublicKey) is not an RSA key.
        let mut ec = vec![SEQUENCE, 0x0f, SEQUENCE, 0x09, OID, 0x07];
        ec.extend([0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01]);
        ec.extend([BIT_STRING, 0x02, 0x00, 0x04]);
        let pem = format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
            STANDARD.encode(&ec)
        );
        assert_eq!(rsa_public_key_der(&pem), Err("not an RSA key"));
        // Trailing bytes after the key.
        let mut long = der.clone();
        long.push(0);
        assert_eq!(
            rsa_public_key_der(&pkcs1_pem(&long)),
            Err("not an RSA public key")
        );
    }
}
