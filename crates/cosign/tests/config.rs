//! The `cosign` verifier's configuration: what loads, and the path and sentence of every
//! rejection.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use signet_cosign::CosignFactory;
use signet_verify::VerifierFactory;

const SIG: &str = "application/vnd.dev.cosign.artifact.sig.v1+json";
const BUNDLE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";

fn vectors() -> std::path::PathBuf {
    signet_testkit::vectors_dir()
}

fn build(yaml: &str) -> Result<(), Vec<String>> {
    build_in(yaml, &vectors())
}

fn build_in(yaml: &str, base: &Path) -> Result<(), Vec<String>> {
    let map: serde_yaml_ng::Mapping = serde_yaml_ng::from_str(yaml).unwrap();
    CosignFactory
        .build("cosign", &[SIG.to_string(), BUNDLE.to_string()], &map, base)
        .map(|_| ())
        .map_err(|es| es.into_iter().map(|e| e.to_string()).collect())
}

const ROOT: &str = "cosign/01-cosign-v3-image-signature-bundle/trusted_root.json";
const KEY_A: &str = "cosign/03-legacy-sig-keyed/a-no-tlog/cosign.pub";
const KEY_B: &str = "cosign/03-legacy-sig-keyed/b-with-rekor-bundle/cosign.pub";

