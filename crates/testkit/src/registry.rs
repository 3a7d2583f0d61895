//! Real OCI registries started on 127.0.0.1 for one test, with push helpers and ready-made
//! `oras` / `cosign` commands.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use base64::Engine as _;
use rand::distr::{Alphanumeric, SampleString};
use reqwest::{header, Method, StatusCode, Url};
use serde_json::{json, Value};
use signet_types::oci::{is_index_media_type, MANIFEST_ACCEPT, OCI_INDEX, OCI_MANIFEST};
use signet_types::{Descriptor, Digest, ImageIndex};
use tempfile::TempDir;

use crate::{free_port, run_ok, tools_bin, TestCa, READY_TIMEOUT};

/// Which registry implementation a [`Registry`] runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistryKind {
    /// Debian's `docker-registry` (distribution 2.8.2): no referrers API, so clients must fall
    /// back to the referrers tag schema; accepts but does not index `subject`.
    Distribution,
    /// `ferro-oci-server` 1.0.0: implements the OCI 1.1 referrers API.
    Ferro,
}

/// A real OCI registry process listening on `127.0.0.1:<free port>`, with its storage, config,
/// certificates and a scratch `HOME` in a temporary directory.
///
/// Dropping it kills the process, waits for it, and removes the directory.
pub struct Registry {
    kind: RegistryKind,
    port: u16,
    tls: bool,
    ca_file: Option<PathBuf>,
    credentials: Option<(String, String)>,
    docker_config_dir: Option<PathBuf>,
    home: PathBuf,
    log: PathBuf,
    http: reqwest::Client,
    child: Child,
    // Declared last so it is removed after the process is gone (fields drop after `drop`).
    dir: TempDir,
}

/// What a started process needs to be probed for readiness.
struct Launch {
    child: Child,
    port: u16,
}

impl Registry {
    /// Starts Debian's `docker-registry` serving HTTPS with a certificate from a fresh
    /// [`TestCa`] (see [`Registry::ca_file`]) and htpasswd basic auth with a random password
    /// (see [`Registry::credentials`]), storage and deletes enabled in a temp dir.
    ///
    /// This is the "production-like" registry: TLS with a private CA, credentials, no referrers
    /// API. Ready once `GET /v2/` answers 401.
    ///
    /// Quirks of distribution 2.8.2 the helpers here take care of: manifest GETs need an OCI
    /// `Accept` header (else 404), and a single-POST monolithic upload is ignored, so blobs are
    /// uploaded with POST then PUT `?digest=`.
    pub async fn start_distribution() -> Result<Registry> {
        Self::start_distribution_with(Some(ServerCert::PrivateCa), true).await
    }

    /// Starts `docker-registry` over TLS with a self-signed certificate made by `openssl req
    /// -x509` (OpenSSL 3 marks it `CA:TRUE`, as Docker's self-signed registry recipe does), valid
    /// for `127.0.0.1` only, no auth. [`Registry::ca_file`] is that very certificate. The test
    /// kit's own client accepts it without checks (it is the fixture, not the client under test).
    pub async fn start_distribution_self_signed() -> Result<Registry> {
        Self::start_distribution_with(Some(ServerCert::SelfSigned), false).await
    }

    /// Starts `docker-registry` over plain HTTP without auth: for tests that want the tag-schema
    /// fallback without TLS or credentials in the way. Ready once `GET /v2/` answers 200.
    pub async fn start_distribution_plain_noauth() -> Result<Registry> {
        Self::start_distribution_with(None, false).await
    }

