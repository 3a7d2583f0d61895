//! Vulnerability reports: SARIF 2.1.0, Trivy JSON, cosign's `vuln` predicate. (Being written.)
