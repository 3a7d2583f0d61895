//! The verifier types this build of Signet knows. The notation and cosign verifier crates add
//! their factories here; the engine and server never name a concrete verifier.

use std::sync::Arc;

use signet_verify::VerifierFactory;

/// Every verifier factory compiled in.
pub fn factories() -> Vec<Arc<dyn VerifierFactory>> {
    vec![
        Arc::new(signet_notation::verifier::NotationFactory),
        Arc::new(signet_cosign::CosignFactory),
    ]
}
