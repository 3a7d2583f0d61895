//! Revocation checks against a real PKI made with `openssl ca`, real `openssl ocsp` responders
//! and a small HTTP server for the CRLs, all on 127.0.0.1.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::HashMap;
use std::net::TcpListener as StdListener;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use signet_notation::envelope::EnvelopeFormat;
use signet_notation::revocation::{
    CertStatus, ChainStatus, Overall, RevocationChecker, RevocationOptions,
};
use signet_notation::trust_policy::{TrustPolicyDocument, Validation};
use signet_notation::trust_store::{load_cert_file, StoreRef, StoreType, TrustStores};
use signet_notation::verify::{verify_envelope, Failure, Inputs, Verdict};
use signet_types::ReasonCode;
use time::macros::datetime;
use time::OffsetDateTime;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

const REQ_CNF: &str = "[ req ]\ndistinguished_name = dn\nprompt = no\n[ dn ]\nCN = placeholder\n\
[ v3_root ]\nbasicConstraints = critical,CA:TRUE\nkeyUsage = critical,keyCertSign,cRLSign\n\
subjectKeyIdentifier = hash\n";

/// The time the "compromised" leaf's key is declared compromised (its invalidity date).
const COMPROMISE: &str = "20250101000000Z";

/// Which reserved port.
#[derive(Clone, Copy)]
enum Port {
    RootOcsp = 0,
    CaOcsp = 1,
    Crl = 2,
}

/// A root, an intermediate CA and leaves issued with `openssl ca`, whose certificates point
/// at OCSP responders and a CRL server on ports reserved here.
struct Lab {
    pki: support::Pki,
    ports: [u16; 3],
    reserved: [Option<StdListener>; 3],
    /// leaf (good), CA, root
    good: Vec<Vec<u8>>,
    /// leaf revoked for keyCompromise, CA, root
    revoked: Vec<Vec<u8>>,
    /// leaf revoked with invalidity date COMPROMISE, CA, root
    compromised: Vec<Vec<u8>>,
}

fn ca_cnf(name: &str) -> String {
    format!(
        "[ ca ]\ndefault_ca = CA_default\n[ CA_default ]\ndir = ./{name}-db\n\
database = $dir/index.txt\nnew_certs_dir = $dir/newcerts\nserial = $dir/serial\n\
crlnumber = $dir/crlnumber\ncertificate = ./{name}.crt\nprivate_key = ./{name}.key\n\
default_md = sha256\ndefault_days = 30\ndefault_crl_days = 1\npolicy = policy_any\n\
unique_subject = no\nemail_in_dn = no\n[ policy_any ]\ncommonName = supplied\n"
    )
}