    async fn start_distribution_with(cert: Option<ServerCert>, auth: bool) -> Result<Registry> {
        let tls = cert.is_some();
        let self_signed = cert == Some(ServerCert::SelfSigned);
        let dir = tempfile::Builder::new()
            .prefix("signet-distribution-")
            .tempdir()
            .context("create temp dir")?;
        let root = dir.path().to_path_buf();
        let storage = root.join("storage");
        std::fs::create_dir_all(&storage)?;

        let ca_file = match cert {
            Some(ServerCert::PrivateCa) => {
                let ca = TestCa::new("signet testkit registry CA");
                let server = ca.issue_server(&["127.0.0.1", "localhost"]);
                server.write(&root, "registry-tls");
                Some(ca.write_cert(&root.join("registry-ca.pem")))
            }
            Some(ServerCert::SelfSigned) => {
                run_ok(
                    Command::new("openssl")
                        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
                        .args(["ec_paramgen_curve:P-256", "-nodes", "-days", "2"])
                        .args([
                            "-subj",
                            "/CN=127.0.0.1",
                            "-addext",
                            "subjectAltName=IP:127.0.0.1",
                        ])
                        .arg("-keyout")
                        .arg(root.join("registry-tls.key"))
                        .arg("-out")
                        .arg(root.join("registry-tls.crt")),
                )
                .context("openssl req -x509 makes the self-signed registry certificate")?;
                Some(root.join("registry-tls.crt"))
            }
            None => None,
        };
        let credentials = if auth {
            let user = "signet".to_string();
            let pass = Alphanumeric.sample_string(&mut rand::rng(), 24);
            let out = run_ok(Command::new("htpasswd").args(["-Bbn", &user, &pass]))
                .context("htpasswd (apache2-utils) makes the bcrypt password file")?;
            std::fs::write(root.join("htpasswd"), &out.stdout)?;
            Some((user, pass))
        } else {
            None
        };

        let bin = if Path::new("/usr/bin/docker-registry").exists() {
            PathBuf::from("/usr/bin/docker-registry")
        } else {
            PathBuf::from("docker-registry")
        };
        let log = root.join("registry.log");
        let expected = if auth {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::OK
        };
        let client = http_client(ca_file.as_deref(), self_signed)?;
        let launch = launch_with_retries(&log, expected, tls, &client, |port| {
            let mut config = format!(
                "version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {storage}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
                storage = storage.display()
            );
            if tls {
                config.push_str(&format!(
                    "  tls:\n    certificate: {}\n    key: {}\n",
                    root.join("registry-tls.crt").display(),
                    root.join("registry-tls.key").display()
                ));
            }
            if auth {
                config.push_str(&format!(
                    "auth:\n  htpasswd:\n    realm: signet-testkit\n    path: {}\n",
                    root.join("htpasswd").display()
                ));
            }
            let config_path = root.join("config.yml");
            std::fs::write(&config_path, config)?;
            let mut cmd = Command::new(&bin);
            cmd.arg("serve").arg(&config_path);
            // REGISTRY_* variables override the config file; make sure none leak in.
            for (k, _) in std::env::vars_os() {
                if k.to_string_lossy().starts_with("REGISTRY_") {
                    cmd.env_remove(k);
                }
            }
            Ok(cmd)
        })
        .await?;

        let docker_config_dir = match &credentials {
            Some((user, pass)) => {
                let d = root.join("docker");
                std::fs::create_dir_all(&d)?;
                let auth =
                    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
                let cfg = json!({"auths": {format!("127.0.0.1:{}", launch.port): {"auth": auth}}});
                std::fs::write(d.join("config.json"), serde_json::to_vec_pretty(&cfg)?)?;
                Some(d)
            }
            None => None,
        };
        Self::finish(
            RegistryKind::Distribution,
            launch,
            tls,
            client,
            ca_file,
            credentials,
            docker_config_dir,
            log,
            dir,
        )
    }

