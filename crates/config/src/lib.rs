//! signet-config (being written).