impl Lab {
    fn new() -> Lab {
        let reserved: [Option<StdListener>; 3] =
            std::array::from_fn(|_| Some(StdListener::bind("127.0.0.1:0").unwrap()));
        let ports: [u16; 3] =
            std::array::from_fn(|i| reserved[i].as_ref().unwrap().local_addr().unwrap().port());
        let pki = support::Pki::new();
        let write = |name: &str, text: &str| std::fs::write(pki.path(name), text).unwrap();
        write("req.cnf", REQ_CNF);
        for ca in ["root", "ca", "evil"] {
            write(&format!("{ca}.cnf"), &ca_cnf(ca));
            std::fs::create_dir_all(pki.path(&format!("{ca}-db/newcerts"))).unwrap();
            write(&format!("{ca}-db/index.txt"), "");
            write(&format!("{ca}-db/serial"), "1000\n");
            write(&format!("{ca}-db/crlnumber"), "1000\n");
        }
        let self_signed = |name: &str, subject: &str, key: &[&str]| {
            let mut args = vec!["req", "-config", "req.cnf", "-x509", "-new", "-nodes"];
            args.extend(key);
            let (k, c) = (format!("{name}.key"), format!("{name}.crt"));
            args.extend(["-keyout", &k, "-out", &c, "-subj", subject, "-days", "30"]);
            args.extend(["-sha256", "-extensions", "v3_root"]);
            pki.run(&args);
        };
        self_signed("root", "/CN=Signet Test Root", &["-newkey", "rsa:2048"]);
        // Same name as the real intermediate, another key: its CRLs must not verify.
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"];
        self_signed("evil", "/CN=Signet Test CA", &ec);

        let [root_ocsp, ca_ocsp, crl] = ports;
        let issue = |name: &str, subject: &str, ca: &str, ext: &str| {
            write(&format!("{name}.ext"), ext);
            let (k, csr) = (format!("{name}.key"), format!("{name}.csr"));
            let mut req = vec!["req", "-config", "req.cnf", "-new", "-nodes"];
            req.extend(ec);
            req.extend(["-keyout", &k, "-out", &csr, "-subj", subject]);
            pki.run(&req);
            let (cnf, crt, extfile) = (
                format!("{ca}.cnf"),
                format!("{name}.crt"),
                format!("{name}.ext"),
            );
            pki.run(&[
                "ca", "-config", &cnf, "-batch", "-notext", "-in", &csr, "-out", &crt, "-extfile",
                &extfile,
            ]);
        };
        issue(
            "ca",
            "/CN=Signet Test CA",
            "root",
            &format!(
                "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n\
authorityInfoAccess=OCSP;URI:http://127.0.0.1:{root_ocsp}/\n\
crlDistributionPoints=URI:http://127.0.0.1:{crl}/root.crl\n"
            ),
        );
        issue(
            "ocsp",
            "/CN=Signet Test OCSP Responder",
            "ca",
            "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=OCSPSigning\n",
        );
        // Issued by the CA but not authorized for OCSP (no id-kp-OCSPSigning).
        issue(
            "ocsp-noeku",
            "/CN=Signet Test Unauthorized Responder",
            "ca",
            "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=codeSigning\n",
        );
        let leaf_ext = format!(
            "{}authorityInfoAccess=OCSP;URI:http://127.0.0.1:{ca_ocsp}/\n\
crlDistributionPoints=URI:http://127.0.0.1:{crl}/ca.crl\n",
            support::LEAF_EXT
        );
        for leaf in ["leaf-good", "leaf-revoked", "leaf-compromised"] {
            issue(leaf, &format!("/CN={leaf}"), "ca", &leaf_ext);
        }
        pki.run(&[
            "ca",
            "-config",
            "ca.cnf",
            "-revoke",
            "leaf-revoked.crt",
            "-crl_reason",
            "keyCompromise",
        ]);
        pki.run(&[
            "ca",
            "-config",
            "ca.cnf",
            "-revoke",
            "leaf-compromised.crt",
            "-crl_compromise",
            COMPROMISE,
        ]);
        let gencrl = |ca: &str, out: &str, extra: &[&str]| {
            let (cnf, pem) = (format!("{ca}.cnf"), format!("{out}.pem"));
            let mut args = vec!["ca", "-config", &cnf, "-gencrl", "-out", &pem];
            args.extend(extra);
            pki.run(&args);
            pki.run(&["crl", "-in", &pem, "-outform", "DER", "-out", out]);
        };
        gencrl("root", "root.crl", &["-crldays", "1"]);
        gencrl("ca", "ca.crl", &["-crldays", "1"]);
        gencrl("evil", "evil.crl", &["-crldays", "1"]);
        gencrl(
            "ca",
            "ca-expired.crl",
            &[
                "-crl_lastupdate",
                "20200101000000Z",
                "-crl_nextupdate",
                "20200102000000Z",
            ],
        );
        let der = |name: &str| {
            let out = format!("{name}.der");
            pki.run(&[
                "x509",
                "-in",
                &format!("{name}.crt"),
                "-outform",
                "DER",
                "-out",
                &out,
            ]);
            std::fs::read(pki.path(&out)).unwrap()
        };
        let (ca, root) = (der("ca"), der("root"));
        let chain = |leaf: &str| vec![der(leaf), ca.clone(), root.clone()];
        Lab {
            good: chain("leaf-good"),
            revoked: chain("leaf-revoked"),
            compromised: chain("leaf-compromised"),
            pki,
            ports,
            reserved,
        }
    }

    fn url(&self, port: Port, path: &str) -> String {
        format!("http://127.0.0.1:{}/{path}", self.ports[port as usize])
    }