    /// Starts `ferro-oci-server` (from [`tools_bin`]) over plain HTTP without auth, storage in a
    /// temp dir: the registry with the OCI 1.1 referrers API. Ready once `GET /v2/` answers 200.
    pub async fn start_ferro() -> Result<Registry> {
        let dir = tempfile::Builder::new()
            .prefix("signet-ferro-")
            .tempdir()
            .context("create temp dir")?;
        let root = dir.path().to_path_buf();
        let storage = root.join("storage");
        std::fs::create_dir_all(&storage)?;
        let bin = tools_bin().join("ferro-oci-server");
        if !bin.exists() {
            bail!(
                "{} is missing: run scripts/install-test-deps.sh",
                bin.display()
            );
        }
        let log = root.join("registry.log");
        let client = http_client(None, false)?;
        let launch = launch_with_retries(&log, StatusCode::OK, false, &client, |port| {
            let mut cmd = Command::new(&bin);
            cmd.env("FERRO_OCI_LISTEN", format!("127.0.0.1:{port}"))
                .env("FERRO_OCI_STORAGE_DIR", &storage)
                .env("NO_COLOR", "1")
                .env("RUST_LOG", "info");
            Ok(cmd)
        })
        .await?;
        Self::finish(
            RegistryKind::Ferro,
            launch,
            false,
            client,
            None,
            None,
            None,
            log,
            dir,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn finish(
        kind: RegistryKind,
        launch: Launch,
        tls: bool,
        http: reqwest::Client,
        ca_file: Option<PathBuf>,
        credentials: Option<(String, String)>,
        docker_config_dir: Option<PathBuf>,
        log: PathBuf,
        dir: TempDir,
    ) -> Result<Registry> {
        let home = dir.path().join("home");
        std::fs::create_dir_all(&home)?;
        Ok(Registry {
            kind,
            port: launch.port,
            tls,
            ca_file,
            credentials,
            docker_config_dir,
            home,
            log,
            http,
            child: launch.child,
            dir,
        })
    }

    /// Which implementation this is.
    pub fn kind(&self) -> RegistryKind {
        self.kind
    }

    /// `127.0.0.1:PORT`, the registry host as it appears in image references and config keys.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `https` or `http`.
    pub fn scheme(&self) -> &'static str {
        if self.tls {
            "https"
        } else {
            "http"
        }
    }

    /// True when the registry serves the OCI 1.1 referrers API (ferro), false when clients must
    /// use the referrers tag schema (distribution).
    pub fn has_referrers_api(&self) -> bool {
        self.kind == RegistryKind::Ferro
    }

    /// PEM file of the CA that signed the registry's TLS certificate (HTTPS registries only).
    pub fn ca_file(&self) -> Option<&Path> {
        self.ca_file.as_deref()
    }

    /// Basic-auth user and password (registries with auth only).
    pub fn credentials(&self) -> Option<(String, String)> {
        self.credentials.clone()
    }

    /// A directory holding a Docker `config.json` whose `auths` has the base64 `user:pass` for
    /// [`Registry::host`]: what `DOCKER_CONFIG` should point at for Docker-credential-aware
    /// tools (registries with auth only).
    pub fn docker_config_dir(&self) -> Option<&Path> {
        self.docker_config_dir.as_deref()
    }

    /// A temp directory owned by this registry that tests may use for scratch files; removed on drop.
    pub fn temp_dir(&self) -> &Path {
        self.dir.path()
    }

    /// `127.0.0.1:PORT/<repo_and_tag_or_digest>`, e.g. `reference("app:v1")` or
    /// `reference("app@sha256:…")`.
    pub fn reference(&self, repo_and_tag_or_digest: &str) -> String {
        format!("{}/{}", self.host(), repo_and_tag_or_digest)
    }

    /// The base URL, `https://127.0.0.1:PORT` or `http://…`.
    pub fn base_url(&self) -> String {
        format!("{}://{}", self.scheme(), self.host())
    }

    /// The registry's log so far (stdout and stderr), for failing-test diagnostics.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// A reqwest client that trusts the registry's CA (and nothing else) and bypasses proxies.
    /// Requests still need credentials: see [`Registry::request`].
    pub fn http_client(&self) -> &reqwest::Client {
        &self.http
    }

    /// A request to `<base_url><path>` with basic auth when the registry has credentials.
    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.request_url(method, &format!("{}{path}", self.base_url()))
    }

    fn request_url(&self, method: Method, url: &str) -> reqwest::RequestBuilder {
        let rb = self.http.request(method, url);
        match &self.credentials {
            Some((u, p)) => rb.basic_auth(u, Some(p)),
            None => rb,
        }
    }

