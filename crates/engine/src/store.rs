//! The [`ContentStore`] verifiers receive: one repository, through the registry client, under
//! the request deadline. Digest and size checks happen in the registry client.
//!
//! One store serves every verifier matching one referrer, concurrently: a Sigstore bundle
//! referrer is read by the cosign verifier and by each attestation verifier, a `.att` manifest
//! by each attestation verifier. Each manifest and blob is fetched once per store (single
//! flight, the answer shared, errors included), not once per verifier.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use signet_registry::{RegistryClient, RepositoryRef};
use signet_types::{Descriptor, Digest};
use signet_verify::{ContentStore, FetchError};
use tokio::sync::OnceCell;
use tokio::time::Instant;

/// What was asked: a manifest or a blob, its digest and announced size.
type Key = (bool, Digest, u64);

/// One fetch, shared by every verifier that asks for the same content.
type Shared = Arc<OnceCell<Result<Bytes, FetchError>>>;

/// Content of one repository for verifiers.
#[derive(Debug)]
pub(crate) struct RegistryStore {
    client: RegistryClient,
    repo: RepositoryRef,
    deadline: Instant,
    fetched: Mutex<HashMap<Key, Shared>>,
}

impl RegistryStore {
    pub(crate) fn new(client: RegistryClient, repo: RepositoryRef, deadline: Instant) -> Self {
        RegistryStore {
            client,
            repo,
            deadline,
            fetched: Mutex::new(HashMap::new()),
        }
    }

    /// The shared cell of one piece of content.
    fn cell(&self, key: Key) -> Shared {
        let mut fetched = self
            .fetched
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        fetched.entry(key).or_default().clone()
    }
}

#[async_trait]
impl ContentStore for RegistryStore {
    async fn manifest(&self, descriptor: &Descriptor) -> Result<Bytes, FetchError> {
        let cell = self.cell((true, descriptor.digest.clone(), descriptor.size));
        cell.get_or_init(|| async {
            self.client
                .fetch_described_manifest(&self.repo, descriptor, self.deadline)
                .await
                .map(|m| m.bytes)
                .map_err(FetchError::from)
        })
        .await
        .clone()
    }

    async fn blob(&self, descriptor: &Descriptor) -> Result<Bytes, FetchError> {
        let cell = self.cell((false, descriptor.digest.clone(), descriptor.size));
        cell.get_or_init(|| async {
            self.client
                .fetch_blob(&self.repo, descriptor, self.deadline)
                .await
                .map_err(FetchError::from)
        })
        .await
        .clone()
    }
}
