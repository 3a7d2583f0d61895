//! The lying registry as a process, for scripts (scripts/hostile-referrers-rss.sh): prints its
//! `host:port` on stdout, then serves until killed.

fn main() -> anyhow::Result<()> {
    let registry = signet_testkit::LyingRegistry::start_blocking()?;
    println!("{}", registry.host());
    loop {
        std::thread::park();
    }
}