    /// Uploads `bytes` as a blob of `repo` (POST then PUT `?digest=`, skipped when the blob is
    /// already there) and returns its sha256 digest.
    pub async fn push_blob(&self, repo: &str, bytes: &[u8]) -> Result<Digest> {
        let digest = Digest::sha256_of(bytes);
        let head = self
            .request(Method::HEAD, &format!("/v2/{repo}/blobs/{digest}"))
            .send()
            .await
            .context("HEAD blob")?;
        if head.status() == StatusCode::OK {
            return Ok(digest);
        }
        let start = self
            .request(Method::POST, &format!("/v2/{repo}/blobs/uploads/"))
            .header(header::CONTENT_LENGTH, "0")
            .send()
            .await
            .context("POST blob upload")?;
        let status = start.status();
        if status != StatusCode::ACCEPTED {
            bail!(
                "POST /v2/{repo}/blobs/uploads/ answered {status}: {}",
                start.text().await.unwrap_or_default()
            );
        }
        let location = start
            .headers()
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| anyhow!("upload start answered without Location"))?;
        let base = Url::parse(&format!("{}/", self.base_url()))?;
        let mut url = base
            .join(location)
            .with_context(|| format!("bad upload Location {location:?}"))?;
        url.query_pairs_mut()
            .append_pair("digest", &digest.to_string());
        let put = self
            .request_url(Method::PUT, url.as_str())
            .header(header::CONTENT_TYPE, "application/octet-stream")
            .body(bytes.to_vec())
            .send()
            .await
            .context("PUT blob")?;
        let status = put.status();
        if status != StatusCode::CREATED {
            bail!(
                "PUT blob {digest} to {repo} answered {status}: {}",
                put.text().await.unwrap_or_default()
            );
        }
        Ok(digest)
    }

    /// PUTs `bytes` as a manifest of `repo` at `reference` (a tag or a digest) with
    /// `Content-Type: media_type`, and returns the sha256 of `bytes`.
    pub async fn push_manifest(
        &self,
        repo: &str,
        reference: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<Digest> {
        let digest = Digest::sha256_of(bytes);
        let resp = self
            .request(Method::PUT, &format!("/v2/{repo}/manifests/{reference}"))
            .header(header::CONTENT_TYPE, media_type)
            .body(bytes.to_vec())
            .send()
            .await
            .context("PUT manifest")?;
        let status = resp.status();
        if !status.is_success() {
            bail!(
                "PUT manifest {repo}:{reference} answered {status}: {}",
                resp.text().await.unwrap_or_default()
            );
        }
        if let Some(said) = resp
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
        {
            if said != digest.to_string() {
                bail!("registry computed digest {said} for manifest {digest}");
            }
        }
        Ok(digest)
    }

    /// Pushes an OCI image layout directory (`oci-layout`, `index.json`, `blobs/sha256/…`) into
    /// `repo`: every blob first, then every manifest listed in `index.json` by digest, and again
    /// by the tag in its `org.opencontainers.image.ref.name` annotation. Manifests a listed
    /// manifest depends on (an index's children, a `subject`) are pushed before it when the layout
    /// holds them. Returns tag → digest.
    pub async fn push_oci_layout(
        &self,
        repo: &str,
        layout_dir: &Path,
    ) -> Result<BTreeMap<String, Digest>> {
        let index_bytes = std::fs::read(layout_dir.join("index.json"))
            .with_context(|| format!("read {}/index.json", layout_dir.display()))?;
        let index: ImageIndex = serde_json::from_slice(&index_bytes)
            .with_context(|| format!("parse {}/index.json", layout_dir.display()))?;
        let blob_dir = layout_dir.join("blobs/sha256");
        let mut names: Vec<PathBuf> = std::fs::read_dir(&blob_dir)
            .with_context(|| format!("read {}", blob_dir.display()))?
            .map(|e| e.map(|e| e.path()))
            .collect::<std::io::Result<_>>()?;
        names.sort();
        for path in &names {
            let bytes = std::fs::read(path)?;
            let digest = self.push_blob(repo, &bytes).await?;
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
            if name.as_deref() != Some(digest.hex()) {
                bail!(
                    "layout blob {} does not hash to its name (sha256 {})",
                    path.display(),
                    digest.hex()
                );
            }
        }
        let mut pushed = BTreeSet::new();
        let mut tags = BTreeMap::new();
        for desc in &index.manifests {
            self.push_layout_manifest(repo, &blob_dir, desc, &mut pushed)
                .await?;
            if let Some(tag) = desc.annotations.get("org.opencontainers.image.ref.name") {
                let bytes = std::fs::read(blob_dir.join(desc.digest.hex()))?;
                self.push_manifest(repo, tag, &desc.media_type, &bytes)
                    .await?;
                tags.insert(tag.clone(), desc.digest.clone());
            }
        }
        Ok(tags)
    }

    /// Pushes the manifest `desc` of a layout by digest after the manifests it depends on.
    async fn push_layout_manifest(
        &self,
        repo: &str,
        blob_dir: &Path,
        desc: &Descriptor,
        pushed: &mut BTreeSet<Digest>,
    ) -> Result<()> {
        // Iterative depth-first order: dependencies (index children, subject) before dependants.
        let mut stack: Vec<(Descriptor, bool)> = vec![(desc.clone(), false)];
        while let Some((d, deps_done)) = stack.pop() {
            if pushed.contains(&d.digest) {
                continue;
            }
            let path = blob_dir.join(d.digest.hex());
            let bytes = std::fs::read(&path)
                .with_context(|| format!("layout lacks manifest {}", d.digest))?;
            if !deps_done {
                stack.push((d.clone(), true));
                let doc: Value = serde_json::from_slice(&bytes)
                    .with_context(|| format!("manifest {} is not JSON", d.digest))?;
                let mut deps: Vec<Descriptor> = Vec::new();
                if is_index_media_type(&d.media_type) {
                    if let Some(children) = doc.get("manifests") {
                        deps.extend(serde_json::from_value::<Vec<Descriptor>>(children.clone())?);
                    }
                }
                if let Some(subject) = doc.get("subject") {
                    deps.push(serde_json::from_value(subject.clone())?);
                }
                for dep in deps {
                    if !pushed.contains(&dep.digest) && blob_dir.join(dep.digest.hex()).exists() {
                        stack.push((dep, false));
                    }
                }
                continue;
            }
            self.push_manifest(repo, &d.digest.to_string(), &d.media_type, &bytes)
                .await?;
            pushed.insert(d.digest.clone());
        }
        Ok(())
    }

    /// Pushes a small, valid OCI image to `repo:tag`: an image config blob and one uncompressed
    /// tar layer holding a file whose content includes `seed` (so different seeds give different
    /// digests). Returns the manifest's descriptor (media type, digest, size).
    pub async fn push_sample_image(&self, repo: &str, tag: &str, seed: &str) -> Result<Descriptor> {
        let layer = tar_with_file(
            "seed.txt",
            format!("signet sample image: {seed}\n").as_bytes(),
        );
        let layer_digest = self.push_blob(repo, &layer).await?;
        let config = serde_json::to_vec(&json!({
            "architecture": "amd64",
            "os": "linux",
            "config": {"Labels": {"dev.signet.testkit.seed": seed}},
            "rootfs": {"type": "layers", "diff_ids": [layer_digest.to_string()]}
        }))?;
        let config_digest = self.push_blob(repo, &config).await?;
        let manifest = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": config_digest.to_string(),
                "size": config.len()
            },
            "layers": [{
                "mediaType": "application/vnd.oci.image.layer.v1.tar",
                "digest": layer_digest.to_string(),
                "size": layer.len()
            }]
        }))?;
        let digest = self
            .push_manifest(repo, tag, OCI_MANIFEST, &manifest)
            .await?;
        Ok(Descriptor {
            media_type: OCI_MANIFEST.to_string(),
            digest,
            size: manifest.len() as u64,
            artifact_type: None,
            annotations: BTreeMap::new(),
            platform: None,
        })
    }

    /// GETs a manifest (by tag or digest) with every manifest media type in `Accept` (which
    /// distribution requires). Returns the `Content-Type` and the bytes; fails on a non-2xx
    /// answer. The digest is NOT checked: tests use this to look at what tools wrote.
    pub async fn get_manifest(&self, repo: &str, reference: &str) -> Result<(String, Vec<u8>)> {
        let resp = self
            .request(Method::GET, &format!("/v2/{repo}/manifests/{reference}"))
            .header(header::ACCEPT, MANIFEST_ACCEPT.join(", "))
            .send()
            .await
            .context("GET manifest")?;
        let status = resp.status();
        if !status.is_success() {
            bail!("GET manifest {repo}:{reference} answered {status}");
        }
        let media_type = resp
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        Ok((media_type, resp.bytes().await?.to_vec()))
    }

    /// GETs a blob's bytes (not digest-checked).
    pub async fn get_blob(&self, repo: &str, digest: &Digest) -> Result<Vec<u8>> {
        let resp = self
            .request(Method::GET, &format!("/v2/{repo}/blobs/{digest}"))
            .send()
            .await
            .context("GET blob")?;
        let status = resp.status();
        if !status.is_success() {
            bail!("GET blob {repo}@{digest} answered {status}");
        }
        Ok(resp.bytes().await?.to_vec())
    }

    /// The tags of `repo` (`GET /v2/<repo>/tags/list`); empty when the repository is unknown.
    pub async fn tags(&self, repo: &str) -> Result<Vec<String>> {
        let resp = self
            .request(Method::GET, &format!("/v2/{repo}/tags/list"))
            .send()
            .await
            .context("GET tags")?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Ok(Vec::new());
        }
        let status = resp.status();
        if !status.is_success() {
            bail!("GET tags of {repo} answered {status}");
        }
        let v: Value = resp.json().await?;
        Ok(v.get("tags")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|t| t.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// The referrers of `repo@digest` from the referrers API (`None` when the registry answers
    /// 404, as distribution does).
    pub async fn referrers(&self, repo: &str, digest: &Digest) -> Result<Option<ImageIndex>> {
        let resp = self
            .request(Method::GET, &format!("/v2/{repo}/referrers/{digest}"))
            .header(header::ACCEPT, OCI_INDEX)
            .send()
            .await
            .context("GET referrers")?;
        match resp.status() {
            StatusCode::NOT_FOUND => Ok(None),
            s if s.is_success() => Ok(Some(resp.json().await?)),
            s => bail!("GET referrers of {repo}@{digest} answered {s}"),
        }
    }

    /// `oras` from [`tools_bin`] with `HOME` set to this registry's scratch home, so no user
    /// credentials or config leak in. Add [`Registry::oras_flags`] AFTER the subcommand
    /// (`oras attach <flags> …`): before it, a boolean flag swallows the next word, e.g.
    /// `oras --plain-http discover REF` fails with `unknown command "REF" for "oras"`.
    ///
    /// Checked against both registries (tests/tools.rs): `oras attach --artifact-type T REF
    /// file:application/json` uses the referrers API on ferro and the referrers tag schema
    /// (`sha256-<hex>` index) on distribution, and `oras discover -o json REF` lists the result.
    pub fn oras(&self) -> Command {
        let mut cmd = Command::new(tools_bin().join("oras"));
        cmd.env("HOME", &self.home)
            .env_remove("DOCKER_CONFIG")
            .stdin(Stdio::null());
        cmd
    }

    /// The flags oras needs for this registry: `--ca-file <ca> -u <user> -p <pass>` for the
    /// HTTPS registry with auth, `--plain-http` for a plain-HTTP one.
    pub fn oras_flags(&self) -> Vec<String> {
        let mut flags = Vec::new();
        if let Some(ca) = &self.ca_file {
            flags.push("--ca-file".to_string());
            flags.push(ca.display().to_string());
        }
        if !self.tls {
            flags.push("--plain-http".to_string());
        }
        if let Some((u, p)) = &self.credentials {
            flags.extend(["-u".to_string(), u.clone(), "-p".to_string(), p.clone()]);
        }
        flags
    }

    /// `cosign` from [`tools_bin`] set up for this registry through the environment:
    /// - `HOME` = scratch home (cosign writes `~/.sigstore`), `TUF_ROOT` under it;
    /// - `DOCKER_CONFIG` = [`Registry::docker_config_dir`] for registries with auth (required:
    ///   without it distribution answers `UNAUTHORIZED: authentication required`), else an empty
    ///   dir so the user's credentials never leak in;
    /// - `SSL_CERT_FILE` = the registry CA for HTTPS (required: cosign has no CA flag for
    ///   registries, and without it Go fails with `x509: certificate signed by unknown authority`);
    /// - `COSIGN_PASSWORD=""` (keys from [`cosign_generate_key_pair`] have an empty password) and
    ///   `COSIGN_YES=true` (no confirmation prompt).
    ///
    /// Add [`Registry::cosign_flags`] after the subcommand. Checked (tests/tools.rs):
    /// `cosign sign --key K --tlog-upload=false REF@DIGEST` writes `sha256-<hex>.sig` on both
    /// registries, and with `COSIGN_EXPERIMENTAL=1 … --registry-referrers-mode=oci-1-1` it writes
    /// an OCI 1.1 referrer that ferro's referrers API lists.
    pub fn cosign(&self) -> Command {
        let mut cmd = Command::new(tools_bin().join("cosign"));
        cmd.env("HOME", &self.home)
            .env("COSIGN_PASSWORD", "")
            .env("COSIGN_YES", "true")
            .env("TUF_ROOT", self.home.join(".sigstore/root"))
            .stdin(Stdio::null());
        match &self.docker_config_dir {
            Some(d) => cmd.env("DOCKER_CONFIG", d),
            None => cmd.env("DOCKER_CONFIG", self.home.join(".docker")),
        };
        if let Some(ca) = &self.ca_file {
            cmd.env("SSL_CERT_FILE", ca);
        }
        cmd
    }

    /// The flags cosign needs for this registry: `--allow-http-registry` for plain HTTP, nothing
    /// for HTTPS (its CA comes from `SSL_CERT_FILE`). On 127.0.0.1 cosign (go-containerregistry)
    /// already falls back to plain HTTP by itself, so the flag is belt and braces there; it is
    /// what cosign documents for plain-HTTP registries. `--allow-insecure-registry` (skip TLS
    /// verification) is never needed.
    pub fn cosign_flags(&self) -> Vec<String> {
        if self.tls {
            Vec::new()
        } else {
            vec!["--allow-http-registry".to_string()]
        }
    }
}

