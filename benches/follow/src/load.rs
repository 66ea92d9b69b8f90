//! The background load: writers appending on their own connections, one event per
//! transaction, at a total rate or as fast as they can, until stopped.
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use crate::events::{self, Target};
use crate::floor::Commits;
use crate::Failure;

/// Writers at work.
pub struct Load {
    stop: watch::Sender<bool>,
    writers: Vec<JoinHandle<Result<Commits, Failure>>>,
    started: Instant,
}

/// What the writers did.
pub struct LoadDone {
    pub appends: u64,
    pub elapsed: Duration,
    /// Every append's idx and the instant its (autocommit) statement returned.
    pub commits: Commits,
}

impl LoadDone {
    pub fn rate(&self) -> f64 {
        self.appends as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Starts `writers` writers appending to `target`, `total_rate` events per second between
/// them (0: each as fast as it can). Event ids start with `w-<tag>-`.
pub async fn start(dsn: &str, target: Target, writers: usize, total_rate: u32, tag: &str) -> Result<Load, Failure> {
    let (stop, stopped) = watch::channel(false);
    let mut tasks = Vec::with_capacity(writers);
    for writer in 0..writers {
        let client = events::connect(dsn).await?;
        let stopped = stopped.clone();
        let prefix = format!("w-{tag}-{writer}");
        let partition_prefix = format!("w/{tag}/{writer}");
        let pause = (total_rate > 0).then(|| Duration::from_secs_f64(writers as f64 / f64::from(total_rate)));
        tasks.push(tokio::spawn(async move {
            let mut ticker = pause.map(tokio::time::interval);
            if let Some(ticker) = &mut ticker {
                ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
            }
            let mut commits = Vec::new();
            while !*stopped.borrow() {
                if let Some(ticker) = &mut ticker {
                    ticker.tick().await;
                }
                let n = commits.len();
                let id = format!("{prefix}-{n}");
                let idx = events::append(&client, target, &id, &format!("{partition_prefix}/{n}")).await?;
                commits.push((idx, Instant::now()));
            }
            Ok(commits)
        }));
    }
    Ok(Load { stop, writers: tasks, started: Instant::now() })
}

impl Load {
    /// Stops the writers and waits for them; fails if any failed.
    pub async fn stop(self) -> Result<LoadDone, Failure> {
        // Every receiver may be gone already (all writers failed): their errors follow.
        let _ = self.stop.send(true);
        let mut commits = Vec::new();
        for writer in self.writers {
            commits.extend(writer.await??);
        }
        Ok(LoadDone { appends: commits.len() as u64, elapsed: self.started.elapsed(), commits })
    }
}
