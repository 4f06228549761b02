//! What more than one fuzz target needs (included with `mod common;`).

use latchgate::crypto::{es256::KeyPair, hex};

/// A fixed P-256 test key (PKCS#8 DER), so seeds and fixtures can name it:
/// the DPoP target binds its lease to it, the JWT target's JWKS holds it.
const P256_PKCS8: &str = "308187020100301306072a8648ce3d020106082a8648ce3d030107046d306b0201010420e92709de30c95d4941ba7835292f26156b1cbd6f03be903a1fd02f1fcf5803d2a14403420004e6773711fb9a0c209ce88b6ae96da94bf5759d9c53e26cc58f260a808a9d0b5a24eb9037ba97b2c6f17afea6ab1e204e5c30638391201bf9baba5bc76ec5d7fe";

/// The fixed P-256 test key.
pub fn p256_test_key() -> KeyPair {
    let der = hex::decode(P256_PKCS8).expect("hex");
    KeyPair::from_pkcs8(&der).expect("P-256 test key")
}
