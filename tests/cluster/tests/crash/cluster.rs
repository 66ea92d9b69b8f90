//! The private cluster the crash tests kill: started and restarted with scripts/pg.sh,
//! crashed with SIGKILL. Its port comes from BEL_CRASH_PG_PORT (scripts/test.sh's crash step
//! sets it); its directory from BEL_CRASH_PG_ROOT, default /var/tmp/bel-<port> like pg.sh.
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// How the server dies.
#[derive(Debug, Clone, Copy)]
pub enum Crash {
    /// SIGKILL of the postmaster alone: its backends live on as orphans, may still commit
    /// the transactions they are running, and exit when they notice the postmaster is gone.
    PostmasterOnly,
    /// SIGKILL of the postmaster, then of every other server process at once: nothing in
    /// flight finishes, as when the machine dies (the OS page cache survives: WAL written
    /// but not yet fsync'd is kept).
    EveryProcess,
}

pub struct CrashCluster {
    port: u16,
    root: PathBuf,
}

/// Orphaned backends exit when they next wait; longer than this means something is stuck.
const ORPHANS_EXIT_WITHIN: Duration = Duration::from_secs(30);

impl CrashCluster {
    pub fn from_env() -> Self {
        let port = std::env::var("BEL_CRASH_PG_PORT")
            .unwrap_or_else(|_| {
                panic!("BEL_CRASH_PG_PORT is not set: run the crash tests through `bash scripts/test.sh crash`")
            })
            .parse::<u16>()
            .expect("BEL_CRASH_PG_PORT is a port number");
        let root = std::env::var("BEL_CRASH_PG_ROOT")
            .map(PathBuf::from)
            .unwrap_or_else(|_| PathBuf::from(format!("/var/tmp/bel-{port}")));
        CrashCluster { port, root }
    }

    pub fn dsn(&self, db: &str) -> String {
        format!("host={}/sock port={} user=postgres dbname={db}", self.root.display(), self.port)
    }

    fn data_dir(&self) -> PathBuf {
        self.root.join("data")
    }

    /// Starts the cluster (crash recovery included) and waits until it accepts connections.
    pub fn start(&self) {
        let pg_sh = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/pg.sh");
        let out = Command::new("bash")
            .arg(&pg_sh)
            .arg("start")
            .env("BEL_PG_PORT", self.port.to_string())
            .env("BEL_PG_ROOT", &self.root)
            .output()
            .expect("run scripts/pg.sh");
        assert!(
            out.status.success(),
            "scripts/pg.sh start failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn postmaster_pid(&self) -> u32 {
        let pid_file = self.data_dir().join("postmaster.pid");
        let text = std::fs::read_to_string(&pid_file).unwrap_or_else(|e| panic!("{}: {e}", pid_file.display()));
        text.lines().next().and_then(|l| l.trim().parse().ok()).expect("postmaster.pid starts with the pid")
    }

    /// Every live process of this server: Postgres processes run in the data directory.
    fn server_processes(&self) -> Vec<u32> {
        let data = std::fs::canonicalize(self.data_dir()).expect("data directory");
        let mut pids = Vec::new();
        for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
            let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else { continue };
            if std::fs::read_link(entry.path().join("cwd")).is_ok_and(|cwd| cwd == data) {
                pids.push(pid);
            }
        }
        pids
    }

    /// Kills the server with SIGKILL, `how`, and returns once none of its processes is left.
    pub fn crash(&self, how: Crash) {
        let postmaster = self.postmaster_pid();
        kill9(postmaster);
        let started = Instant::now();
        loop {
            let left = self.server_processes();
            if left.is_empty() {
                return;
            }
            match how {
                Crash::EveryProcess => left.into_iter().for_each(kill9),
                Crash::PostmasterOnly if started.elapsed() > ORPHANS_EXIT_WITHIN => {
                    panic!("orphaned server processes {left:?} did not exit within {ORPHANS_EXIT_WITHIN:?}")
                }
                Crash::PostmasterOnly => {}
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

fn kill9(pid: u32) {
    // A process that is already gone is fine: we only need it dead.
    let _ = Command::new("kill").arg("-KILL").arg(pid.to_string()).status();
}