impl Registry {
    /// Stops the registry process (its port then refuses connections), as a registry outage.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("kind", &self.kind)
            .field("url", &self.base_url())
            .field("dir", &self.dir.path())
            .finish_non_exhaustive()
    }
}

/// Runs `cosign generate-key-pair` in `dir` with an empty password and returns
/// `(dir/cosign.key, dir/cosign.pub)`. Panics with cosign's output if it fails (test set-up).
pub fn cosign_generate_key_pair(dir: &Path) -> (PathBuf, PathBuf) {
    let home = dir.join(".cosign-home");
    std::fs::create_dir_all(&home).unwrap_or_else(|e| panic!("create {}: {e}", home.display()));
    let mut cmd = Command::new(tools_bin().join("cosign"));
    cmd.arg("generate-key-pair")
        .current_dir(dir)
        .env("HOME", &home)
        .env("COSIGN_PASSWORD", "")
        .env("COSIGN_YES", "true")
        .stdin(Stdio::null());
    if let Err(e) = run_ok(&mut cmd) {
        panic!("cosign generate-key-pair: {e:#}");
    }
    (dir.join("cosign.key"), dir.join("cosign.pub"))
}

/// How a TLS registry's server certificate is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ServerCert {
    /// Issued by a private test CA ([`TestCa`]).
    PrivateCa,
    /// Self-signed by `openssl req -x509` (CA:TRUE).
    SelfSigned,
}

