//! Test support for `legacy_keyless.rs`: a private Fulcio-like PKI and an RFC 3161 TSA made with
//! the openssl CLI, the TSA served over HTTP on 127.0.0.1, and real cosign signatures made with
//! them (`cosign sign --cert --cert-chain --timestamp-server-url`) on a real registry.
//!
//! Everything is made once per test binary ([`material`]); the registry and the TSA are stopped
//! and the scratch directory removed before the first test looks at the result.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde_json::{json, Value};
use signet_cosign::root::Root;
use signet_types::oci::ImageManifest;
use signet_types::Digest;

/// The SAN URI of the main signing certificate (a GitHub Actions workflow identity).
pub const IDENTITY: &str =
    "https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1.0.0";
/// The OIDC issuer of the main signing certificate.
pub const ISSUER: &str = "https://token.actions.githubusercontent.com";
/// The SAN email of the alternative certificate that carries only the legacy issuer extension.
pub const EMAIL_IDENTITY: &str = "alice@example.com";
/// The issuer in that certificate's legacy (raw bytes) extension 1.3.6.1.4.1.57264.1.1.
pub const LEGACY_ISSUER: &str = "https://accounts.google.com";

const ROOT_EXT: &str = "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n";
/// Like Fulcio's intermediate, it carries the codeSigning extended key usage: sigstore-verify
/// requires codeSigning of every certificate of the path that is not a trust anchor
/// (rustls-webpki `KeyUsage::required`).
const INTERMEDIATE_EXT: &str = "basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\nextendedKeyUsage=codeSigning\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n";
/// An intermediate without any extended key usage extension.
const PLAIN_INTERMEDIATE_EXT: &str = "basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n";
const TSA_EXT: &str = "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=critical,timeStamping\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n";
const TSA_CNF: &str = "[ tsa ]\ndefault_tsa = t\n[ t ]\ndir = .\nserial = tsaserial\ncrypto_device = builtin\nsigner_cert = tsa.pem\ncerts = tsaroot.pem\nsigner_key = tsa.key\nsigner_digest = sha256\ndefault_policy = 1.2.3.4.1\ndigests = sha256, sha384, sha512\naccuracy = secs:1\nordering = yes\ntsa_name = yes\ness_cert_id_chain = no\ness_cert_id_alg = sha256\n";

/// Extensions of a Fulcio-shaped leaf: codeSigning, a critical SAN, the issuer extensions.
fn leaf_ext(
    san: &str,
    eku: Option<&str>,
    issuer_v2: Option<&str>,
    issuer_v1: Option<&str>,
) -> String {
    let mut ext = String::from(
        "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n",
    );
    if let Some(eku) = eku {
        ext.push_str(&format!("extendedKeyUsage={eku}\n"));
    }
    ext.push_str(&format!("subjectAltName=critical,{san}\n"));
    if let Some(iss) = issuer_v1 {
        // Fulcio's legacy issuer extension: the raw UTF-8 bytes, not DER.
        ext.push_str(&format!(
            "1.3.6.1.4.1.57264.1.1=DER:{}\n",
            hex::encode(iss.as_bytes())
        ));
    }
    if let Some(iss) = issuer_v2 {
        // The current one: a DER UTF8String.
        ext.push_str(&format!("1.3.6.1.4.1.57264.1.8=ASN1:UTF8String:{iss}\n"));
    }
    ext
}

/// Runs openssl in `dir`; panics with its stderr on failure. Returns stdout.
pub fn openssl(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run openssl: {e}"));
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Makes a P-256 CA certificate `name` (`name.key`, `name.pem`, `name.der`), self-signed when
/// `issuer` is None.
fn ca(dir: &Path, name: &str, cn: &str, issuer: Option<&str>, ext: &str) {
    std::fs::write(dir.join(format!("{name}.ext")), ext).unwrap();
    let (key, csr, pem, extf) = (
        format!("{name}.key"),
        format!("{name}.csr"),
        format!("{name}.pem"),
        format!("{name}.ext"),
    );
    let subj = format!("/O=Signet Test/CN={cn}");
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-nodes",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-keyout",
            &key,
            "-out",
            &csr,
            "-subj",
            &subj,
        ],
    );
    let ca_pem = format!("{}.pem", issuer.unwrap_or(name));
    let ca_key = format!("{}.key", issuer.unwrap_or(name));
    let mut x509 = vec![
        "x509", "-req", "-in", &csr, "-out", &pem, "-days", "30", "-sha256", "-extfile", &extf,
    ];
    if issuer.is_some() {
        x509.extend(["-CA", &ca_pem, "-CAkey", &ca_key, "-CAcreateserial"]);
    } else {
        x509.extend(["-signkey", &key]);
    }
    openssl(dir, &x509);
    let der = format!("{name}.der");
    openssl(dir, &["x509", "-in", &pem, "-outform", "DER", "-out", &der]);
}

