//! Legacy keyless `.sig` signatures made by the real cosign CLI: `cosign sign --cert --cert-chain
//! --timestamp-server-url` writes the certificate, chain and RFC 3161 timestamp annotations of a
//! keyless signature. The certificate is Fulcio-shaped (code signing, SAN URI, the OIDC issuer
//! extension 1.3.6.1.4.1.57264.1.8) and issued by a private CA under an intermediate with openssl;
//! the TSA is `openssl ts` behind a small HTTP listener on 127.0.0.1; the `trusted_root.json`
//! lists the CA and the TSA. No transparency log and no CT log exist here, so the policies set
//! `tLogVerify: false` and `ctLogVerify: false`: what is exercised is the repacking of the
//! annotations into a bundle, the chain, the timestamp, identity and issuer, and the payload.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use signet_cosign::check::{self, Verification};
use signet_cosign::identity::Matcher;
use signet_cosign::legacy::{self, SimpleSignature};
use signet_cosign::policy::{Signers, TrustPolicy};
use signet_cosign::root::Root;
use signet_testkit::{cosign_generate_key_pair, Registry};
use signet_types::{ImageManifest, ReasonCode};

const IDENTITY: &str = "https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1.0.0";
const ISSUER: &str = "https://token.actions.githubusercontent.com";
const TSA_CNF: &str = "[ tsa ]\ndefault_tsa = t\n[ t ]\ndir = .\nserial = tsaserial\ncrypto_device = builtin\nsigner_cert = tsa.crt\ncerts = tsaroot.crt\nsigner_key = tsa.key\nsigner_digest = sha256\ndefault_policy = 1.2.3.4.1\ndigests = sha256, sha384, sha512\naccuracy = secs:1\nordering = yes\ntsa_name = no\ness_cert_id_chain = no\ness_cert_id_alg = sha256\n";

fn run(dir: &Path, program: &str, args: &[&str]) {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{program} {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn openssl(dir: &Path, args: &[&str]) {
    run(dir, "openssl", args);
}

/// A self-signed CA `name` (P-256).
fn ca(dir: &Path, name: &str) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.crt"),
            "-subj",
            &format!("/O=Signet Test/CN={name}"),
            "-days",
            "2",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
}

/// A certificate `name` issued by `issuer` with extensions `ext`; its key is `pubkey` if given
/// (openssl's -force_pubkey), else a fresh P-256 key `name.key`.
fn issue(dir: &Path, name: &str, issuer: &str, ext: &str, pubkey: Option<&str>) {
    std::fs::write(dir.join(format!("{name}.ext")), ext).unwrap();
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.csr"),
            "-subj",
            &format!("/O=Signet Test/CN={name}"),
        ],
    );
    let mut args = vec![
        "x509".to_string(),
        "-req".into(),
        "-in".into(),
        format!("{name}.csr"),
        "-CA".into(),
        format!("{issuer}.crt"),
        "-CAkey".into(),
        format!("{issuer}.key"),
        "-set_serial".into(),
        format!("{}", 1000 + name.len()),
        "-days".into(),
        "1".into(),
        "-extfile".into(),
        format!("{name}.ext"),
        "-out".into(),
        format!("{name}.crt"),
    ];
    if let Some(k) = pubkey {
        args.push("-force_pubkey".into());
        args.push(k.into());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    openssl(dir, &args);
}

fn der_b64(dir: &Path, name: &str) -> String {
    let out = Command::new("openssl")
        .args(["x509", "-in", &format!("{name}.crt"), "-outform", "DER"])
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(out.status.success());
    B64.encode(out.stdout)
}

/// An `openssl ts` TSA answering RFC 3161 requests over HTTP on 127.0.0.1 until dropped.
struct TsaServer {
    url: String,
    stop: Arc<AtomicBool>,
    port: u16,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TsaServer {
    fn start(dir: PathBuf) -> TsaServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if flag.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(mut stream) = stream else { continue };
                let _ = answer(&dir, &mut stream);
            }
        });
        TsaServer {
            url: format!("http://127.0.0.1:{port}/api/v1/timestamp"),
            stop,
            port,
            thread: Some(thread),
        }
    }
}

impl Drop for TsaServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = std::net::TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn answer(dir: &Path, stream: &mut std::net::TcpStream) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let header_end = loop {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..header_end]).to_ascii_lowercase();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while buf.len() < header_end + len {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    std::fs::write(dir.join("q.tsq"), &buf[header_end..]).unwrap();
    let out = Command::new("openssl")
        .args([
            "ts",
            "-reply",
            "-queryfile",
            "q.tsq",
            "-config",
            "tsa.cnf",
            "-out",
            "r.tsr",
        ])
        .current_dir(dir)
        .output()?;
    let body = if out.status.success() {
        std::fs::read(dir.join("r.tsr"))?
    } else {
        Vec::new()
    };
    let status = if body.is_empty() {
        "500 Internal Server Error"
    } else {
        "200 OK"
    };
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: application/timestamp-reply\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    stream.write_all(&body)?;
    stream.flush()
}