fn http_client(ca_file: Option<&Path>, accept_any: bool) -> Result<reqwest::Client> {
    let mut b = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .connect_timeout(Duration::from_secs(5));
    if accept_any {
        b = b.use_rustls_tls().danger_accept_invalid_certs(true);
    } else if let Some(ca) = ca_file {
        let pem = std::fs::read(ca)?;
        b = b
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(&pem)?);
    }
    Ok(b.build()?)
}

/// Starts the command `make(port)` builds on fresh ports until it answers `GET /v2/` with
/// `expected`, retrying (up to 3 times) only when the process died because another process took
/// the port between [`free_port`] and its bind.
async fn launch_with_retries<F>(
    log: &Path,
    expected: StatusCode,
    tls: bool,
    client: &reqwest::Client,
    mut make: F,
) -> Result<Launch>
where
    F: FnMut(u16) -> Result<Command>,
{
    let mut last_err = None;
    for _ in 0..3 {
        let port = free_port();
        let mut cmd = make(port)?;
        let out = File::create(log)?;
        let err = out.try_clone()?;
        cmd.stdin(Stdio::null()).stdout(out).stderr(err);
        let child = cmd
            .spawn()
            .with_context(|| format!("cannot start {cmd:?}"))?;
        let mut launch = Launch { child, port };
        let url = format!(
            "{}://127.0.0.1:{port}/v2/",
            if tls { "https" } else { "http" }
        );
        let mut exited = false;
        let until = std::time::Instant::now() + READY_TIMEOUT;
        let ready: Result<()> = loop {
            match launch.child.try_wait() {
                Ok(Some(code)) => {
                    exited = true;
                    break Err(anyhow!("registry exited with {code}"));
                }
                Err(e) => break Err(anyhow!("cannot poll the registry process: {e}")),
                Ok(None) => {}
            }
            match client
                .get(&url)
                .timeout(Duration::from_secs(2))
                .send()
                .await
            {
                Ok(resp) if resp.status() == expected => break Ok(()),
                Ok(resp) => {
                    break Err(anyhow!(
                        "GET {url} answered {} instead of {expected}",
                        resp.status()
                    ))
                }
                Err(_) => {}
            }
            if std::time::Instant::now() >= until {
                break Err(anyhow!("registry not ready after {READY_TIMEOUT:?}"));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        match ready {
            Ok(()) => return Ok(launch),
            Err(e) => {
                let _ = launch.child.kill();
                let _ = launch.child.wait();
                let text = std::fs::read_to_string(log).unwrap_or_default();
                let tail: String = text
                    .lines()
                    .rev()
                    .take(20)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect::<Vec<_>>()
                    .join("\n");
                let port_taken =
                    exited && text.to_ascii_lowercase().contains("address already in use");
                last_err = Some(anyhow!("{e}; log tail:\n{tail}"));
                if !port_taken {
                    break;
                }
            }
        }
    }
    Err(last_err.unwrap_or_else(|| anyhow!("registry did not start")))
}

/// A POSIX ustar archive holding one regular file, so the sample layer is a real tar that any
/// tool can unpack.
fn tar_with_file(name: &str, content: &[u8]) -> Vec<u8> {
    let mut header = [0u8; 512];
    header[..name.len()].copy_from_slice(name.as_bytes());
    let octal = |field: &mut [u8], value: u64| {
        let s = format!("{:0width$o}\0", value, width = field.len() - 1);
        field.copy_from_slice(s.as_bytes());
    };
    octal(&mut header[100..108], 0o644); // mode
    octal(&mut header[108..116], 0); // uid
    octal(&mut header[116..124], 0); // gid
    octal(&mut header[124..136], content.len() as u64); // size
    octal(&mut header[136..148], 0); // mtime: fixed, so equal seeds give equal digests
    header[156] = b'0'; // regular file
    header[257..263].copy_from_slice(b"ustar\0");
    header[263..265].copy_from_slice(b"00");
    // The checksum is computed with its own field filled with spaces.
    header[148..156].copy_from_slice(b"        ");
    let sum: u64 = header.iter().map(|&b| u64::from(b)).sum();
    let s = format!("{sum:06o}\0 ");
    header[148..156].copy_from_slice(s.as_bytes());
    let mut out = header.to_vec();
    out.extend_from_slice(content);
    out.resize(out.len().div_ceil(512) * 512, 0);
    out.extend_from_slice(&[0u8; 1024]);
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::tar_with_file;

    #[test]
    fn tar_layout_is_block_aligned_with_valid_checksum() {
        let t = tar_with_file("seed.txt", b"hello\n");
        assert_eq!(t.len(), 512 + 512 + 1024);
        let mut h = t[..512].to_vec();
        let stored = std::str::from_utf8(&h[148..154]).map(|s| u64::from_str_radix(s, 8));
        h[148..156].copy_from_slice(b"        ");
        let sum: u64 = h.iter().map(|&b| u64::from(b)).sum();
        assert_eq!(stored, Ok(Ok(sum)));
    }
}