#[test]
fn a_complete_configuration_loads() {
    let inline = std::fs::read_to_string(vectors().join(KEY_B)).unwrap();
    let yaml = format!(
        r#"
trustedRootFile: {ROOT}
trustPolicies:
  - name: keys
    scopes: ["ghcr.io/acme/*", "docker.io/library/nginx"]
    keys:
      - file: {KEY_A}
      - pem: |
{}
    tLogVerify: false
  - name: keyless
    scopes: ["ghcr.io/kubewarden/*"]
    keyless:
      certificateIdentityRegExp: https://github\.com/kubewarden/.*
      certificateOIDCIssuer: https://token.actions.githubusercontent.com
  - name: rest
    scopes: ["*"]
    keys:
      - file: {KEY_B}
"#,
        inline
            .lines()
            .map(|l| format!("          {l}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    build(&yaml).unwrap();
}

fn errors(yaml: &str) -> String {
    build(yaml).unwrap_err().join("\n")
}

#[test]
fn every_mistake_is_named_with_its_path() {
    let cases: &[(&str, &str)] = &[
        ("trustPolicies: []", "trustPolicies: at least one trust policy is required"),
        ("bogus: 1\ntrustPolicies: []", "unknown field `bogus`"),
        (
            "trustPolicies: [{name: a, scopes: ['*'], keys: [{file: nope.pub}], tLogVerify: false}]",
            "trustPolicies[0].keys[0]: nope.pub: No such file",
        ),
        (
            "trustPolicies: [{name: a, scopes: ['*'], keys: [{pem: 'garbage'}], tLogVerify: false}]",
            "trustPolicies[0].keys[0]: expected exactly one PEM",
        ),
        (
            "trustPolicies: [{name: a, scopes: ['*'], keys: [{file: cosign/01-cosign-v3-image-signature-bundle/trusted_root.json}], tLogVerify: false}]",
            "trustPolicies[0].keys[0]",
        ),
        (
            "trustPolicies: [{name: a, scopes: ['*'], keys: [{}], tLogVerify: false}]",
            "trustPolicies[0].keys[0]: give exactly one of file and pem",
        ),
        (
            "trustPolicies: [{name: a, scopes: ['*'], keys: [{provider: kmp}], tLogVerify: false}]",
            "unknown field `provider`",
        ),
        (
            "trustPolicies: [{name: a, scopes: ['*']}]",
            "trustPolicies[0]: a policy needs keys or keyless",
        ),
        (
            "trustPolicies: [{name: a, scopes: ['*'], keys: [{file: cosign/03-legacy-sig-keyed/a-no-tlog/cosign.pub}]}]",
            "trustPolicies[0]: tLogVerify (the default) needs a Sigstore trusted root",
        ),
        (
            "trustPolicies: [{name: a, scopes: ['*'], keyless: {certificateIdentity: x, certificateOIDCIssuer: y}}]",
            "trustPolicies[0]: keyless verification needs a Sigstore trusted root",
        ),
        (
            "trustedRootFile: cosign/01-cosign-v3-image-signature-bundle/trusted_root.json\ntrustPolicies: [{name: a, scopes: ['*'], keyless: {certificateOIDCIssuer: y}}]",
            "trustPolicies[0].keyless: keyless verification needs certificateIdentity or certificateIdentityRegExp",
        ),
        (
            "trustedRootFile: cosign/01-cosign-v3-image-signature-bundle/trusted_root.json\ntrustPolicies: [{name: a, scopes: ['*'], keyless: {certificateIdentity: x, certificateIdentityRegExp: y, certificateOIDCIssuer: z}}]",
            "trustPolicies[0].keyless.certificateIdentityRegExp: give certificateIdentity or certificateIdentityRegExp, not both",
        ),
        (
            "trustedRootFile: cosign/01-cosign-v3-image-signature-bundle/trusted_root.json\ntrustPolicies: [{name: a, scopes: ['*'], keyless: {certificateIdentityRegExp: '(', certificateOIDCIssuer: z}}]",
            "trustPolicies[0].keyless.certificateIdentityRegExp: invalid regular expression",
        ),
        (
            "trustedRootFile: cosign/03-legacy-sig-keyed/a-no-tlog/cosign.pub\ntrustPolicies: [{name: a, scopes: ['*'], keys: [{file: cosign/03-legacy-sig-keyed/a-no-tlog/cosign.pub}]}]",
            "trustedRootFile: cosign/03-legacy-sig-keyed/a-no-tlog/cosign.pub: not a Sigstore trusted root",
        ),
        (
            "trustPolicies: [{name: a, scopes: ['ghcr.io/*/x'], keys: [{file: cosign/03-legacy-sig-keyed/a-no-tlog/cosign.pub}], tLogVerify: false}]",
            "trustPolicies[0].scopes[0]: scope \"ghcr.io/*/x\": '*' may only stand alone or end a scope",
        ),
        (
            "trustPolicies: [{name: a, scopes: ['*'], keys: [{file: cosign/03-legacy-sig-keyed/a-no-tlog/cosign.pub}], tLogVerify: false}, {name: b, scopes: ['*'], keys: [{file: cosign/03-legacy-sig-keyed/a-no-tlog/cosign.pub}], tLogVerify: false}]",
            "trustPolicies[1].scopes[0]: scope \"*\" is already used by policy \"a\"",
        ),
        (
            "trustPolicies: [{name: a, scopes: ['*'], keys: [{file: cosign/03-legacy-sig-keyed/a-no-tlog/cosign.pub}], tLogVerify: false}, {name: a, scopes: ['x/y'], keys: [{file: cosign/03-legacy-sig-keyed/a-no-tlog/cosign.pub}], tLogVerify: false}]",
            "trustPolicies[1].name: policy name \"a\" is used twice",
        ),
        (
            "maxSignatureBytes: 0\ntrustPolicies: [{name: a, scopes: ['*'], keys: [{file: cosign/03-legacy-sig-keyed/a-no-tlog/cosign.pub}], tLogVerify: false}]",
            "maxSignatureBytes: must be between",
        ),
    ];
    for (yaml, want) in cases {
        let got = errors(yaml);
        assert!(
            got.contains(want),
            "config:\n{yaml}\nwant: {want}\ngot: {got}"
        );
    }
}

#[test]
fn private_keys_and_certificates_are_not_public_keys() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = std::process::Command::new("openssl")
            .args(args)
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&[
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-out",
        "k.pem",
    ]);
    run(&[
        "genpkey",
        "-algorithm",
        "RSA",
        "-pkeyopt",
        "rsa_keygen_bits:1024",
        "-out",
        "small.pem",
    ]);
    run(&["pkey", "-in", "small.pem", "-pubout", "-out", "small.pub"]);
    let e = build_in(
        "trustPolicies: [{name: a, scopes: ['*'], keys: [{file: k.pem}, {file: small.pub}], tLogVerify: false}]",
        dir.path(),
    )
    .unwrap_err()
    .join("\n");
    assert!(
        e.contains("keys[0]: k.pem: not a PEM \"PUBLIC KEY\""),
        "{e}"
    );
    assert!(e.contains("keys[1]: small.pub: unusable public key"), "{e}");
}

#[test]
fn every_supported_key_type_loads() {
    let dir = tempfile::tempdir().unwrap();
    let mut entries = Vec::new();
    for (i, args) in [
        vec!["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
        vec!["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"],
        vec!["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:3072"],
        vec!["-algorithm", "ED25519"],
    ]
    .into_iter()
    .enumerate()
    {
        let key = format!("k{i}.pem");
        let public = format!("k{i}.pub");
        let mut gen = vec!["genpkey"];
        gen.extend(args);
        gen.extend(["-out", &key]);
        for a in [gen, vec!["pkey", "-in", &key, "-pubout", "-out", &public]] {
            let out = std::process::Command::new("openssl")
                .args(&a)
                .current_dir(dir.path())
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        entries.push(format!("{{file: {public}}}"));
    }
    build_in(
        &format!(
            "trustPolicies: [{{name: a, scopes: ['*'], keys: [{}], tLogVerify: false}}]",
            entries.join(", ")
        ),
        dir.path(),
    )
    .unwrap();
}