/// Everything one run makes: the PKI, the TSA, a registry with a keyless-signed image.
struct World {
    dir: tempfile::TempDir,
    signature: SimpleSignature,
    digest: String,
    _tsa: TsaServer,
    _registry: Registry,
}

async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // The signing key comes from cosign (cosign 2.5 cannot import ECDSA keys); the certificate
    // for it is issued by openssl with -force_pubkey.
    let (cosign_key, cosign_pub) = cosign_generate_key_pair(d);
    ca(d, "root");
    ca(d, "unrelated");
    issue(
        d,
        "intermediate",
        "root",
        // Like Fulcio's intermediate: webpki requires the code-signing usage all along the path.
        "basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\nextendedKeyUsage=codeSigning\n",
        None,
    );
    issue(
        d,
        "leaf",
        "intermediate",
        &format!(
            "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=codeSigning\nsubjectAltName=critical,URI:{IDENTITY}\n1.3.6.1.4.1.57264.1.8=ASN1:UTF8String:{ISSUER}\n"
        ),
        Some(cosign_pub.to_str().unwrap()),
    );
    let chain = format!(
        "{}{}",
        std::fs::read_to_string(d.join("intermediate.crt")).unwrap(),
        std::fs::read_to_string(d.join("root.crt")).unwrap()
    );
    std::fs::write(d.join("chain.pem"), chain).unwrap();
    // The TSA: its own root, a timestamping certificate, and its HTTP front.
    ca(d, "tsaroot");
    issue(
        d,
        "tsa",
        "tsaroot",
        "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=critical,timeStamping\n",
        None,
    );
    std::fs::write(d.join("tsa.cnf"), TSA_CNF).unwrap();
    std::fs::write(d.join("tsaserial"), "01\n").unwrap();
    let tsa = TsaServer::start(d.to_path_buf());

    let reg = Registry::start_ferro().await.unwrap();
    let image = reg
        .push_sample_image("app", "v1", "keyless legacy")
        .await
        .unwrap();
    let out = reg
        .cosign()
        .arg("sign")
        .args(reg.cosign_flags())
        .arg("--key")
        .arg(&cosign_key)
        .arg("--cert")
        .arg(d.join("leaf.crt"))
        .arg("--cert-chain")
        .arg(d.join("chain.pem"))
        .args(["--tlog-upload=false", "--timestamp-server-url", &tsa.url])
        .arg(reg.reference(&format!("app@{}", image.digest)))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cosign sign: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let (_, bytes) = reg
        .get_manifest("app", &format!("{}.sig", image.digest.referrers_tag()))
        .await
        .unwrap();
    let manifest: ImageManifest = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(manifest.layers.len(), 1);
    let layer = &manifest.layers[0];
    for a in [
        legacy::ANNOTATION_CERTIFICATE,
        legacy::ANNOTATION_CHAIN,
        legacy::ANNOTATION_RFC3161,
    ] {
        assert!(
            layer.annotations.contains_key(a),
            "cosign wrote no {a}: {:?}",
            layer.annotations
        );
    }
    let blob = reg.get_blob("app", &layer.digest).await.unwrap();
    let signature = SimpleSignature::from_layer(blob, &layer.annotations).unwrap();
    World {
        dir,
        signature,
        digest: image.digest.to_string(),
        _tsa: tsa,
        _registry: reg,
    }
}

impl World {
    /// A trusted root with CA `ca` (only its root certificate) and the TSA chain if `with_tsa`.
    fn root(&self, ca: &str, with_tsa: bool) -> Root {
        let d = self.dir.path();
        let tsas = if with_tsa {
            serde_json::json!([{
                "subject": {"organization": "Signet Test", "commonName": "tsa"},
                "uri": "http://127.0.0.1/",
                "certChain": {"certificates": [{"rawBytes": der_b64(d, "tsa")}, {"rawBytes": der_b64(d, "tsaroot")}]},
                "validFor": {"start": "2020-01-01T00:00:00Z"}
            }])
        } else {
            serde_json::json!([])
        };
        let doc = serde_json::json!({
            "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
            "tlogs": [],
            "ctlogs": [],
            "certificateAuthorities": [{
                "subject": {"organization": "Signet Test", "commonName": ca},
                "uri": "https://fulcio.test",
                "certChain": {"certificates": [{"rawBytes": der_b64(d, ca)}]},
                "validFor": {"start": "2020-01-01T00:00:00Z"}
            }],
            "timestampAuthorities": tsas,
        });
        Root::from_json(doc.to_string().as_bytes(), "test-root").unwrap()
    }
}

fn keyless(identity: Matcher, issuer: Matcher, tlog: bool) -> TrustPolicy {
    TrustPolicy {
        name: "keyless".into(),
        scopes: vec!["*".into()],
        signers: Signers::Keyless { identity, issuer },
        tlog_verify: tlog,
        ctlog_verify: false,
        trusted_root: Some(0),
    }
}

fn exact() -> TrustPolicy {
    keyless(
        Matcher::Exact(IDENTITY.into()),
        Matcher::Exact(ISSUER.into()),
        false,
    )
}