/// Issues leaf certificate `name.pem` for the public key in `pubkey` (PEM SPKI) under CA
/// `issuer`, with extensions `ext`. `openssl x509 -new -force_pubkey` certifies a key whose
/// private half we do not hold (cosign's own key pair).
fn leaf(dir: &Path, name: &str, pubkey: &str, issuer: &str, ext: &str, serial: &str) {
    let extf = format!("{name}.ext");
    std::fs::write(dir.join(&extf), ext).unwrap();
    let (ca_pem, ca_key, pem) = (
        format!("{issuer}.pem"),
        format!("{issuer}.key"),
        format!("{name}.pem"),
    );
    openssl(
        dir,
        &[
            "x509",
            "-new",
            "-subj",
            "/",
            "-force_pubkey",
            pubkey,
            "-CA",
            &ca_pem,
            "-CAkey",
            &ca_key,
            "-days",
            "1",
            "-sha256",
            "-set_serial",
            serial,
            "-extfile",
            &extf,
            "-out",
            &pem,
        ],
    );
}

fn read(dir: &Path, name: &str) -> Vec<u8> {
    std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("read {name}: {e}"))
}

fn read_str(dir: &Path, name: &str) -> String {
    String::from_utf8(read(dir, name)).unwrap()
}

/// An RFC 3161 TSA over HTTP on 127.0.0.1: each POSTed DER TimeStampReq is answered by
/// `openssl ts -reply` with a DER TimeStampResp. Stopped (thread joined) on drop.
pub struct TsaServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    requests: Arc<AtomicUsize>,
    thread: Option<JoinHandle<()>>,
}

impl TsaServer {
    /// Serves the TSA whose `tsa.cnf` is in `dir`.
    pub fn start(dir: &Path) -> TsaServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(AtomicUsize::new(0));
        let dir = dir.to_path_buf();
        let (s, r) = (stop.clone(), requests.clone());
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let n = r.fetch_add(1, Ordering::SeqCst);
                if let Err(e) = serve_one(stream, &dir, n) {
                    eprintln!("test TSA: request {n} failed: {e}");
                }
            }
        });
        TsaServer {
            addr,
            stop,
            requests,
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// How many requests it received.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

impl Drop for TsaServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept so the thread sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(2));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve_one(stream: TcpStream, dir: &Path, n: usize) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut length = None;
    let mut chunked = false;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            break;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
            if k == "content-length" {
                length = v.parse::<usize>().ok();
            } else if k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked") {
                chunked = true;
            }
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size)?;
            let size = usize::from_str_radix(size.trim().split(';').next().unwrap_or("0"), 16)
                .map_err(|e| std::io::Error::other(e.to_string()))?;
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk)?;
            if size == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..size]);
        }
    } else {
        body.resize(length.unwrap_or(0), 0);
        reader.read_exact(&mut body)?;
    }
    let mut stream = stream;
    if !request_line.starts_with("POST ") || body.is_empty() {
        stream.write_all(
            b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        )?;
        return Ok(());
    }
    let (query, reply) = (format!("query-{n}.tsq"), format!("reply-{n}.tsr"));
    std::fs::write(dir.join(&query), &body)?;
    let out = Command::new("openssl")
        .args([
            "ts",
            "-reply",
            "-queryfile",
            &query,
            "-config",
            "tsa.cnf",
            "-out",
            &reply,
        ])
        .current_dir(dir)
        .output()?;
    if !out.status.success() {
        stream.write_all(
            b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        )?;
        return Err(std::io::Error::other(
            String::from_utf8_lossy(&out.stderr).into_owned(),
        ));
    }
    let resp = std::fs::read(dir.join(&reply))?;
    stream.write_all(
        format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/timestamp-reply\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            resp.len()
        )
        .as_bytes(),
    )?;
    stream.write_all(&resp)?;
    stream.flush()
}

