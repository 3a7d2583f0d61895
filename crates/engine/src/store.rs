//! The [`ContentStore`] verifiers receive: one repository, through the registry client, under
//! the request deadline. Digest and size checks happen in the registry client.

use async_trait::async_trait;
use bytes::Bytes;
use signet_registry::{RegistryClient, RepositoryRef};
use signet_types::Descriptor;
use signet_verify::{ContentStore, FetchError};
use tokio::time::Instant;

/// Content of one repository for verifiers.
#[derive(Debug)]
pub(crate) struct RegistryStore {
    client: RegistryClient,
    repo: RepositoryRef,
    deadline: Instant,
}

impl RegistryStore {
    pub(crate) fn new(client: RegistryClient, repo: RepositoryRef, deadline: Instant) -> Self {
        RegistryStore {
            client,
            repo,
            deadline,
        }
    }
}

#[async_trait]
impl ContentStore for RegistryStore {
    async fn manifest(&self, descriptor: &Descriptor) -> Result<Bytes, FetchError> {
        self.client
            .fetch_described_manifest(&self.repo, descriptor, self.deadline)
            .await
            .map(|m| m.bytes)
            .map_err(FetchError::from)
    }

    async fn blob(&self, descriptor: &Descriptor) -> Result<Bytes, FetchError> {
        self.client
            .fetch_blob(&self.repo, descriptor, self.deadline)
            .await
            .map_err(FetchError::from)
    }
}
