//! RFC 3161 timestamp countersignatures (in progress).
