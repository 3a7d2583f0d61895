//! Ratify's Gatekeeper library templates as a contract on Signet's answers.
//!
//! Signet is meant as a drop-in for Ratify, so a cluster's existing Ratify ConstraintTemplates
//! must decide the same way behind Signet. Ratify's Rego is not copied here: each file of
//! `tests/ratify/` states, in our own words and Rego v1 syntax, the precise condition one
//! Ratify template applies (which fields, which values, where it fails open), with the Ratify
//! file and tag it comes from (see also docs/result-format.md, "Ratify's templates: the
//! contract"). The tests evaluate those conditions with both Rego engines of
//! `tests/support/rego.rs` (regorus and real OPA, which must agree) on REAL answers of the
//! `signet` binary: a provider over the Ratify path, real registries (ferro-oci-server with the
//! referrers API; docker-registry with TLS, auth and the referrers tag schema), the notation
//! vector signature, COSE signatures made here by pycose with an openssl PKI (one of them on
//! another signature, so reports nest), SBOM and SARIF referrers attached by oras, an image with
//! too many referrers and a missing one.
//!
//! For every image and contract the test knows what the template would decide behind Ratify
//! with an equivalent configuration (`intended`). It asserts that Signet's answer makes the
//! template decide exactly that, except at the listed [`MISMATCHES`], where it asserts the
//! opposite and says why. It also checks the shape of every answer field the templates read,
//! and shows on altered real answers why each shape rule matters (the template fails open
//! without it).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::{json, Value};
use signet_testkit::Registry;
use support::rego::{eval_both, external_data_value, pod_review, Query};

const SIG: &str = "application/vnd.cncf.notary.signature";
const SPDX: &str = "application/spdx+json";
const SARIF: &str = "application/sarif+json";
const LAYOUT: &str = "notation/01-oci-e2e-jws/layouts/e2e-valid-signature";
/// The namespace of every Pod here (the multi-tenancy templates put it in the key).
const NAMESPACE: &str = "team-a";
/// Go's `pkix.Name.String()` of the notation vector certificate's issuer (it is self-signed).
const E2E_ISSUER: &str = "CN=e2e,O=Notary,L=Seattle,ST=WA,C=US";
/// ... of the root made here for the COSE signatures (`/C=US/ST=WA/O=Signet Contract/CN=contract root`).
const COSE_ISSUER: &str = "CN=contract root,O=Signet Contract,ST=WA,C=US";
/// ... of the COSE leaf's subject (Ratify's `SN`).
const COSE_SUBJECT: &str = "CN=contract leaf,O=Signet Contract,ST=WA,C=US";
/// `discovery.maxReferrers` of the configuration: the `flood` image has one more.
const MAX_REFERRERS: usize = 3;

fn signet_bin() -> &'static str {
    env!("CARGO_BIN_EXE_signet")
}

// ---------------------------------------------------------------------------------------------
// The contracts

/// One Ratify library template, as its condition in `tests/ratify/<package>.rego`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Contract {
    /// v1 `library/default`: `isSuccess == false` denies, if `timestamp` and `traceID` exist.
    V1Default,
    /// v1 `library/multi-tenancy-validation`: the same, `[namespace]image` keys.
    V1MultiTenancy,
    /// `library/notation-issuer-validation`: a `notation` report whose `extensions.Issuer` is
    /// the parameter.
    NotationIssuer,
    /// `library/notation-nested-validation`: every list of reports, at every depth, has a
    /// verified notation signature with a subject.
    NotationNested,
    /// `library/notation-validation`: a `notation` report with `isSuccess == true`; item errors
    /// are not read.
    NotationValidation,
    /// `library/sbom-validation`: the first `sbom` report passes.
    Sbom,
    /// `library/vulnerability-report-validation`: the newest `vulnerabilityreport` passes.
    VulnerabilityReport,
    /// v2 `library/default`: `succeeded == false` denies.
    V2Default,
    /// v2 `library/multi-tenancy-validation`: the same, `[namespace]image` keys.
    V2MultiTenancy,
}
use Contract::*;

/// In the column order of [`Case::intended`].
const CONTRACTS: [Contract; 9] = [
    V1Default,
    V1MultiTenancy,
    NotationIssuer,
    NotationNested,
    NotationValidation,
    Sbom,
    VulnerabilityReport,
    V2Default,
    V2MultiTenancy,
];

impl Contract {
    fn package(self) -> &'static str {
        match self {
            V1Default => "v1_default",
            V1MultiTenancy => "v1_multi_tenancy",
            NotationIssuer => "notation_issuer",
            NotationNested => "notation_nested",
            NotationValidation => "notation_validation",
            Sbom => "sbom",
            VulnerabilityReport => "vulnerability_report",
            V2Default => "v2_default",
            V2MultiTenancy => "v2_multi_tenancy",
        }
    }

    /// The key the template asks for `image` in [`NAMESPACE`].
    fn key(self, image: &str) -> String {
        match self {
            V1MultiTenancy | V2MultiTenancy => format!("[{NAMESPACE}]{image}"),
            _ => image.to_string(),
        }
    }
}

