//! signet-server (being written).