/// One `.sig` layer as cosign wrote it.
#[derive(Debug, Clone)]
pub struct SigLayer {
    /// The manifest digest of the signed image, `sha256:<hex>`.
    pub image_digest: String,
    /// The layer blob (the signed simple-signing payload).
    pub payload: Vec<u8>,
    /// The layer's media type.
    pub media_type: String,
    /// The layer's annotations.
    pub annotations: BTreeMap<String, String>,
}

/// Everything the tests need, made once.
#[derive(Debug)]
pub struct Material {
    /// Image A (`app:v1`) signed with the main certificate.
    pub a: SigLayer,
    /// Image B (`app:v2`) signed the same way (another signature, another timestamp).
    pub b: SigLayer,
    /// DER certificates of the Fulcio-like CA: root, intermediate.
    pub fulcio_root: Vec<u8>,
    pub fulcio_intermediate: Vec<u8>,
    /// DER certificates of the TSA: leaf, root.
    pub tsa: Vec<u8>,
    pub tsa_root: Vec<u8>,
    /// An unrelated root CA and an unrelated TSA (leaf, root).
    pub other_root: Vec<u8>,
    pub other_tsa: Vec<u8>,
    pub other_tsa_root: Vec<u8>,
    /// Alternative certificates (PEM) for cosign's key, swapped into the certificate annotation:
    /// SAN email + only the legacy issuer extension (1.1, raw bytes).
    pub leaf_legacy_issuer: String,
    /// No issuer extension at all.
    pub leaf_no_issuer: String,
    /// No codeSigning extended key usage (serverAuth instead).
    pub leaf_no_code_signing: String,
    /// The same identity and issuer, issued by the unrelated root.
    pub leaf_self_issued: String,
    /// The same identity and issuer from the trusted intermediate, for another key.
    pub leaf_other_key: String,
    /// The main identity and issuer for cosign's key, issued by a second intermediate of the
    /// root that has no extended key usage extension, and that intermediate (PEM, DER).
    pub leaf_plain_intermediate: String,
    pub plain_intermediate_pem: String,
    pub plain_intermediate: Vec<u8>,
    /// The root, PEM (for chain annotations).
    pub fulcio_root_pem: String,
    /// The TSA queries cosign made (one per signature).
    pub tsa_requests: usize,
    /// How long making all this took.
    pub setup: Duration,
}

static MATERIAL: OnceLock<Result<Material, String>> = OnceLock::new();

/// The material, made on first use; a failed set-up fails every test with its message.
pub fn material() -> &'static Material {
    let m = MATERIAL.get_or_init(|| {
        std::panic::catch_unwind(make_material).map_err(|p| {
            p.downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "set-up panicked".into())
        })
    });
    match m {
        Ok(m) => m,
        Err(e) => panic!("legacy keyless material could not be made: {e}"),
    }
}

