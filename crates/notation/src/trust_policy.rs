//! Trust policy and trust stores (being written).