    fn file(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.pki.path(name)).unwrap()
    }

    fn take(&mut self, port: Port) -> StdListener {
        self.reserved[port as usize]
            .take()
            .expect("port already used")
    }

    /// Frees the reserved ports nobody serves: connections to them are refused.
    fn close_unused(&mut self) {
        for r in &mut self.reserved {
            r.take();
        }
    }

    /// Starts both `openssl ocsp` responders: the root signs its own answers, the intermediate's
    /// are signed by `signer` (.crt/.key; `ocsp` is a delegated responder with id-kp-OCSPSigning).
    fn start_ocsp_signed_by(&mut self, signer: &str) -> Result<(Responder, Responder), String> {
        drop(self.take(Port::RootOcsp));
        drop(self.take(Port::CaOcsp));
        let root = Responder::start(
            &self.pki,
            self.ports[Port::RootOcsp as usize],
            &[
                "-index",
                "root-db/index.txt",
                "-CA",
                "root.crt",
                "-rsigner",
                "root.crt",
            ],
            "root.key",
        )?;
        let ca = Responder::start(
            &self.pki,
            self.ports[Port::CaOcsp as usize],
            &[
                "-index",
                "ca-db/index.txt",
                "-CA",
                "ca.crt",
                "-rsigner",
                &format!("{signer}.crt"),
            ],
            &format!("{signer}.key"),
        )?;
        Ok((root, ca))
    }

    /// A lab with both responders running. A released port can be taken by another test
    /// before openssl binds it; then the whole lab is made again (ports are in the certificates).
    fn with_ocsp() -> (Lab, (Responder, Responder)) {
        Lab::with_ocsp_signed_by("ocsp")
    }

    fn with_ocsp_signed_by(signer: &str) -> (Lab, (Responder, Responder)) {
        let mut failures = Vec::new();
        for _ in 0..3 {
            let mut lab = Lab::new();
            match lab.start_ocsp_signed_by(signer) {
                Ok(responders) => return (lab, responders),
                Err(e) => failures.push(e),
            }
        }
        panic!("the OCSP responders did not start: {failures:?}");
    }

    /// Serves root.crl and ca.crl.
    fn start_crl_server(&mut self) -> CrlServer {
        let files = HashMap::from([
            ("/root.crl".to_string(), self.file("root.crl")),
            ("/ca.crl".to_string(), self.file("ca.crl")),
        ]);
        CrlServer::start(self.take(Port::Crl), files)
    }
}

/// A running `openssl ocsp` responder, killed on drop.
struct Responder {
    child: Child,
}

impl Responder {
    /// Starts `openssl ocsp` and waits for it to listen. Readiness is read from its stderr: a
    /// probe connection closed without a request makes openssl 3.0's responder stop answering.
    fn start(pki: &support::Pki, port: u16, args: &[&str], key: &str) -> Result<Responder, String> {
        let port_arg = port.to_string();
        let mut child = Command::new("openssl")
            .arg("ocsp")
            .args(args)
            .args([
                "-rkey",
                key,
                "-port",
                &port_arg,
                "-nmin",
                "5",
                "-ignore_err",
            ])
            .current_dir(pki.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let responder = Responder { child };
        let (ready, wait) = std::sync::mpsc::channel();
        let log = Arc::new(Mutex::new(String::new()));
        let log_writer = log.clone();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                log_writer.lock().unwrap().push_str(&format!("{line}\n"));
                if line.contains("waiting for OCSP client connections") {
                    let _ = ready.send(());
                }
            }
        });
        match wait.recv_timeout(Duration::from_secs(10)) {
            Ok(()) => Ok(responder),
            Err(e) => Err(format!(
                "openssl ocsp on port {port} did not start ({e}): {}",
                log.lock().unwrap()
            )),
        }
    }
}

impl Drop for Responder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A tiny HTTP/1.1 server for CRLs that counts requests.
struct CrlServer {
    hits: Arc<AtomicUsize>,
    files: Arc<Mutex<HashMap<String, Vec<u8>>>>,
    task: tokio::task::JoinHandle<()>,
}

impl CrlServer {
    fn start(listener: StdListener, files: HashMap<String, Vec<u8>>) -> CrlServer {
        listener.set_nonblocking(true).unwrap();
        let listener = tokio::net::TcpListener::from_std(listener).unwrap();
        let hits = Arc::new(AtomicUsize::new(0));
        let files = Arc::new(Mutex::new(files));
        let (h, f) = (hits.clone(), files.clone());
        let task = tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let (hits, files) = (h.clone(), f.clone());
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 8192 {
                        match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    hits.fetch_add(1, Ordering::SeqCst);
                    let head = String::from_utf8_lossy(&head);
                    let path = head.split_whitespace().nth(1).unwrap_or("").to_string();
                    let body = files.lock().unwrap().get(&path).cloned();
                    let response = match body {
                        Some(body) => {
                            let mut r = format!(
                                "HTTP/1.1 200 OK\r\nContent-Type: application/pkix-crl\r\n\
Content-Length: {}\r\nConnection: close\r\n\r\n",
                                body.len()
                            )
                            .into_bytes();
                            r.extend_from_slice(&body);
                            r
                        }
                        None => b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                            .to_vec(),
                    };
                    let _ = stream.write_all(&response).await;
                    let _ = stream.shutdown().await;
                });
            }
        });
        CrlServer { hits, files, task }
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    fn serve(&self, path: &str, body: Vec<u8>) {
        self.files.lock().unwrap().insert(path.to_string(), body);
    }
}