fn make_material() -> Material {
    let started = std::time::Instant::now();
    let tmp = tempfile::Builder::new()
        .prefix("signet-legacy-keyless-")
        .tempdir()
        .unwrap();
    let dir = tmp.path();

    // The Fulcio-like CA, an unrelated CA, the TSA and an unrelated TSA.
    ca(dir, "root", "test-fulcio-root", None, ROOT_EXT);
    ca(
        dir,
        "inter",
        "test-fulcio-intermediate",
        Some("root"),
        INTERMEDIATE_EXT,
    );
    ca(
        dir,
        "plaininter",
        "test-plain-intermediate",
        Some("root"),
        PLAIN_INTERMEDIATE_EXT,
    );
    ca(dir, "other", "unrelated-root", None, ROOT_EXT);
    ca(dir, "tsaroot", "test-tsa-root", None, ROOT_EXT);
    ca(dir, "tsa", "test-tsa", Some("tsaroot"), TSA_EXT);
    ca(dir, "othertsaroot", "other-tsa-root", None, ROOT_EXT);
    ca(dir, "othertsa", "other-tsa", Some("othertsaroot"), TSA_EXT);
    std::fs::write(dir.join("tsaserial"), "01\n").unwrap();
    std::fs::write(dir.join("tsa.cnf"), TSA_CNF).unwrap();

    // cosign's own key pair: cosign 2.5.0 from Debian refuses every key given to
    // `import-key-pair` ("error validating ecdsa key: unsupported public key type"), so the
    // CA certifies the public key cosign generated instead.
    let (key, public) = signet_testkit::cosign_generate_key_pair(dir);
    let public = public.file_name().unwrap().to_str().unwrap().to_string();
    let main_ext = leaf_ext(
        &format!("URI:{IDENTITY}"),
        Some("codeSigning"),
        Some(ISSUER),
        Some(ISSUER),
    );
    leaf(dir, "leaf", &public, "inter", &main_ext, "0x5a17c0de01");
    leaf(
        dir,
        "leaf-legacy",
        &public,
        "inter",
        &leaf_ext(
            &format!("email:{EMAIL_IDENTITY}"),
            Some("codeSigning"),
            None,
            Some(LEGACY_ISSUER),
        ),
        "0x5a17c0de02",
    );
    leaf(
        dir,
        "leaf-noissuer",
        &public,
        "inter",
        &leaf_ext(&format!("URI:{IDENTITY}"), Some("codeSigning"), None, None),
        "0x5a17c0de03",
    );
    leaf(
        dir,
        "leaf-noeku",
        &public,
        "inter",
        &leaf_ext(
            &format!("URI:{IDENTITY}"),
            Some("serverAuth"),
            Some(ISSUER),
            None,
        ),
        "0x5a17c0de04",
    );
    leaf(
        dir,
        "leaf-selfissued",
        &public,
        "other",
        &main_ext,
        "0x5a17c0de05",
    );
    openssl(
        dir,
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            "otherkey.key",
        ],
    );
    openssl(
        dir,
        &[
            "pkey",
            "-in",
            "otherkey.key",
            "-pubout",
            "-out",
            "otherkey.pub",
        ],
    );
    leaf(
        dir,
        "leaf-otherkey",
        "otherkey.pub",
        "inter",
        &main_ext,
        "0x5a17c0de06",
    );
    leaf(
        dir,
        "leaf-plaininter",
        &public,
        "plaininter",
        &main_ext,
        "0x5a17c0de07",
    );
    // What cosign --cert-chain wants: the intermediates then the root, PEM.
    let chain = format!(
        "{}{}",
        read_str(dir, "inter.pem"),
        read_str(dir, "root.pem")
    );
    std::fs::write(dir.join("chain.pem"), chain).unwrap();

    let tsa = TsaServer::start(dir);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (a, b) = rt.block_on(async {
        let registry = signet_testkit::Registry::start_ferro()
            .await
            .unwrap_or_else(|e| panic!("start ferro: {e:#}"));
        let mut layers = Vec::new();
        for (tag, seed) in [("v1", "legacy-keyless-a"), ("v2", "legacy-keyless-b")] {
            let image = registry
                .push_sample_image("app", tag, seed)
                .await
                .unwrap_or_else(|e| panic!("push image: {e:#}"));
            sign(&registry, &key, dir, &tsa, &image.digest);
            layers.push(read_sig_layer(&registry, &image.digest).await);
        }
        let b = layers.pop().unwrap();
        let a = layers.pop().unwrap();
        (a, b)
    });
    let tsa_requests = tsa.requests();
    drop(tsa);

    Material {
        a,
        b,
        fulcio_root: read(dir, "root.der"),
        fulcio_intermediate: read(dir, "inter.der"),
        tsa: read(dir, "tsa.der"),
        tsa_root: read(dir, "tsaroot.der"),
        other_root: read(dir, "other.der"),
        other_tsa: read(dir, "othertsa.der"),
        other_tsa_root: read(dir, "othertsaroot.der"),
        leaf_legacy_issuer: read_str(dir, "leaf-legacy.pem"),
        leaf_no_issuer: read_str(dir, "leaf-noissuer.pem"),
        leaf_no_code_signing: read_str(dir, "leaf-noeku.pem"),
        leaf_self_issued: read_str(dir, "leaf-selfissued.pem"),
        leaf_other_key: read_str(dir, "leaf-otherkey.pem"),
        leaf_plain_intermediate: read_str(dir, "leaf-plaininter.pem"),
        plain_intermediate_pem: read_str(dir, "plaininter.pem"),
        plain_intermediate: read(dir, "plaininter.der"),
        fulcio_root_pem: read_str(dir, "root.pem"),
        tsa_requests,
        setup: started.elapsed(),
    }
}

