//! signet-engine (being written).