impl Drop for CrlServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Accepts connections and never answers.
fn black_hole(listener: StdListener) -> tokio::task::JoinHandle<()> {
    listener.set_nonblocking(true).unwrap();
    let listener = tokio::net::TcpListener::from_std(listener).unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    })
}

fn checker() -> RevocationChecker {
    RevocationChecker::new(RevocationOptions::default()).unwrap()
}

async fn check(
    checker: &RevocationChecker,
    chain: &[Vec<u8>],
    signing_time: Option<OffsetDateTime>,
) -> ChainStatus {
    checker
        .check_chain(
            chain,
            signing_time,
            OffsetDateTime::now_utc(),
            Instant::now() + Duration::from_secs(10),
        )
        .await
}

fn unknown_reason(status: &CertStatus) -> &str {
    match status {
        CertStatus::Unknown { reason } => reason,
        other => panic!("expected an unknown status, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ocsp_good_and_revoked() {
    let (mut lab, _responders) = Lab::with_ocsp();
    let crl = lab.start_crl_server();
    let checker = checker();

    let status = check(&checker, &lab.good, None).await;
    assert_eq!(status.overall(), Overall::Good, "{status:?}");
    let [leaf, ca, root] = &status.certificates[..] else {
        panic!("{status:?}")
    };
    assert_eq!((leaf.index, &leaf.status), (0, &CertStatus::Good));
    assert_eq!(
        leaf.source.as_deref(),
        Some(&*format!("ocsp {}", lab.url(Port::CaOcsp, "")))
    );
    assert_eq!(leaf.subject, "CN=leaf-good");
    // The intermediate is answered by the root's own responder (signed by the root).
    assert_eq!(ca.status, CertStatus::Good);
    assert_eq!(
        ca.source.as_deref(),
        Some(&*format!("ocsp {}", lab.url(Port::RootOcsp, "")))
    );
    assert_eq!(root.status, CertStatus::NonRevocable);
    assert_eq!(root.source, None);

    let status = check(&checker, &lab.revoked, None).await;
    match &status.certificates[0].status {
        CertStatus::Revoked { reason, revoked_at } => {
            assert_eq!(reason, "keyCompromise");
            let at = revoked_at.expect("revocation time");
            assert!(
                (OffsetDateTime::now_utc() - at).whole_minutes().abs() < 10,
                "{at}"
            );
        }
        other => panic!("expected revoked, got {other:?}"),
    }
    assert_eq!(status.certificates[1].status, CertStatus::Good);
    let Overall::Revoked(message) = status.overall() else {
        panic!("{status:?}")
    };
    assert!(message.starts_with("certificate 0 (CN=leaf-revoked) is revoked (reason keyCompromise) according to OCSP responder http://127.0.0.1:"), "{message}");
    // OCSP answered everything: no CRL was downloaded.
    assert_eq!(crl.hits(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ocsp_answer_from_unauthorized_responder_is_unknown() {
    let (mut lab, _responders) = Lab::with_ocsp_signed_by("ocsp-noeku");
    lab.close_unused(); // no CRL server: the OCSP failure is what the reason shows
    let status = check(&checker(), &lab.revoked, None).await;
    let reason = unknown_reason(&status.certificates[0].status);
    assert!(
        reason
            .contains("is not signed by the issuer CN=Signet Test CA or a responder it authorized"),
        "{reason}"
    );
    assert!(reason.contains("no id-kp-OCSPSigning"), "{reason}");
    // The root signs its own answers: the intermediate is fine.
    assert_eq!(status.certificates[1].status, CertStatus::Good);
    assert!(matches!(status.overall(), Overall::Unknown(_)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ocsp_answers_are_cached() {
    let (mut lab, responders) = Lab::with_ocsp();
    let crl = lab.start_crl_server();
    let checker = checker();
    assert_eq!(
        check(&checker, &lab.good, None).await.overall(),
        Overall::Good
    );
    drop(responders);
    // Responders gone: the cached answers still decide, no CRL fallback.
    let status = check(&checker, &lab.good, None).await;
    assert_eq!(status.overall(), Overall::Good, "{status:?}");
    assert!(status.certificates[0]
        .source
        .as_deref()
        .unwrap()
        .starts_with("ocsp "));
    assert_eq!(crl.hits(), 0);
    // A fresh checker has no cache: OCSP fails and the CRLs decide.
    let status = check(
        &RevocationChecker::new(RevocationOptions::default()).unwrap(),
        &lab.good,
        None,
    )
    .await;
    assert_eq!(status.overall(), Overall::Good, "{status:?}");
    assert!(status.certificates[0]
        .source
        .as_deref()
        .unwrap()
        .starts_with("crl "));
    assert_eq!(crl.hits(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crl_fallback_good_revoked_and_cached() {
    let mut lab = Lab::new();
    let crl = lab.start_crl_server();
    lab.close_unused(); // no OCSP responder: connection refused
    let checker = checker();

    let status = check(&checker, &lab.good, None).await;
    assert_eq!(status.overall(), Overall::Good, "{status:?}");
    assert_eq!(status.certificates[0].status, CertStatus::Good);
    assert_eq!(
        status.certificates[0].source.as_deref(),
        Some(&*format!("crl {}", lab.url(Port::Crl, "ca.crl")))
    );
    assert_eq!(
        status.certificates[1].source.as_deref(),
        Some(&*format!("crl {}", lab.url(Port::Crl, "root.crl")))
    );
    assert_eq!(crl.hits(), 2);

    let status = check(&checker, &lab.revoked, None).await;
    match &status.certificates[0].status {
        CertStatus::Revoked { reason, revoked_at } => {
            assert_eq!(reason, "keyCompromise");
            assert!(revoked_at.is_some());
        }
        other => panic!("expected revoked, got {other:?}"),
    }
    let Overall::Revoked(message) = status.overall() else {
        panic!("{status:?}")
    };
    assert!(
        message.contains("(reason keyCompromise) according to CRL http://127.0.0.1:"),
        "{message}"
    );
    assert!(message.contains("/ca.crl at "), "{message}");
    // Both CRLs came from the cache.
    assert_eq!(crl.hits(), 2);
    assert_eq!(
        check(&checker, &lab.good, None).await.overall(),
        Overall::Good
    );
    assert_eq!(crl.hits(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalidity_date_after_signing_time_does_not_revoke() {
    let (mut lab, responders) = Lab::with_ocsp();
    let _crl = lab.start_crl_server();
    let before = Some(datetime!(2024-06-01 0:00 UTC));
    let after = Some(datetime!(2025-06-01 0:00 UTC));
    // OCSP (the responder reports the invalidity date from index.txt).
    let checker = checker();
    let signed_before = check(&checker, &lab.compromised, before).await;
    assert_eq!(signed_before.overall(), Overall::Good, "{signed_before:?}");
    assert!(signed_before.certificates[0]
        .source
        .as_deref()
        .unwrap()
        .starts_with("ocsp "));
    let signed_after = check(&checker, &lab.compromised, after).await;
    let Overall::Revoked(message) = signed_after.overall() else {
        panic!("{signed_after:?}")
    };
    assert!(
        message.contains("(reason keyCompromise) according to OCSP"),
        "{message}"
    );
    let no_time = check(&checker, &lab.compromised, None).await;
    assert!(
        matches!(no_time.overall(), Overall::Revoked(_)),
        "{no_time:?}"
    );
    // CRL: the entry's invalidityDate.
    drop(responders);
    let checker = self::checker();
    let signed_before = check(&checker, &lab.compromised, before).await;
    assert_eq!(signed_before.overall(), Overall::Good, "{signed_before:?}");
    assert!(signed_before.certificates[0]
        .source
        .as_deref()
        .unwrap()
        .starts_with("crl "));
    let signed_after = check(&checker, &lab.compromised, after).await;
    assert!(
        matches!(signed_after.overall(), Overall::Revoked(_)),
        "{signed_after:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_endpoints_is_non_revocable() {
    let pki = support::Pki::new();
    let root = pki.issue("root", None, support::ROOT_EXT, "ec", "sha256");
    let ca = pki.issue("ca", Some("root"), support::CA_EXT, "ec", "sha256");
    let leaf = pki.issue("leaf", Some("ca"), support::LEAF_EXT, "ec", "sha256");
    let status = check(&checker(), &[leaf, ca, root], None).await;
    assert_eq!(status.certificates.len(), 3);
    for c in &status.certificates {
        assert_eq!(c.status, CertStatus::NonRevocable, "{c:?}");
        assert_eq!(c.source, None);
    }
    assert_eq!(status.overall(), Overall::Good);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_endpoints_are_unknown_quickly() {
    let mut lab = Lab::new();
    lab.close_unused();
    let start = Instant::now();
    let status = check(&checker(), &lab.good, None).await;
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    let reason = unknown_reason(&status.certificates[0].status);
    assert!(reason.contains(&lab.url(Port::CaOcsp, "")), "{reason}");
    assert!(reason.contains(&lab.url(Port::Crl, "ca.crl")), "{reason}");
    assert!(reason.to_lowercase().contains("refused"), "{reason}");
    assert!(reason.contains("CRL fallback"), "{reason}");
    let Overall::Unknown(message) = status.overall() else {
        panic!("{status:?}")
    };
    assert!(
        message.contains("certificate 0 (CN=leaf-good) is unknown"),
        "{message}"
    );
    assert!(
        message.contains("certificate 1 (CN=Signet Test CA) is unknown"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn black_hole_is_unknown_by_the_deadline() {
    let mut lab = Lab::new();
    let _holes = [
        black_hole(lab.take(Port::RootOcsp)),
        black_hole(lab.take(Port::CaOcsp)),
        black_hole(lab.take(Port::Crl)),
    ];
    let start = Instant::now();
    let status = checker()
        .check_chain(
            &lab.good,
            None,
            OffsetDateTime::now_utc(),
            start + Duration::from_millis(500),
        )
        .await;
    let elapsed = start.elapsed();
    assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
    assert!(elapsed >= Duration::from_millis(450), "{elapsed:?}");
    for c in &status.certificates[..2] {
        let reason = unknown_reason(&c.status);
        assert!(reason.contains("deadline passed"), "{reason}");
    }
    assert!(matches!(status.overall(), Overall::Unknown(_)));

    // The per-request timeout applies before a distant deadline.
    let options = RevocationOptions {
        ocsp_timeout: Duration::from_millis(200),
        crl_timeout: Duration::from_millis(200),
        ..RevocationOptions::default()
    };
    let start = Instant::now();
    let status = RevocationChecker::new(options)
        .unwrap()
        .check_chain(
            &lab.good,
            None,
            OffsetDateTime::now_utc(),
            start + Duration::from_secs(30),
        )
        .await;
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    let reason = unknown_reason(&status.certificates[0].status);
    assert!(reason.contains("no answer within 200 ms"), "{reason}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deadline_already_passed_is_unknown() {
    let (mut lab, _responders) = Lab::with_ocsp();
    let crl = lab.start_crl_server();
    let status = checker()
        .check_chain(&lab.good, None, OffsetDateTime::now_utc(), Instant::now())
        .await;
    let reason = unknown_reason(&status.certificates[0].status);
    assert!(reason.contains("deadline passed"), "{reason}");
    assert_eq!(crl.hits(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crl_signed_by_another_ca_is_unknown() {
    let mut lab = Lab::new();
    let crl = lab.start_crl_server();
    lab.close_unused();
    crl.serve("/ca.crl", lab.file("evil.crl"));
    let status = check(&checker(), &lab.good, None).await;
    let reason = unknown_reason(&status.certificates[0].status);
    assert!(
        reason.contains("the CRL signature does not verify"),
        "{reason}"
    );
    assert!(reason.contains(&lab.url(Port::Crl, "ca.crl")), "{reason}");
    // The intermediate's CRL (from the root) is fine.
    assert_eq!(status.certificates[1].status, CertStatus::Good);
    assert!(matches!(status.overall(), Overall::Unknown(_)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_crl_is_unknown() {
    let mut lab = Lab::new();
    let crl = lab.start_crl_server();
    lab.close_unused();
    // A CRL whose nextUpdate (2020-01-02) has passed.
    crl.serve("/ca.crl", lab.file("ca-expired.crl"));
    let status = check(&checker(), &lab.good, None).await;
    let reason = unknown_reason(&status.certificates[0].status);
    assert!(
        reason.contains("the CRL expired: nextUpdate 2020-01-02T00:00:00Z"),
        "{reason}"
    );
    assert_eq!(status.certificates[1].status, CertStatus::Good);

    // A valid CRL judged two days later (its nextUpdate is one day after issue).
    crl.serve("/ca.crl", lab.file("ca.crl"));
    let later = OffsetDateTime::now_utc() + time::Duration::days(2);
    let status = checker()
        .check_chain(
            &lab.good,
            None,
            later,
            Instant::now() + Duration::from_secs(10),
        )
        .await;
    let reason = unknown_reason(&status.certificates[0].status);
    assert!(reason.contains("the CRL expired"), "{reason}");
}

#[test]
fn check_chain_future_is_send() {
    fn assert_send<T: Send>(_: &T) {}
    let checker = checker();
    let chain = Vec::new();
    let future = checker.check_chain(&chain, None, OffsetDateTime::now_utc(), Instant::now());
    assert_send(&future);
}

#[test]
fn options_are_validated() {
    let zero = RevocationOptions {
        max_cache_entries: 0,
        ..RevocationOptions::default()
    };
    assert!(RevocationChecker::new(zero).is_err());
    assert!(RevocationChecker::new(RevocationOptions::default()).is_ok());
}

#[test]
fn empty_chain_is_unknown() {
    let status = ChainStatus {
        certificates: Vec::new(),
    };
    assert!(matches!(status.overall(), Overall::Unknown(_)));
}

// ---------------------------------------------------------------------------------------------
// The revocation step of the verification flow: Notary Project JWS envelopes signed by the
// lab's leaves (P-256, so ES256) with Python `cryptography`, verified by `verify_envelope` under
// a trust policy whose `ca:lab` store holds the lab root.

impl Lab {
    /// A Notary Project JWS envelope over `flow_subject()`, signed with `leaf`'s key (the lab's
    /// leaves are P-256: ES256), with `chain` (leaf, CA, root) in x5c.
    fn envelope(&self, leaf: &str, chain: &[Vec<u8>]) -> Vec<u8> {
        support::es256_jws(&self.pki.path(&format!("{leaf}.key")), chain, |_| None)
    }

    /// The verifier's stores: `ca:lab` holds the lab root.
    fn stores(&self) -> TrustStores {
        let mut stores = TrustStores::new();
        stores
            .add(
                StoreRef {
                    store_type: StoreType::Ca,
                    name: "lab".into(),
                },
                load_cert_file(&self.pki.path("root.crt")).unwrap(),
            )
            .unwrap();
        stores
    }

    /// Verifies `envelope` under the one-policy document with `signature_verification`, with
    /// `checker` (so a test can share or renew its cache).
    async fn verify_with(
        &self,
        checker: &RevocationChecker,
        envelope: &[u8],
        signature_verification: serde_json::Value,
    ) -> Verdict {
        let stores = self.stores();
        let doc = TrustPolicyDocument::from_value(
            json!({"version": "1.0", "trustPolicies": [{
                "name": "p",
                "registryScopes": ["*"],
                "signatureVerification": signature_verification,
                "trustStores": ["ca:lab"],
                "trustedIdentities": ["*"]
            }]}),
            &stores,
        )
        .unwrap();
        let subject = support::flow_subject();
        let inputs = Inputs {
            policy: &doc.policies[0],
            stores: &stores,
            subject: &subject,
            now: OffsetDateTime::now_utc(),
            revocation: checker,
            deadline: Instant::now() + Duration::from_secs(10),
        };
        verify_envelope(EnvelopeFormat::Jws, envelope, &inputs).await
    }

    /// `verify_with` and a fresh checker (no cached answers).
    async fn verify(&self, envelope: &[u8], signature_verification: serde_json::Value) -> Verdict {
        self.verify_with(&checker(), envelope, signature_verification)
            .await
    }
}

/// The enforced failure of `v`, which must be a revocation failure with `reason`.
fn revocation_failure(v: &Verdict, reason: ReasonCode) -> &Failure {
    let failure = v
        .failure
        .as_ref()
        .unwrap_or_else(|| panic!("expected a {reason:?} failure: {v:#?}"));
    assert_eq!(failure.reason, reason, "{v:#?}");
    assert_eq!(failure.validation, Validation::Revocation, "{v:#?}");
    assert!(v.warnings.is_empty(), "{v:#?}");
    failure
}

/// `v` passed with exactly one warning, which is returned.
fn one_warning(v: &Verdict) -> &str {
    assert!(v.failure.is_none(), "{v:#?}");
    let [warning] = &v.warnings[..] else {
        panic!("expected exactly one warning: {v:#?}")
    };
    warning
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flow_good_leaf_passes_strict() {
    let (mut lab, _responders) = Lab::with_ocsp();
    let crl = lab.start_crl_server();
    let env = lab.envelope("leaf-good", &lab.good);
    let v = lab.verify(&env, json!({"level": "strict"})).await;
    assert!(v.failure.is_none(), "{v:#?}");
    assert!(v.warnings.is_empty(), "{v:#?}");
    assert_eq!(v.details.subject.as_deref(), Some("CN=leaf-good"));
    assert_eq!(v.details.trust_store.as_deref(), Some("ca:lab"));
    assert_eq!(v.details.certificates.len(), 3);
    // OCSP answered for the leaf and the CA.
    assert_eq!(crl.hits(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flow_revoked_leaf_fails_strict() {
    let (mut lab, responders) = Lab::with_ocsp();
    let crl = lab.start_crl_server();
    let env = lab.envelope("leaf-revoked", &lab.revoked);
    let v = lab.verify(&env, json!({"level": "strict"})).await;
    let failure = revocation_failure(&v, ReasonCode::CertificateRevoked);
    assert!(
        failure
            .message
            .contains("certificate 0 (CN=leaf-revoked) is revoked (reason keyCompromise)"),
        "{failure:?}"
    );
    assert!(
        failure.message.contains("according to OCSP responder"),
        "{failure:?}"
    );
    assert_eq!(crl.hits(), 0);

    // The responders gone, a fresh checker: the CRL says the same.
    drop(responders);
    let v = lab.verify(&env, json!({"level": "strict"})).await;
    let failure = revocation_failure(&v, ReasonCode::CertificateRevoked);
    assert!(
        failure.message.contains("CN=leaf-revoked") && failure.message.contains("revoked"),
        "{failure:?}"
    );
    assert!(
        failure
            .message
            .contains("according to CRL http://127.0.0.1:"),
        "{failure:?}"
    );
    assert!(crl.hits() > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flow_revoked_leaf_is_logged_under_permissive() {
    let (mut lab, _responders) = Lab::with_ocsp();
    let _crl = lab.start_crl_server();
    let env = lab.envelope("leaf-revoked", &lab.revoked);
    let v = lab.verify(&env, json!({"level": "permissive"})).await;
    let warning = one_warning(&v);
    assert!(warning.contains("revocation"), "{warning}");
    assert!(warning.contains("revoked"), "{warning}");
    assert!(warning.contains("CN=leaf-revoked"), "{warning}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flow_revocation_override_skip_checks_nothing() {
    // No OCSP responder (refused), only the CRL server, which says the leaf is revoked.
    let mut lab = Lab::new();
    let crl = lab.start_crl_server();
    lab.close_unused();
    let env = lab.envelope("leaf-revoked", &lab.revoked);
    let v = lab
        .verify(
            &env,
            json!({"level": "strict", "override": {"revocation": "skip"}}),
        )
        .await;
    assert!(v.failure.is_none(), "{v:#?}");
    assert!(v.warnings.is_empty(), "{v:#?}");
    // Skipped means not fetched at all.
    assert_eq!(crl.hits(), 0);
    // Control: without the override the same envelope fails, from the CRL.
    let v = lab.verify(&env, json!({"level": "strict"})).await;
    revocation_failure(&v, ReasonCode::CertificateRevoked);
    assert!(crl.hits() > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flow_unreachable_endpoints_are_unknown_unless_logged() {
    let mut lab = Lab::new();
    lab.close_unused(); // responders and CRL server: connection refused
    let env = lab.envelope("leaf-good", &lab.good);
    let v = lab.verify(&env, json!({"level": "strict"})).await;
    let failure = revocation_failure(&v, ReasonCode::RevocationUnknown);
    assert!(
        failure
            .message
            .contains("certificate 0 (CN=leaf-good) is unknown"),
        "{failure:?}"
    );

    let v = lab
        .verify(
            &env,
            json!({"level": "strict", "override": {"revocation": "log"}}),
        )
        .await;
    let warning = one_warning(&v);
    assert!(warning.contains("revocation"), "{warning}");
    assert!(warning.contains("CN=leaf-good) is unknown"), "{warning}");
}
