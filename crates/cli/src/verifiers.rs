//! The verifier types this build of Signet knows. The notation, cosign and attestation verifier
//! crates add their factories here; the engine and server never name a concrete verifier.

use std::sync::Arc;

use signet_verify::VerifierFactory;

/// Every verifier factory compiled in.
pub fn factories() -> Vec<Arc<dyn VerifierFactory>> {
    let mut all: Vec<Arc<dyn VerifierFactory>> = vec![
        Arc::new(signet_notation::verifier::NotationFactory),
        Arc::new(signet_cosign::CosignFactory),
    ];
    for f in signet_attest::verifier::AttestationFactory::all() {
        all.push(Arc::new(f));
    }
    all
}
