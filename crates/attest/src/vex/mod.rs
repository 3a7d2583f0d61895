//! VEX: OpenVEX and CycloneDX VEX statements. (Being written.)
