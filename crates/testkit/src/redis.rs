//! A real `redis-server` (Debian's package) on 127.0.0.1, for the shared verdict cache's tests.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use tempfile::TempDir;

use crate::{free_port, run_ok, TestCa};

/// A running `redis-server`, stopped when dropped. No persistence; a random password; plain TCP
/// or TLS (a certificate from a fresh [`TestCa`]).
pub struct RedisServer {
    port: u16,
    tls: Option<(TestCa, PathBuf)>,
    password: String,
    child: Option<Child>,
    dir: TempDir,
}

impl RedisServer {
    /// Starts Redis on plain TCP with a random password (`requirepass`).
    pub fn start() -> Result<RedisServer> {
        Self::start_with(false)
    }

    /// Starts Redis serving TLS only, with a certificate for `127.0.0.1` from a fresh CA
    /// (see [`RedisServer::ca_file`]), and a random password.
    pub fn start_tls() -> Result<RedisServer> {
        Self::start_with(true)
    }

    fn start_with(tls: bool) -> Result<RedisServer> {
        let dir = tempfile::tempdir().context("temp dir for redis-server")?;
        let password: String = (0..24)
            .map(|_| char::from(b'a' + rand::random_range(0..26u8)))
            .collect();
        let tls = tls.then(|| {
            let ca = TestCa::new("signet-test-redis-ca");
            let ca_file = ca.write_cert(&dir.path().join("ca.pem"));
            (ca, ca_file)
        });
        let mut server = RedisServer {
            port: free_port(),
            tls,
            password,
            child: None,
            dir,
        };
        server.launch()?;
        Ok(server)
    }

    /// Starts (again) on the same port and with the same settings, empty.
    pub fn launch(&mut self) -> Result<()> {
        self.stop();
        let mut cmd = Command::new("redis-server");
        cmd.args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--requirepass", &self.password])
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        match &self.tls {
            None => {
                cmd.args(["--port", &self.port.to_string()]);
            }
            Some((ca, ca_file)) => {
                let (cert, key) = ca
                    .issue_server(&["127.0.0.1"])
                    .write(self.dir.path(), "redis");
                cmd.args(["--port", "0", "--tls-port", &self.port.to_string()])
                    .arg("--tls-cert-file")
                    .arg(cert)
                    .arg("--tls-key-file")
                    .arg(key)
                    .arg("--tls-ca-cert-file")
                    .arg(ca_file)
                    .args(["--tls-auth-clients", "no"]);
            }
        }
        let child = cmd
            .spawn()
            .context("cannot start redis-server (apt-get install redis-server; scripts/install-test-deps.sh does it)")?;
        self.child = Some(child);
        let until = std::time::Instant::now() + crate::READY_TIMEOUT;
        loop {
            if self
                .cli(&["PING"])
                .map(|o| o.trim() == "PONG")
                .unwrap_or(false)
            {
                return Ok(());
            }
            if let Some(c) = self.child.as_mut() {
                if let Ok(Some(status)) = c.try_wait() {
                    bail!("redis-server exited at start with {status}");
                }
            }
            if std::time::Instant::now() >= until {
                bail!("redis-server on port {} not ready", self.port);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kills the server (as a crash would: no shutdown).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// `redis://127.0.0.1:PORT/0` or `rediss://…`, without credentials (Signet takes the
    /// password from a file).
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() {
            "rediss"
        } else {
            "redis"
        };
        format!("{scheme}://127.0.0.1:{}/0", self.port)
    }

    /// The password.
    pub fn password(&self) -> &str {
        &self.password
    }

    /// Writes the password to `path` (as a Secret mounted as a file would hold it).
    pub fn write_password(&self, path: &Path) -> PathBuf {
        std::fs::write(path, format!("{}\n", self.password))
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        path.to_path_buf()
    }

    /// The CA that signed the TLS certificate (TLS servers only).
    pub fn ca_file(&self) -> Option<&Path> {
        self.tls.as_ref().map(|(_, f)| f.as_path())
    }

    /// `redis-cli` pointed at this server, with its password and CA.
    fn cli_command(&self) -> Command {
        let mut cmd = Command::new("redis-cli");
        cmd.args([
            "-h",
            "127.0.0.1",
            "-p",
            &self.port.to_string(),
            "--no-auth-warning",
        ])
        .args(["-a", &self.password]);
        if let Some((_, ca_file)) = &self.tls {
            cmd.arg("--tls").arg("--cacert").arg(ca_file);
        }
        cmd
    }

    /// Runs `redis-cli` with `args` against this server; its stdout.
    pub fn cli(&self, args: &[&str]) -> Result<String> {
        let mut cmd = self.cli_command();
        let out = run_ok(cmd.args(args))?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// The keys matching `pattern`, sorted.
    pub fn keys(&self, pattern: &str) -> Result<Vec<String>> {
        let mut keys: Vec<String> = self
            .cli(&["--raw", "KEYS", pattern])?
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect();
        keys.sort();
        Ok(keys)
    }

    /// The value of `key` (raw), None when absent.
    pub fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        if self.cli(&["EXISTS", key])?.trim() != "1" {
            return Ok(None);
        }
        let mut cmd = self.cli_command();
        let out = run_ok(cmd.args(["--raw", "GET", key]))?;
        let mut v = out.stdout;
        // redis-cli --raw ends the value with a newline of its own
        if v.last() == Some(&b'\n') {
            v.pop();
        }
        Ok(Some(v))
    }

    /// Sets `key` to `value` (`-x`: the value from stdin, so any bytes pass).
    pub fn set(&self, key: &str, value: &[u8]) -> Result<()> {
        use std::io::Write;
        let mut cmd = self.cli_command();
        let mut child = cmd
            .args(["-x", "SET", key])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .context("cannot run redis-cli")?;
        child
            .stdin
            .take()
            .context("redis-cli stdin")?
            .write_all(value)?;
        let out = child.wait_with_output()?;
        if String::from_utf8_lossy(&out.stdout).trim() != "OK" {
            bail!(
                "redis-cli SET {key} answered {:?}",
                String::from_utf8_lossy(&out.stdout)
            );
        }
        Ok(())
    }

    /// The time to live of `key` in milliseconds (`PTTL`: -2 absent, -1 no expiry).
    pub fn pttl(&self, key: &str) -> Result<i64> {
        let text = self.cli(&["PTTL", key])?;
        text.trim()
            .parse()
            .with_context(|| format!("PTTL answered {text:?}"))
    }

    /// Makes every client wait `ms` milliseconds for answers (`CLIENT PAUSE`): a slow Redis.
    pub fn pause(&self, ms: u64) -> Result<()> {
        let out = self.cli(&["CLIENT", "PAUSE", &ms.to_string(), "ALL"])?;
        if out.trim() != "OK" {
            bail!("CLIENT PAUSE answered {out:?}");
        }
        Ok(())
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

impl std::fmt::Debug for RedisServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisServer")
            .field("url", &self.url())
            .finish_non_exhaustive()
    }
}
