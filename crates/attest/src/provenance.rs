//! SLSA provenance v0.2 and v1: conditions on the builder, build type, source repository, ref
//! and commit. (Being written.)