/// `cosign sign --key K --cert leaf.pem --cert-chain chain.pem --tlog-upload=false
/// --timestamp-server-url TSA REF@DIGEST`.
fn sign(
    registry: &signet_testkit::Registry,
    key: &Path,
    dir: &Path,
    tsa: &TsaServer,
    digest: &Digest,
) {
    let out = signet_testkit::run_ok(
        registry
            .cosign()
            .arg("sign")
            .args(registry.cosign_flags())
            .arg("--key")
            .arg(key)
            .arg("--cert")
            .arg(dir.join("leaf.pem"))
            .arg("--cert-chain")
            .arg(dir.join("chain.pem"))
            .arg("--tlog-upload=false")
            .arg("--timestamp-server-url")
            .arg(tsa.url())
            .arg(registry.reference(&format!("app@{digest}"))),
    )
    .unwrap_or_else(|e| panic!("cosign sign: {e:#}"));
    eprintln!(
        "cosign sign app@{digest}: {}",
        String::from_utf8_lossy(&out.stderr).trim()
    );
}

/// Reads `sha256-<hex>.sig` back and returns its single layer.
async fn read_sig_layer(registry: &signet_testkit::Registry, digest: &Digest) -> SigLayer {
    let tag = format!("{}.sig", digest.referrers_tag());
    let (_, bytes) = registry
        .get_manifest("app", &tag)
        .await
        .unwrap_or_else(|e| panic!("GET {tag}: {e:#}"));
    let manifest: ImageManifest = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(
        manifest.layers.len(),
        1,
        "{}",
        String::from_utf8_lossy(&bytes)
    );
    let layer = &manifest.layers[0];
    let payload = registry
        .get_blob("app", &layer.digest)
        .await
        .unwrap_or_else(|e| panic!("GET blob {}: {e:#}", layer.digest));
    assert!(layer.digest.matches(&payload));
    SigLayer {
        image_digest: digest.to_string(),
        payload,
        media_type: layer.media_type.clone(),
        annotations: layer.annotations.clone(),
    }
}

/// A `certificateAuthorities` entry for `chain` (DER, leaf-most first).
pub fn ca_entry(chain: &[&[u8]]) -> Value {
    json!({
        "subject": {"organization": "Signet Test", "commonName": "test"},
        "uri": "https://fulcio.test.invalid",
        "certChain": {"certificates": chain.iter().map(|c| json!({"rawBytes": B64.encode(c)})).collect::<Vec<_>>()},
    })
}

/// A `timestampAuthorities` entry for `chain` (DER: TSA leaf, intermediates, root).
pub fn tsa_entry(chain: &[&[u8]]) -> Value {
    json!({
        "subject": {"organization": "Signet Test", "commonName": "test-tsa"},
        "uri": "https://tsa.test.invalid",
        "certChain": {"certificates": chain.iter().map(|c| json!({"rawBytes": B64.encode(c)})).collect::<Vec<_>>()},
    })
}

/// A trusted root document with these entries (no tlogs, no ctlogs).
pub fn trusted_root_json(cas: Vec<Value>, tsas: Vec<Value>) -> String {
    json!({
        "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
        "tlogs": [],
        "certificateAuthorities": cas,
        "ctlogs": [],
        "timestampAuthorities": tsas,
    })
    .to_string()
}

/// Loads it the way the verifier does.
pub fn root(cas: Vec<Value>, tsas: Vec<Value>) -> Root {
    Root::from_json(trusted_root_json(cas, tsas).as_bytes(), "private-pki")
        .unwrap_or_else(|e| panic!("trusted root: {e}"))
}

impl Material {
    /// The CA entry of the trusted root: intermediate then root, as Fulcio's is listed.
    pub fn fulcio_entry(&self) -> Value {
        ca_entry(&[&self.fulcio_intermediate, &self.fulcio_root])
    }

    /// The TSA entry: leaf then root.
    pub fn tsa_entry(&self) -> Value {
        tsa_entry(&[&self.tsa, &self.tsa_root])
    }

    /// The trusted root that matches the signatures.
    pub fn good_root(&self) -> Root {
        root(vec![self.fulcio_entry()], vec![self.tsa_entry()])
    }
}