fn one(vs: Vec<Verification>) -> Verification {
    assert_eq!(vs.len(), 1, "{vs:#?}");
    vs.into_iter().next().unwrap()
}

#[tokio::test]
async fn cosign_keyless_sig_with_certificate_chain_and_rfc3161_timestamp() {
    let w = world().await;
    let root = w.root("root", true);
    let sig = &w.signature;

    // Exact identity and issuer.
    let v = one(check::check_simple(sig, &w.digest, &exact(), Some(&root)));
    assert!(v.is_success, "{v:#?}");
    assert_eq!(v.identity.as_deref(), Some(IDENTITY));
    assert_eq!(v.issuer.as_deref(), Some(ISSUER));
    let summary = v.summary.join("\n");
    assert!(
        summary.contains("certificate chains to the trusted root"),
        "{summary}"
    );
    assert!(summary.contains("RFC 3161 timestamp verified"), "{summary}");
    assert!(
        summary.contains("signed payload names this image"),
        "{summary}"
    );

    // An anchored regular expression for the identity.
    let p = keyless(
        Matcher::regex(
            r"https://github\.com/acme/[^/]+/\.github/workflows/release\.yml@refs/tags/v.*",
        )
        .unwrap(),
        Matcher::Exact(ISSUER.into()),
        false,
    );
    assert!(one(check::check_simple(sig, &w.digest, &p, Some(&root))).is_success);

    // Wrong identity, wrong issuer, a substring-only pattern.
    for p in [
        keyless(
            Matcher::Exact(IDENTITY.replace("v1.0.0", "v1.0.1")),
            Matcher::Exact(ISSUER.into()),
            false,
        ),
        keyless(
            Matcher::Exact(IDENTITY.into()),
            Matcher::Exact("https://accounts.google.com".into()),
            false,
        ),
        keyless(
            Matcher::regex("acme/app").unwrap(),
            Matcher::Exact(ISSUER.into()),
            false,
        ),
    ] {
        let v = one(check::check_simple(sig, &w.digest, &p, Some(&root)));
        assert!(!v.is_success);
        assert_eq!(v.reason, Some(ReasonCode::UntrustedSigner), "{v:#?}");
    }

    // A trusted root whose CA is unrelated: the chain does not verify.
    let other = w.root("unrelated", true);
    let v = one(check::check_simple(sig, &w.digest, &exact(), Some(&other)));
    assert!(!v.is_success);
    assert_eq!(v.reason, Some(ReasonCode::UntrustedSigner), "{v:#?}");

    // Without the TSA in the trusted root the timestamp cannot be trusted: no signing time.
    let no_tsa = w.root("root", false);
    let v = one(check::check_simple(sig, &w.digest, &exact(), Some(&no_tsa)));
    assert!(!v.is_success, "{v:#?}");
    assert_eq!(v.reason, Some(ReasonCode::InvalidTimestamp), "{v:#?}");

    // The timestamp annotation removed: no signing-time evidence at all.
    let mut bare = sig.clone();
    bare.rfc3161 = None;
    let v = one(check::check_simple(&bare, &w.digest, &exact(), Some(&root)));
    assert!(!v.is_success, "{v:#?}");
    assert_eq!(v.reason, Some(ReasonCode::InvalidTimestamp), "{v:#?}");
    assert!(
        v.error
            .as_deref()
            .unwrap()
            .contains("no authenticated signing time"),
        "{v:#?}"
    );

    // A timestamp over another signature (the token of a tampered signature byte).
    let mut other_sig = sig.clone();
    let n = other_sig.signature.len() - 1;
    other_sig.signature[n] ^= 1;
    assert!(
        !one(check::check_simple(
            &other_sig,
            &w.digest,
            &exact(),
            Some(&root)
        ))
        .is_success
    );

    // The same signature offered for another image.
    let v = one(check::check_simple(
        sig,
        &format!("sha256:{}", "1".repeat(64)),
        &exact(),
        Some(&root),
    ));
    assert_eq!(v.reason, Some(ReasonCode::SubjectMismatch), "{v:#?}");

    // ctLogVerify: the private CA's certificate carries no SCT, so requiring one fails.
    let mut p = exact();
    p.ctlog_verify = true;
    let v = one(check::check_simple(sig, &w.digest, &p, Some(&root)));
    assert!(!v.is_success, "{v:#?}");
    assert!(
        v.error
            .as_deref()
            .unwrap()
            .to_lowercase()
            .contains("certificate timestamp")
            || v.error.as_deref().unwrap().contains("SCT"),
        "{v:#?}"
    );

    // tLogVerify with no Rekor bundle fails.
    let p = keyless(
        Matcher::Exact(IDENTITY.into()),
        Matcher::Exact(ISSUER.into()),
        true,
    );
    assert!(!one(check::check_simple(sig, &w.digest, &p, Some(&root))).is_success);

    // A key policy does not accept the keyless signature's certificate as a key.
    let key = signet_cosign::keys::PublicKey::from_pem(
        &std::fs::read_to_string(w.dir.path().join("unrelated.crt")).unwrap_or_default(),
        "x".into(),
        "file",
    );
    assert!(key.is_err(), "a certificate is not a public key");
}
