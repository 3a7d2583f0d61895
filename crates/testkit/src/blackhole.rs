//! A TCP server that accepts connections and never answers.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use anyhow::{Context, Result};

/// A listener on `127.0.0.1:<free port>` that accepts every TCP connection, never reads or writes,
/// and holds the sockets open until dropped.
///
/// This is the registry that "accepts connections and never answers": a client's connect
/// succeeds, its TLS handshake or HTTP request then hangs, so only the client's own deadlines
/// can end the call. It runs on its own OS thread, so it keeps accepting even while the test's
/// async runtime is blocked (e.g. waiting on a child process).
pub struct Blackhole {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    accepted: Arc<AtomicUsize>,
    thread: Option<JoinHandle<()>>,
}

impl Blackhole {
    /// Binds 127.0.0.1:0 and starts accepting. `async` so it reads like the other servers'
    /// start functions; it does not need a runtime.
    pub async fn start() -> Result<Blackhole> {
        Self::start_blocking()
    }

    /// [`Blackhole::start`] for synchronous tests.
    pub fn start_blocking() -> Result<Blackhole> {
        let listener = TcpListener::bind("127.0.0.1:0").context("bind 127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let accepted = Arc::new(AtomicUsize::new(0));
        let thread = {
            let stop = stop.clone();
            let accepted = accepted.clone();
            std::thread::Builder::new()
                .name("signet-blackhole".into())
                .spawn(move || {
                    let mut held: Vec<TcpStream> = Vec::new();
                    for conn in listener.incoming() {
                        if stop.load(Ordering::SeqCst) {
                            break;
                        }
                        if let Ok(s) = conn {
                            accepted.fetch_add(1, Ordering::SeqCst);
                            held.push(s);
                        }
                    }
                    // Dropping `held` and `listener` closes everything.
                })?
        };
        Ok(Blackhole {
            addr,
            stop,
            accepted,
            thread: Some(thread),
        })
    }

    /// The listening address, `127.0.0.1:PORT` (use it as a registry host).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `127.0.0.1:PORT` as a string, like [`crate::Registry::host`].
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// How many connections it has accepted so far (proves a client really tried).
    pub fn connections(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for Blackhole {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept so the thread sees the flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl std::fmt::Debug for Blackhole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Blackhole")
            .field("addr", &self.addr)
            .finish()
    }
}
