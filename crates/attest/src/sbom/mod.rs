//! SBOMs: SPDX 2.2/2.3 JSON and CycloneDX 1.4-1.6 JSON. (Being written.)
