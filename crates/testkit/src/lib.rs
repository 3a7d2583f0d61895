//! signet-testkit (being written).
