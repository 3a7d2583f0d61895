//! Test support: a scratch PKI made with the openssl CLI, an implementation independent of ours.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

/// A scratch PKI made with the openssl CLI.
pub struct Pki {
    /// The directory holding keys and certificates.
    pub dir: tempfile::TempDir,
}

pub const ROOT_EXT: &str =
    "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n";
pub const CA_EXT: &str = "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign\n";
pub const LEAF_EXT: &str =
    "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=codeSigning\n";

impl Pki {
    /// An empty PKI in a temporary directory.
    pub fn new() -> Self {
        Pki {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// Runs openssl in the PKI directory.
    pub fn run(&self, args: &[&str]) {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Issues `name` (signed by `issuer`, or self-signed when None) with extensions `ext`,
    /// key `key` (`ec` for P-256 or `rsa:<bits>`) and digest `md`; returns its DER.
    pub fn issue(
        &self,
        name: &str,
        issuer: Option<&str>,
        ext: &str,
        key: &str,
        md: &str,
    ) -> Vec<u8> {
        std::fs::write(self.dir.path().join(format!("{name}.ext")), ext).unwrap();
        // `ec` (P-256), `ec:P-384`, `ec:P-521`, or `rsa:<bits>`
        let curve = format!(
            "ec_paramgen_curve:{}",
            key.strip_prefix("ec:").unwrap_or("P-256")
        );
        let keyopt: Vec<&str> = if key.starts_with("ec") {
            vec!["-newkey", "ec", "-pkeyopt", &curve]
        } else {
            vec!["-newkey", key]
        };
        let mut req = vec!["req", "-new", "-nodes", "-subj"];
        let subj = format!("/C=US/ST=WA/O=Signet Test/CN={name}");
        req.push(&subj);
        req.extend(&keyopt);
        let (k, csr, crt) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.crt"),
        );
        req.extend(["-keyout", &k, "-out", &csr]);
        self.run(&req);
        let (ca, ca_key) = match issuer {
            Some(i) => (format!("{i}.crt"), format!("{i}.key")),
            None => (crt.clone(), k.clone()),
        };
        let ext_file = format!("{name}.ext");
        let digest = format!("-{md}");
        let mut x509 = vec![
            "x509", "-req", "-in", &csr, "-out", &crt, "-days", "30", "-extfile", &ext_file,
            &digest,
        ];
        if issuer.is_some() {
            x509.extend(["-CA", &ca, "-CAkey", &ca_key, "-CAcreateserial"]);
        } else {
            x509.extend(["-signkey", &k]);
        }
        self.run(&x509);
        let der = format!("{name}.der");
        self.run(&["x509", "-in", &crt, "-outform", "DER", "-out", &der]);
        std::fs::read(self.dir.path().join(der)).unwrap()
    }
}

impl Pki {
    /// Path of a file in the PKI directory.
    pub fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }
}

/// The artifact the flow tests' envelopes are about.
pub fn flow_subject() -> signet_types::Descriptor {
    serde_json::from_value(serde_json::json!({
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": "sha256:b8479de3f88fb259a0a9ea82a5b2a052a1ef3c4ebbcfc61482d5ae4c831f8af9",
        "size": 517
    }))
    .unwrap()
}

/// Python with `cryptography` (the venv of scripts/install-test-deps.sh).
pub fn python() -> std::path::PathBuf {
    let venv = signet_testkit::tools_bin().join("../venv/bin/python");
    if venv.exists() {
        venv
    } else {
        std::path::PathBuf::from("python3")
    }
}

/// Signs stdin with the P-256 key in argv[1]: ECDSA over SHA-256, JWS (r || s) form.
const SIGN_ES256_PY: &str = r#"
import sys
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, utils
from cryptography.hazmat.primitives.serialization import load_pem_private_key
key = load_pem_private_key(open(sys.argv[1], 'rb').read(), None)
assert isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == 'secp256r1'
r, s = utils.decode_dss_signature(key.sign(sys.stdin.buffer.read(), ec.ECDSA(hashes.SHA256())))
sys.stdout.buffer.write(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))
"#;

/// A Notary Project JWS envelope (`notary.x509`, ES256) over [`flow_subject`], signed with the
/// P-256 key at `key` by Python `cryptography` (not by Signet), with `x5c` (DER, leaf first).
/// `countersign` receives the raw signature and may return an RFC 3161 token for the
/// `io.cncf.notary.timestampSignature` header.
pub fn es256_jws(
    key: &std::path::Path,
    x5c: &[Vec<u8>],
    countersign: impl FnOnce(&[u8]) -> Option<Vec<u8>>,
) -> Vec<u8> {
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    use base64::Engine as _;
    use std::io::Write as _;
    use std::process::Stdio;
    let now = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let protected = URL_SAFE_NO_PAD.encode(
        serde_json::to_vec(&serde_json::json!({
            "alg": "ES256",
            "cty": "application/vnd.cncf.notary.payload.v1+json",
            "crit": ["io.cncf.notary.signingScheme"],
            "io.cncf.notary.signingScheme": "notary.x509",
            "io.cncf.notary.signingTime": now,
        }))
        .unwrap(),
    );
    let payload = URL_SAFE_NO_PAD.encode(
        serde_json::to_vec(&serde_json::json!({"targetArtifact": flow_subject()})).unwrap(),
    );
    let input = format!("{protected}.{payload}");
    let mut child = Command::new(python())
        .args(["-c", SIGN_ES256_PY])
        .arg(key)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success() && out.stdout.len() == 64,
        "signing with {}: {}",
        key.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let mut header = serde_json::json!({
        "x5c": x5c.iter().map(|der| STANDARD.encode(der)).collect::<Vec<_>>()
    });
    if let Some(token) = countersign(&out.stdout) {
        header["io.cncf.notary.timestampSignature"] = serde_json::json!(STANDARD.encode(token));
    }
    serde_json::to_vec(&serde_json::json!({
        "payload": payload,
        "protected": protected,
        "header": header,
        "signature": URL_SAFE_NO_PAD.encode(&out.stdout),
    }))
    .unwrap()
}
