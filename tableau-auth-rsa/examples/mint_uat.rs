//! Mints a Tableau Cloud unified access token the way every sign-in does, and shows its header
//! and claims (never the signed token, which is a credential).
//!
//! ```text
//! cargo run -p tableau-auth-rsa --example mint_uat -- KEY.pem KEY_ID ISSUER TENANT USER [SCOPE…]
//! ```
//!
//! Time and randomness come from the caller, as the core wants them: here the clock, and bytes
//! derived from it for the `jti` (an example only: the adapters use a CSPRNG).

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use tableau_auth_proto::secret::ExposeSecret as _;
use tableau_auth_proto::{MintInputs, UnifiedAccess};
use tableau_auth_rsa::RsaSigner;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [key, key_id, issuer, tenant, user, scopes @ ..] = args.as_slice() else {
        return Err("usage: mint_uat KEY.pem KEY_ID ISSUER TENANT USER [SCOPE…]".into());
    };
    let signer = RsaSigner::from_pem_file(key_id.as_str(), key)?;
    let scopes: Vec<&str> = if scopes.is_empty() {
        vec!["tableau:content:read"]
    } else {
        scopes.iter().map(String::as_str).collect()
    };
    let uat = UnifiedAccess::new(
        issuer.as_str(),
        tenant.as_str(),
        user.as_str(),
        Arc::new(signer),
    )
    .scopes(scopes);
    let now = SystemTime::now();
    let nanos = now.duration_since(UNIX_EPOCH)?.as_nanos().to_le_bytes();
    let jwt = uat.mint(MintInputs {
        issued_at: now,
        random: nanos,
    })?;
    for (name, part) in ["header", "claims"]
        .iter()
        .zip(jwt.expose_secret().split('.'))
    {
        let json: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part)?)?;
        println!("{name}: {json:#}");
    }
    println!(
        "signature: RS256, {} bytes",
        jwt.expose_secret()
            .rsplit('.')
            .next()
            .map_or(0, |s| s.len() * 3 / 4)
    );
    Ok(())
}
