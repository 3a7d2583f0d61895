//! The seam between HTTP and verification: the server parses and answers, the backend decides.

use signet_types::gatekeeper::Item;
use tokio::time::Instant;

/// What the provider calls for each request. The lead's engine implements it; tests implement it
/// with stubs. Implementations must be cheap to share (`Arc<dyn ProviderBackend>`) because one
/// instance serves every request concurrently.
#[async_trait::async_trait]
pub trait ProviderBackend: Send + Sync + 'static {
    /// Verifies `keys` (`image` or `[namespace]image`). Returns exactly one [`Item`] per key, in
    /// the order given, before `deadline`; a key that cannot finish in time gets a `timeout:`
    /// error item from the backend. The server treats any other shape as an internal error of the
    /// whole request, never as a pass.
    async fn verify(&self, keys: Vec<String>, deadline: Instant) -> Vec<Item>;

    /// Mutates `keys`: each item's value is the reference pinned to its digest, or the item
    /// carries an error. Same shape rules as [`ProviderBackend::verify`].
    async fn mutate(&self, keys: Vec<String>, deadline: Instant) -> Vec<Item>;

    /// True once configuration and trust material are loaded; drives `/readyz`.
    fn ready(&self) -> bool;
}
