//! signet-registry (being written).