fn rego_source(file: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/ratify")
        .join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The violations `contract` reports for a Pod in [`NAMESPACE`] whose containers run `images`,
/// when the provider answers `answer` (a ProviderResponse) and the constraint's `issuer`
/// parameter is `issuer`. Evaluated by regorus and by OPA, which must agree; the keys the
/// contract asked must be `asked`. Returns the sorted messages.
fn violations(
    contract: Contract,
    images: &[&str],
    answer: &Value,
    issuer: &str,
    asked: &[String],
) -> Vec<String> {
    let keys = rego_source("keys.rego");
    let file = format!("{}.rego", contract.package());
    let source = rego_source(&file);
    let input = json!({"review": pod_review(NAMESPACE, images), "parameters": {"issuer": issuer}});
    let data = external_data_value(answer);
    let eval = eval_both(Query {
        modules: &[("keys.rego", &keys), (&file, &source)],
        query: &format!("data.ratifycontract.{}.violation", contract.package()),
        input: &input,
        external_data: Some(&data),
    });
    assert_eq!(
        eval.calls,
        vec![asked.to_vec()],
        "{contract:?} asked other keys"
    );
    support::rego::violation_messages(eval.value)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Admit,
    Deny,
}
const A: Verdict = Verdict::Admit;
const D: Verdict = Verdict::Deny;

impl Verdict {
    fn of(violations: &[String]) -> Verdict {
        if violations.is_empty() {
            A
        } else {
            D
        }
    }

    fn flipped(self) -> Verdict {
        match self {
            A => D,
            D => A,
        }
    }
}

/// A ProviderResponse with `items` (for the checks on shaped answers).
fn response(items: Value) -> Value {
    json!({"apiVersion": "externaldata.gatekeeper.sh/v1beta1", "kind": "ProviderResponse",
           "response": {"idempotent": true, "items": items}})
}

/// The verdict of `contract` for a one-container Pod running `image`, the provider answering
/// `value` (or the item error `error`) for the key the contract asks.
fn verdict_on(
    contract: Contract,
    image: &str,
    value: &Value,
    error: &str,
    issuer: &str,
) -> Verdict {
    let key = contract.key(image);
    let mut item = json!({"key": key, "value": value});
    if !error.is_empty() {
        item["error"] = json!(error);
    }
    let answer = response(json!([item]));
    Verdict::of(&violations(contract, &[image], &answer, issuer, &[key]))
}

// ---------------------------------------------------------------------------------------------
// The contracts on shaped answers: each one says what the research note says, on both engines.

fn notation(ok: bool, issuer: Option<&str>) -> Value {
    let mut r = json!({"subject": "reg/app@sha256:aa", "artifactType": SIG, "isSuccess": ok,
                       "type": "notation", "name": "n", "message": if ok { "verified" } else { "untrusted" }});
    if let Some(i) = issuer {
        r["extensions"] = json!({"Issuer": i});
    }
    r
}

fn value(ok: bool, reports: Value) -> Value {
    json!({"isSuccess": ok, "succeeded": ok, "traceID": "t", "timestamp": "2026-01-01T00:00:00Z",
           "verifierReports": reports})
}

#[test]
fn the_contracts_state_the_templates_conditions() {
    let without = |v: &Value, field: &str| {
        let mut v = v.clone();
        v.as_object_mut().unwrap().remove(field);
        v
    };
    // `v` with the member or element at `pointer` set (added when missing) to `new`
    let with = |v: &Value, pointer: &str, new: Value| {
        let mut v = v.clone();
        let (parent, last) = pointer.rsplit_once('/').unwrap();
        match v.pointer_mut(parent).unwrap() {
            Value::Object(m) => {
                m.insert(last.to_string(), new);
            }
            Value::Array(a) => a[last.parse::<usize>().unwrap()] = new,
            other => panic!("{pointer}: {other}"),
        }
        v
    };
    let good = value(true, json!([notation(true, Some("CN=I"))]));
    let bad = value(false, json!([notation(false, None)]));
    let none = value(false, json!([]));
    let two = value(
        true,
        json!([notation(true, Some("CN=O")), notation(false, Some("CN=I"))]),
    );
    let sig = notation(true, None);
    // depth 1 an SBOM, depth 2 a signature on it, depth 3 a failed signature on that one
    let deep = with(
        &sig,
        "/nestedResults",
        json!([{"isSuccess": true, "artifactType": SPDX, "subject": "s",
            "nestedResults": [{"isSuccess": true, "artifactType": SIG, "subject": "s",
                "nestedResults": [notation(false, None)]}]}]),
    );
    let deep_ok = with(
        &deep,
        "/nestedResults/0/nestedResults/0/nestedResults/0",
        sig.clone(),
    );
    let all_ok = with(&deep_ok, "/nestedResults/0/artifactType", json!(SIG));
    let sbom = |ok: bool| json!({"type": "sbom", "isSuccess": ok, "artifactType": SPDX});
    let vuln = |ok: bool, at: &str| json!({"type": "vulnerabilityreport", "isSuccess": ok, "extensions": {"createdAt": at}});
    let (old, new) = ("2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z");
    let undated = json!({"type": "vulnerabilityreport", "isSuccess": true, "extensions": {}});

    let silent_report = without(&two["verifierReports"][1], "message");
    let silent = with(&two, "/verifierReports/1", silent_report);
    #[rustfmt::skip]
    let mut checks: Vec<(Contract, Value, &str, Verdict, &str)> = vec![
        (V1Default, good.clone(), "", A, "a pass"),
        (V1Default, bad.clone(), "", D, "a failure"),
        (V1Default, without(&bad, "timestamp"), "", A, "no timestamp: the deny rule is undefined"),
        (V1Default, without(&bad, "traceID"), "", A, "no traceID: the deny rule is undefined"),
        (V1Default, without(&bad, "isSuccess"), "", A, "no isSuccess"),
        (V1Default, with(&bad, "/isSuccess", json!("false")), "", A, "the string \"false\""),
        (V2Default, good.clone(), "", A, "a pass"),
        (V2Default, bad.clone(), "", D, "a failure"),
        (V2Default, without(&bad, "succeeded"), "", A, "no succeeded"),
        (V2Default, with(&good, "/succeeded", json!(false)), "", D, "isSuccess is not read"),
        (NotationIssuer, good.clone(), "CN=I", A, "a notation report from the issuer"),
        (NotationIssuer, good.clone(), "CN=I ", D, "compared byte for byte"),
        (NotationIssuer, value(true, json!([])), "CN=I", D, "no report"),
        (NotationIssuer, with(&good, "/verifierReports/0/type", json!("cosign")), "CN=I", D, "type"),
        (NotationIssuer, with(&good, "/isSuccess", json!(false)), "CN=I", D, "isSuccess false"),
        (NotationIssuer, two.clone(), "CN=I", D, "a failed report from the issuer"),
        (NotationIssuer, silent, "CN=I", A, "... which needs a message to deny"),
        (NotationValidation, good.clone(), "", A, "a verified notation report"),
        (NotationValidation, with(&good, "/isSuccess", json!(false)), "", A, "isSuccess unread"),
        (NotationValidation, bad.clone(), "", D, "a failed notation report"),
        (NotationValidation, none.clone(), "", D, "no report"),
        (NotationNested, value(true, json!([sig.clone()])), "", A, "a verified signature"),
        (NotationNested, value(true, json!([deep])), "", D, "depth 1 and 3 lack one"),
        (NotationNested, value(true, json!([deep_ok.clone()])), "", D, "depth 1 lacks one"),
        (NotationNested, value(true, json!([all_ok])), "", A, "every level has one"),
        (NotationNested, value(true, json!([with(&sig, "/nestedResults", json!([]))])), "", D, "[]"),
        (NotationNested, value(true, json!([with(&sig, "/nestedResults", Value::Null)])), "", D, "null"),
        (NotationNested, value(true, json!([with(&sig, "/nestedResults", json!({}))])), "", D, "{}"),
        (NotationNested, value(true, json!([without(&sig, "subject")])), "", D, "no subject"),
        (NotationNested, none.clone(), "", D, "no report"),
        (NotationNested, without(&bad, "verifierReports"), "", A, "no verifierReports at all"),
        (Sbom, value(true, json!([sbom(true)])), "", A, "a verified SBOM"),
        (Sbom, value(true, json!([sbom(false), sbom(true)])), "", D, "only the first counts"),
        (Sbom, good.clone(), "", D, "no sbom report"),
        (VulnerabilityReport, value(true, json!([vuln(false, old), vuln(true, new)])), "", A, "newest"),
        (VulnerabilityReport, value(true, json!([vuln(true, old), vuln(false, new)])), "", D, "newest"),
        (VulnerabilityReport, value(true, json!([undated])), "", D, "no createdAt"),
        (VulnerabilityReport, good.clone(), "", D, "no vulnerability report"),
    ];
    // the multi-tenancy templates decide like their default template
    let tenants: Vec<_> = checks
        .iter()
        .filter_map(|(c, v, i, want, why)| match c {
            V1Default => Some((V1MultiTenancy, v.clone(), *i, *want, *why)),
            V2Default => Some((V2MultiTenancy, v.clone(), *i, *want, *why)),
            _ => None,
        })
        .collect();
    checks.extend(tenants);
    for (contract, v, issuer, want, why) in &checks {
        let got = verdict_on(*contract, "reg/app:1", v, "", issuer);
        assert_eq!(got, *want, "{contract:?}: {why}\n{v}");
    }
    // an item error: only notation-validation does not read `errors`
    for c in CONTRACTS {
        let want = if c == NotationValidation { A } else { D };
        assert_eq!(
            verdict_on(c, "reg/app:1", &good, "timeout: slow", "CN=I"),
            want,
            "{c:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Real answers

/// An image, what Signet should make of it, and what each contract would decide behind Ratify
/// with an equivalent configuration.
struct Case {
    /// `<registry>/<repository>`; the image is `<repository>:v1` in that registry.
    name: &'static str,
    image: String,
    /// The `issuer` parameter for notation-issuer: the issuer of the signature that should pass.
    issuer: &'static str,
    /// The top-level isSuccess, or `Err(prefix)`: an item error starting with this code.
    expect: Result<bool, &'static str>,
    /// In the order of [`CONTRACTS`].
    intended: [Verdict; 9],
}

/// `"AA AAA DD AA"` (spaces ignored) as verdicts, in the order of [`CONTRACTS`].
fn verdicts(text: &str) -> [Verdict; 9] {
    let v: Vec<Verdict> = text
        .chars()
        .filter(|c| *c != ' ')
        .map(|c| match c {
            'A' => A,
            'D' => D,
            _ => panic!("{text}"),
        })
        .collect();
    v.try_into().unwrap()
}

/// Where a template decides otherwise behind Signet than behind Ratify: (case, contract, why).
/// The test asserts the flipped verdict here, so a change in Signet that removes a mismatch
/// makes it fail and this list (and docs/result-format.md) must be updated.
const MISMATCHES: &[(&str, Contract, &str)] = &[];

/// An openssl root and ECDSA P-256 code-signing leaf, and COSE_Sign1 Notary Project envelopes
/// made with them by pycose (crates/notation/tests/tools/make_cose.py).
struct Pki {
    dir: PathBuf,
}

impl Pki {
    fn new(dir: &Path) -> Pki {
        std::fs::create_dir_all(dir).unwrap();
        let ext = "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=codeSigning\n";
        std::fs::write(dir.join("leaf.ext"), ext).unwrap();
        // `args` split at spaces, then `-subj subject` when given
        let run = |args: &str, subject: Option<&str>| {
            let mut all: Vec<&str> = args.split(' ').collect();
            if let Some(s) = subject {
                all.extend(["-subj", s]);
            }
            support::openssl(dir, &all);
        };
        let ec = "-nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256";
        run(
            &format!("req -x509 -new {ec} -keyout root.key -out root.pem -days 30 -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign"),
            Some("/C=US/ST=WA/O=Signet Contract/CN=contract root"),
        );
        run(
            &format!("req -new {ec} -keyout leaf.key -out leaf.csr"),
            Some("/C=US/ST=WA/O=Signet Contract/CN=contract leaf"),
        );
        run("x509 -req -in leaf.csr -CA root.pem -CAkey root.key -CAcreateserial -out leaf.pem -days 30 -sha256 -extfile leaf.ext", None);
        run("x509 -in leaf.pem -outform DER -out leaf.der", None);
        run("x509 -in root.pem -outform DER -out root.der", None);
        Pki {
            dir: dir.to_path_buf(),
        }
    }

    fn root_pem(&self) -> PathBuf {
        self.dir.join("root.pem")
    }

    /// A COSE envelope signing `target` (an OCI descriptor: mediaType, digest, size).
    fn sign(&self, target: &Value, name: &str) -> Vec<u8> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let spec = json!({
            "key": self.dir.join("leaf.key"),
            "chain": [self.dir.join("leaf.der"), self.dir.join("root.der")],
            "alg": "ES256", "scheme": "notary.x509", "signing_time": now,
            "payload": json!({"targetArtifact": target}).to_string(), "tag": true
        });
        let spec_path = self.dir.join(format!("{name}.json"));
        let out_path = self.dir.join(format!("{name}.cose"));
        std::fs::write(&spec_path, spec.to_string()).unwrap();
        let bin = signet_testkit::tools_bin();
        let python = bin.parent().unwrap().join("venv/bin/python");
        let script =
            signet_testkit::workspace_root().join("crates/notation/tests/tools/make_cose.py");
        let out = Command::new(python)
            .arg(script)
            .arg(&spec_path)
            .arg(&out_path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "make_cose.py: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::read(out_path).unwrap()
    }
}

/// Attaches referrers with the real oras CLI, from files written in `dir`.
struct Oras<'a> {
    reg: &'a Registry,
    dir: PathBuf,
}

impl Oras<'_> {
    /// Attaches `bytes` as one file of `media_type` to `on` (`repo:tag` or `repo@digest`), with
    /// `artifact_type`; returns the referrer's descriptor (mediaType, digest, size).
    fn attach(&self, on: &str, bytes: &[u8], media_type: &str, artifact_type: &str) -> Value {
        let file = format!("f-{}.bin", sha256_hex(bytes));
        std::fs::write(self.dir.join(&file), bytes).unwrap();
        let subject = self.reg.reference(on);
        let out = self
            .reg
            .oras()
            .current_dir(&self.dir)
            .arg("attach")
            .args(self.reg.oras_flags())
            .args(["--format", "json", "--artifact-type", artifact_type])
            .arg(&subject)
            .arg(format!("{file}:{media_type}"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "oras attach {subject}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let d: Value = serde_json::from_slice(&out.stdout).unwrap();
        json!({"mediaType": d["mediaType"], "digest": d["digest"], "size": d["size"]})
    }

    /// A COSE signature envelope, as notation attaches one.
    fn cose(&self, on: &str, envelope: &[u8]) -> Value {
        self.attach(on, envelope, "application/cose", SIG)
    }

    /// A document whose artifact type is its media type (SBOM, SARIF report).
    fn document(&self, on: &str, doc: &Value, artifact_type: &str) -> Value {
        self.attach(on, doc.to_string().as_bytes(), artifact_type, artifact_type)
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest as _, Sha256};
    hex::encode(Sha256::digest(bytes))
}

fn descriptor(d: &signet_types::Descriptor) -> Value {
    json!({"mediaType": d.media_type, "digest": d.digest.to_string(), "size": d.size})
}

/// The images of the ferro registry: see the cases in the test.
async fn populate_ferro(reg: &Registry, pki: &Pki, dir: &Path) {
    let layout = signet_testkit::vectors_dir().join(LAYOUT);
    for repo in ["valid", "untrusted", "sbom"] {
        reg.push_oci_layout(repo, &layout).await.unwrap();
    }
    let oras = Oras {
        reg,
        dir: dir.join("oras"),
    };
    std::fs::create_dir_all(&oras.dir).unwrap();
    let sample = |repo: &'static str| async move {
        descriptor(&reg.push_sample_image(repo, "v1", repo).await.unwrap())
    };

    // an SPDX SBOM and a SARIF vulnerability report beside the valid signature, each signed
    // (COSE) on its own digest, as Ratify's notaryProjectSignatureRequired wants them
    let spdx = json!({"spdxVersion": "SPDX-2.3", "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT", "name": "sample",
        "documentNamespace": "https://signet.example/spdx/sample", "packages": [],
        "creationInfo": {"created": "2026-01-01T00:00:00Z", "creators": ["Tool: signet-tests"]}});
    let sbom = oras.document("sbom:v1", &spdx, SPDX);
    oras.cose(
        &format!("sbom@{}", sbom["digest"].as_str().unwrap()),
        &pki.sign(&sbom, "sbom-spdx"),
    );
    let sarif = json!({"version": "2.1.0",
        "runs": [{"tool": {"driver": {"name": "trivy"}}, "results": [],
                  "invocations": [{"executionSuccessful": true, "endTimeUtc": "2026-11-30T00:00:00Z"}]}]});
    let report = oras.document("sbom:v1", &sarif, SARIF);
    oras.cose(
        &format!("sbom@{}", report["digest"].as_str().unwrap()),
        &pki.sign(&report, "sbom-sarif"),
    );

    sample("unsigned").await;

    // a COSE signature, and a COSE signature on that signature
    let image = sample("nested").await;
    let s1 = oras.cose("nested:v1", &pki.sign(&image, "nested-s1"));
    let on_s1 = format!("nested@{}", s1["digest"].as_str().unwrap());
    oras.cose(&on_s1, &pki.sign(&s1, "nested-s2"));

    // the same, but the signature on the signature was made for the image, not for it
    let image = sample("nested-bad").await;
    let s1 = oras.cose("nested-bad:v1", &pki.sign(&image, "bad-s1"));
    let on_s1 = format!("nested-bad@{}", s1["digest"].as_str().unwrap());
    oras.cose(&on_s1, &pki.sign(&image, "bad-s2"));

    // a good COSE signature, and the vector's signature (issuer E2E_ISSUER) for another image
    let image = sample("mixed").await;
    oras.cose("mixed:v1", &pki.sign(&image, "mixed-good"));
    oras.attach("mixed:v1", &valid_envelope(), "application/jose+json", SIG);

    // an unsigned image with more referrers than discovery.maxReferrers
    sample("flood").await;
    for i in 0..=MAX_REFERRERS {
        let mut doc = spdx.clone();
        doc["name"] = json!(format!("flood-{i}"));
        oras.document("flood:v1", &doc, SPDX);
    }
}

/// The JWS envelope of the notation vector's valid layout.
fn valid_envelope() -> Vec<u8> {
    let blobs = signet_testkit::vectors_dir()
        .join(LAYOUT)
        .join("blobs/sha256");
    for entry in std::fs::read_dir(blobs).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        if String::from_utf8_lossy(&bytes).contains("\"protected\"") {
            return bytes;
        }
    }
    panic!("no envelope in the valid layout");
}

struct Provider {
    child: Child,
    port: u16,
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn config(
    dir: &Path,
    ferro: &Registry,
    dist: &Registry,
    cose_root: &Path,
    ports: [u16; 3],
) -> PathBuf {
    let scope = |repo: &str| format!("{}/{repo}", ferro.host());
    let truststore = signet_testkit::vectors_dir().join("notation/01-oci-e2e-jws/truststore");
    let policy = json!({
        "version": "1.0",
        "trustPolicies": [
            {"name": "untrusted", "registryScopes": [scope("untrusted")],
             "signatureVerification": {"level": "strict"}, "trustStores": ["ca:new"], "trustedIdentities": ["*"]},
            {"name": "cose", "registryScopes": [scope("nested"), scope("nested-bad"), scope("mixed"), scope("sbom")],
             "signatureVerification": {"level": "strict"}, "trustStores": ["ca:cose", "ca:e2e"], "trustedIdentities": ["*"]},
            {"name": "everything-else", "registryScopes": ["*"],
             "signatureVerification": {"level": "strict"}, "trustStores": ["ca:e2e"], "trustedIdentities": ["*"]}
        ]
    });
    let cfg = json!({
        "server": {"listen": format!("127.0.0.1:{}", ports[0]), "healthListen": format!("127.0.0.1:{}", ports[1]),
                   "metricsListen": format!("127.0.0.1:{}", ports[2]), "plainHTTP": true, "requestDeadline": "5s"},
        "registry": {"hosts": support::registry_hosts(&[ferro, dist])},
        "discovery": {"maxReferrers": MAX_REFERRERS},
        "verifiers": [{
            // name and type differ, so the test sees which one lands in `type`
            "name": "notary-prod", "type": "notation", "artifactTypes": [SIG],
            "trustStores": {"ca": {
                "e2e": [truststore.join("e2e.crt")],
                "new": [truststore.join("new_e2e.crt")],
                "cose": [cose_root]
            }},
            "trustPolicyDoc": policy
        }, {
            // Ratify's sbom and vulnerabilityreport verifiers on plain documents; their
            // signatures are the notation verifier's (nested referrers)
            "name": "sbom", "type": "sbom", "artifactTypes": [SPDX],
            "disallowedLicenses": ["GPL-3.0-only"]
        }, {
            "name": "vulnerabilityreport", "type": "vulnerabilityreport", "artifactTypes": [SARIF],
            "disallowedSeverities": ["critical", "high"]
        }],
        "policy": {"artifactTypes": {SIG: "any"}}
    });
    let path = dir.join("signet.yaml");
    std::fs::write(&path, serde_yaml_ng::to_string(&cfg).unwrap()).unwrap();
    path
}

/// Signet's ProviderResponse to `keys` on Ratify's path.
async fn ask(port: u16, keys: &[String]) -> Value {
    let body = json!({"apiVersion": "externaldata.gatekeeper.sh/v1beta1", "kind": "ProviderRequest",
                      "request": {"keys": keys}});
    let resp = reqwest::Client::new()
        .post(format!(
            "http://127.0.0.1:{port}/ratify/gatekeeper/v1/verify"
        ))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

fn non_empty_str<'a>(v: &'a Value, field: &str, at: &str) -> &'a str {
    match v[field].as_str() {
        Some(s) if !s.is_empty() => s,
        _ => panic!("{at}: `{field}` must be a non-empty string: {v}"),
    }
}

/// The shape rules the templates rely on, for one result value and its reports at every depth.
fn check_shape(key: &str, v: &Value) {
    assert_eq!(v["version"], "0.2.0", "{key}: {v}");
    let ok = v["isSuccess"]
        .as_bool()
        .unwrap_or_else(|| panic!("{key}: isSuccess must be a boolean: {v}"));
    assert_eq!(
        v["succeeded"].as_bool(),
        Some(ok),
        "{key}: succeeded must be the boolean isSuccess: {v}"
    );
    non_empty_str(v, "traceID", key);
    let ts = non_empty_str(v, "timestamp", key);
    assert!(
        ts.contains('T') && ts.ends_with('Z'),
        "{key}: timestamp {ts}"
    );
    assert!(
        v["verifierReports"].is_array(),
        "{key}: verifierReports must always be there (notation-nested admits without it): {v}"
    );
    if !ok {
        non_empty_str(v, "errorReason", key);
        non_empty_str(v, "message", key);
    }
    fn report(key: &str, r: &Value, depth: usize) {
        let at = format!("{key} (report at depth {depth})");
        assert!(r["isSuccess"].is_boolean(), "{at}: isSuccess: {r}");
        assert!(
            r.get("succeeded").is_none(),
            "{at}: reports carry no succeeded: {r}"
        );
        assert_eq!(
            r["type"], r["verifierType"],
            "{at}: type duplicates verifierType: {r}"
        );
        assert_eq!(
            r["name"], r["verifierName"],
            "{at}: name duplicates verifierName: {r}"
        );
        non_empty_str(r, "type", &at);
        non_empty_str(r, "name", &at);
        non_empty_str(r, "subject", &at);
        non_empty_str(r, "artifactType", &at);
        assert!(non_empty_str(r, "referenceDigest", &at).starts_with("sha256:"));
        if r["isSuccess"] == false {
            // notation-issuer's failure rule quotes it and is undefined without it
            non_empty_str(r, "message", &at);
        }
        if let Some(e) = r.get("extensions") {
            assert!(e.is_object(), "{at}: extensions: {r}");
        }
        if r["type"] == "notation" && r["isSuccess"] == true {
            non_empty_str(&r["extensions"], "Issuer", &at);
            non_empty_str(&r["extensions"], "SN", &at);
        }
        if let Some(n) = r.get("nestedResults") {
            let n = n
                .as_array()
                .unwrap_or_else(|| panic!("{at}: nestedResults must be an array: {r}"));
            assert!(
                !n.is_empty(),
                "{at}: an empty nestedResults must be left out (notation-nested denies on it): {r}"
            );
            for child in n {
                report(key, child, depth + 1);
            }
        }
    }
    for r in v["verifierReports"].as_array().unwrap() {
        report(key, r, 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ratify_templates_decide_behind_signet_as_behind_ratify() {
    let ferro = Registry::start_ferro().await.expect("ferro starts");
    let dist = Registry::start_distribution()
        .await
        .expect("docker-registry starts");
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(&dir.path().join("pki"));
    populate_ferro(&ferro, &pki, dir.path()).await;
    let layout = signet_testkit::vectors_dir().join(LAYOUT);
    dist.push_oci_layout("valid", &layout)
        .await
        .expect("push layout");
    dist.push_sample_image("unsigned", "v1", "unsigned")
        .await
        .unwrap();

    let ports = [
        signet_testkit::free_port(),
        signet_testkit::free_port(),
        signet_testkit::free_port(),
    ];
    let cfg = config(dir.path(), &ferro, &dist, &pki.root_pem(), ports);
    let child = Command::new(signet_bin())
        .args(["--log", "warn", "serve", "--config"])
        .arg(&cfg)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let provider = Provider {
        child,
        port: ports[0],
    };
    support::wait_ready(ports[1]).await;

    // What each template would decide behind Ratify, in the order of CONTRACTS:
    // v1 default, v1 multi-tenancy | notation-issuer, notation-nested, notation-validation |
    // sbom, vulnerability-report | v2 default, v2 multi-tenancy
    #[rustfmt::skip]
    let table: [(&str, &str, Result<bool, &str>, &str); 12] = [
        ("ferro/valid", E2E_ISSUER, Ok(true), "AA AAA DD AA"),
        ("dist/valid", E2E_ISSUER, Ok(true), "AA AAA DD AA"),
        ("ferro/untrusted", E2E_ISSUER, Ok(false), "DD DDD DD DD"),
        ("ferro/unsigned", E2E_ISSUER, Ok(false), "DD DDD DD DD"),
        ("dist/unsigned", E2E_ISSUER, Ok(false), "DD DDD DD DD"),
        // behind Ratify with sbom and vulnerabilityreport verifiers, both referrers pass
        ("ferro/sbom", E2E_ISSUER, Ok(true), "AA AAA AA AA"),
        ("ferro/nested", COSE_ISSUER, Ok(true), "AA AAA DD AA"),
        ("ferro/nested-bad", COSE_ISSUER, Ok(false), "DD DDD DD DD"),
        ("ferro/mixed", COSE_ISSUER, Ok(true), "AA AAA DD AA"),
        // a verdict, not an item error: templates that ignore `errors` still deny it
        ("ferro/flood", E2E_ISSUER, Ok(false), "DD DDD DD DD"),
        // an image that does not exist is an item error behind Ratify too (VerifySubject
        // fails), which notation-validation does not read
        ("ferro/missing", E2E_ISSUER, Err("registry_not_found:"), "DD DDA DD DD"),
        ("dist/missing", E2E_ISSUER, Err("registry_not_found:"), "DD DDA DD DD"),
    ];
    let cases: Vec<Case> = table
        .into_iter()
        .map(|(name, issuer, expect, intended)| {
            let (reg, repo) = name.split_once('/').unwrap();
            let reg = if reg == "ferro" { &ferro } else { &dist };
            Case {
                name,
                image: reg.reference(&format!("{repo}:v1")),
                issuer,
                expect,
                intended: verdicts(intended),
            }
        })
        .collect();

    // Signet's answers, one request per key as the templates ask, plain and [namespace] keys
    let schema_text =
        std::fs::read_to_string(signet_testkit::workspace_root().join("docs/result-schema.json"))
            .unwrap();
    let schema = jsonschema::validator_for(&serde_json::from_str(&schema_text).unwrap()).unwrap();
    let mut answers: BTreeMap<String, Value> = BTreeMap::new();
    for case in &cases {
        for key in [case.image.clone(), format!("[{NAMESPACE}]{}", case.image)] {
            let answer = ask(provider.port, std::slice::from_ref(&key)).await;
            assert!(answer["response"].get("systemError").is_none(), "{answer}");
            let items = answer["response"]["items"].as_array().unwrap();
            assert_eq!(items.len(), 1, "{answer}");
            let item = &items[0];
            assert_eq!(item["key"], json!(key), "keys come back as sent");
            let value = &item["value"];
            assert!(schema.is_valid(value), "{key}: {value}");
            check_shape(&key, value);
            let error = item["error"].as_str().unwrap_or("");
            match case.expect {
                Ok(ok) => {
                    assert_eq!(error, "", "{}: no item error: {item}", case.name);
                    assert_eq!(value["isSuccess"], json!(ok), "{}: {value}", case.name);
                }
                Err(prefix) => assert!(error.starts_with(prefix), "{}: {item}", case.name),
            }
            answers.insert(key, answer);
        }
    }
    let value_of = |image: &str| answers[image]["response"]["items"][0]["value"].clone();

    // Signet's answers in detail, where the templates read them
    let v = value_of(&ferro.reference("valid:v1"));
    let r = &v["verifierReports"][0];
    assert_eq!(
        (r["type"].as_str(), r["name"].as_str()),
        (Some("notation"), Some("notary-prod")),
        "{v}"
    );
    assert_eq!(r["artifactType"], SIG);
    assert_eq!(
        r["extensions"]["Issuer"], E2E_ISSUER,
        "Go's pkix.Name.String() form: {v}"
    );
    assert_eq!(r["extensions"]["SN"], E2E_ISSUER, "self-signed: {v}");
    assert!(
        r.get("nestedResults").is_none(),
        "a signature without referrers has no nestedResults: {v}"
    );
    let v = value_of(&ferro.reference("nested:v1"));
    let reports = v["verifierReports"].as_array().unwrap();
    assert_eq!(reports.len(), 1, "{v}");
    assert_eq!(reports[0]["extensions"]["Issuer"], COSE_ISSUER, "{v}");
    assert_eq!(reports[0]["extensions"]["SN"], COSE_SUBJECT, "{v}");
    let nested = reports[0]["nestedResults"]
        .as_array()
        .expect("the signature on the signature");
    assert_eq!(nested.len(), 1, "{v}");
    assert_eq!(
        (
            nested[0]["isSuccess"].as_bool(),
            nested[0]["artifactType"].as_str()
        ),
        (Some(true), Some(SIG)),
        "{v}"
    );
    let nested_subject = nested[0]["subject"].as_str().unwrap();
    assert!(
        nested_subject.contains("/nested@")
            && nested_subject.ends_with(reports[0]["referenceDigest"].as_str().unwrap()),
        "a nested report's subject is the signature it is attached to: {v}"
    );
    let v = value_of(&ferro.reference("nested-bad:v1"));
    let parent = &v["verifierReports"][0];
    assert_eq!(
        parent["isSuccess"], false,
        "a report whose nested signature failed is failed, as Ratify reports it: {v}"
    );
    assert_eq!(parent["errorReason"], "SUBJECT_MISMATCH", "{v}");
    assert_eq!(parent["nestedResults"][0]["isSuccess"], false, "{v}");
    assert_eq!(v["errorReason"], "SUBJECT_MISMATCH", "{v}");
    // Signet writes the signer's Issuer on a failed notation report too (Ratify only on
    // success): notation-issuer's "no report from the issuer" rule is then met by the failed
    // report, and its "failed report from the issuer" rule denies instead (checked below).
    let v = value_of(&ferro.reference("untrusted:v1"));
    assert_eq!(v["verifierReports"][0]["isSuccess"], false, "{v}");
    assert_eq!(
        v["verifierReports"][0]["extensions"]["Issuer"], E2E_ISSUER,
        "{v}"
    );
    // The SBOM and the report are judged by Signet's sbom and vulnerabilityreport verifiers,
    // each with the verified signature on it nested, under the types Ratify's templates read
    let v = value_of(&ferro.reference("sbom:v1"));
    assert!(v.get("unverifiedReferrers").is_none(), "{v}");
    for (ty, at) in [("sbom", SPDX), ("vulnerabilityreport", SARIF)] {
        let r = v["verifierReports"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["type"] == ty)
            .unwrap_or_else(|| panic!("no {ty} report: {v}"));
        assert_eq!(
            (r["isSuccess"].as_bool(), r["artifactType"].as_str()),
            (Some(true), Some(at)),
            "{v}"
        );
        let n = &r["nestedResults"][0];
        assert_eq!(
            (n["type"].as_str(), n["isSuccess"].as_bool()),
            (Some("notation"), Some(true)),
            "{v}"
        );
    }
    let report = v["verifierReports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["type"] == "vulnerabilityreport")
        .unwrap();
    // oras writes org.opencontainers.image.created on the manifest, Ratify's default
    // createdAnnotationName: it wins over the document's own time
    assert_eq!(report["facts"]["createdAtSource"], "annotation", "{v}");
    assert_ne!(
        report["extensions"]["createdAt"], "2026-11-30T00:00:00Z",
        "{v}"
    );
    assert!(report["extensions"]["createdAt"].is_string(), "{v}");

    // Every contract on every image: what it would decide behind Ratify, or, at a listed
    // mismatch, the opposite.
    let mut wrong = Vec::new();
    let mut seen_mismatches = Vec::new();
    for case in &cases {
        for (i, contract) in CONTRACTS.into_iter().enumerate() {
            let key = contract.key(&case.image);
            let got = Verdict::of(&violations(
                contract,
                &[&case.image],
                &answers[&key],
                case.issuer,
                std::slice::from_ref(&key),
            ));
            let mismatch = MISMATCHES
                .iter()
                .find(|(n, c, _)| *n == case.name && *c == contract);
            let want = match mismatch {
                Some(_) => {
                    seen_mismatches.push((case.name, contract));
                    case.intended[i].flipped()
                }
                None => case.intended[i],
            };
            if got != want {
                wrong.push(format!(
                    "{} / {contract:?}: {got:?}, expected {want:?}{}",
                    case.name,
                    if mismatch.is_some() {
                        " (a listed mismatch)"
                    } else {
                        ""
                    }
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert_eq!(
        seen_mismatches.len(),
        MISMATCHES.len(),
        "every listed mismatch is checked"
    );

    // notation-issuer compares byte for byte with Go's form: other spellings of the same name,
    // and the issuer of a signature that failed, do not admit
    let valid = ferro.reference("valid:v1");
    let mixed = ferro.reference("mixed:v1");
    for (image, issuer, want) in [
        (&valid, E2E_ISSUER, A),
        (&valid, "C=US, ST=WA, L=Seattle, O=Notary, CN=e2e", D),
        (&valid, "CN=e2e, O=Notary, L=Seattle, ST=WA, C=US", D),
        (&valid, COSE_ISSUER, D),
        (&mixed, COSE_ISSUER, A),
        (&mixed, E2E_ISSUER, D),
    ] {
        let msgs = violations(
            NotationIssuer,
            &[image],
            &answers[image],
            issuer,
            std::slice::from_ref(image),
        );
        assert_eq!(
            Verdict::of(&msgs),
            want,
            "notation-issuer on {image} with {issuer:?}: {msgs:?}"
        );
        if image == &mixed && issuer == E2E_ISSUER {
            // Ratify denies this by "no report from the issuer" (its failed report has no
            // Issuer); behind Signet the failed report names the issuer, and the rule on a
            // failed report from the issuer denies
            assert_eq!(msgs.len(), 1, "{msgs:?}");
            assert!(msgs[0].contains("failed: integrity failed"), "{msgs:?}");
        }
    }

    // Why the shape rules matter: each alteration of a real failing answer below makes a
    // template admit the unsigned image, or deny the valid one.
    let unsigned = ferro.reference("unsigned:v1");
    let unsigned_value = value_of(&unsigned);
    let valid_value = value_of(&valid);
    let without = |v: &Value, field: &str| {
        let mut v = v.clone();
        v.as_object_mut().unwrap().remove(field);
        v
    };
    let mut empty_nested = valid_value.clone();
    empty_nested["verifierReports"][0]["nestedResults"] = json!([]);
    #[rustfmt::skip]
    let alterations = [
        (V2Default, &unsigned, &unsigned_value, without(&unsigned_value, "succeeded"), A,
            "without succeeded (what Signet sent before it wrote succeeded)"),
        (V2MultiTenancy, &unsigned, &unsigned_value, without(&unsigned_value, "succeeded"), A,
            "without succeeded"),
        (V1Default, &unsigned, &unsigned_value, without(&unsigned_value, "traceID"), A,
            "without traceID"),
        (V1Default, &unsigned, &unsigned_value, without(&unsigned_value, "timestamp"), A,
            "without timestamp"),
        (V1MultiTenancy, &unsigned, &unsigned_value, without(&unsigned_value, "traceID"), A,
            "without traceID"),
        (NotationNested, &unsigned, &unsigned_value, without(&unsigned_value, "verifierReports"), A,
            "without verifierReports"),
        (NotationNested, &valid, &valid_value, empty_nested, D, "with an empty nestedResults"),
    ];
    for (contract, image, real, altered, want, why) in alterations {
        let on_real = verdict_on(contract, image, real, "", E2E_ISSUER);
        assert_eq!(
            on_real,
            want.flipped(),
            "{contract:?} on Signet's answer for {image}"
        );
        let on_altered = verdict_on(contract, image, &altered, "", E2E_ISSUER);
        assert_eq!(on_altered, want, "{contract:?} on that answer {why}");
    }
    drop(provider);
}
