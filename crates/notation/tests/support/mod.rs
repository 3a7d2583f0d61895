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
