//! JWS envelopes (being written).
