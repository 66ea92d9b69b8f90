//! Request coalescing with freshness: concurrent requests for the same key share one
//! query, and a request never shares a query that started before it arrived.
//!
//! The second rule is what makes sharing safe for a log: a follower woken by a commit (or
//! a writer reading right after its own commit) must see that commit, which a query
//! already running may not. So per key there is at most one query running and one queued:
//! a request joins the queued one (it starts when the running one ends, so after the
//! request arrived) or, when none is queued, starts one (at once if none is running). 500
//! tail followers woken by one NOTIFY thus make one or two queries, not 500, and each gets
//! an answer no older than its own arrival.
use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use futures_util::future::{BoxFuture, FutureExt, Shared};

type Outcome<T, E> = Result<T, E>;

#[derive(Clone)]
struct Flight<T: Clone, E: Clone> {
    id: u64,
    outcome: Shared<BoxFuture<'static, Outcome<T, E>>>,
}

struct Slot<T: Clone, E: Clone> {
    running: Option<Flight<T, E>>,
    queued: Option<Flight<T, E>>,
}

/// Shares the results of identical concurrent queries. Queries run as spawned tasks, so a
/// query ends (and its slot is freed) even when every request waiting for it went away.
pub struct Coalescer<K, T: Clone, E: Clone> {
    slots: Mutex<HashMap<K, Slot<T, E>>>,
    next_id: AtomicU64,
}

impl<K, T, E> Coalescer<K, T, E>
where
    K: Hash + Eq + Clone + Send + 'static,
    T: Clone + Send + Sync + 'static,
    E: Clone + Send + Sync + From<tokio::task::JoinError> + 'static,
{
    pub fn new() -> Self {
        Coalescer { slots: Mutex::new(HashMap::new()), next_id: AtomicU64::new(0) }
    }

    /// The result of `query` for `key`, from a query that starts no earlier than this call.
    /// `query` is called only when no suitable query is already queued.
    pub fn get<F, Fut>(self: &Arc<Self>, key: K, query: F) -> impl Future<Output = Outcome<T, E>> + Send + 'static
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Outcome<T, E>> + Send + 'static,
    {
        let mut slots = self.lock();
        let slot = slots.entry(key.clone()).or_insert(Slot { running: None, queued: None });
        if let Some(queued) = &slot.queued {
            return queued.outcome.clone();
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let running_before = slot.running.as_ref().map(|flight| flight.outcome.clone());
        let coalescer = self.clone();
        let task_key = key;
        let task = tokio::spawn(async move {
            if let Some(running) = running_before {
                // Its outcome is not ours: it started before some of our requests arrived.
                let _ = running.await;
                coalescer.start(&task_key, id);
            }
            let outcome = query().await;
            coalescer.finish(&task_key, id);
            outcome
        });
        let outcome = async move { task.await.map_err(E::from).and_then(|outcome| outcome) }.boxed().shared();
        let flight = Flight { id, outcome: outcome.clone() };
        if slot.running.is_none() {
            slot.running = Some(flight);
        } else {
            slot.queued = Some(flight);
        }
        outcome
    }

    /// The queued flight `id` starts running: later requests must not join it.
    fn start(&self, key: &K, id: u64) {
        let mut slots = self.lock();
        if let Some(slot) = slots.get_mut(key) {
            if slot.queued.as_ref().is_some_and(|flight| flight.id == id) {
                slot.running = slot.queued.take();
            }
        }
    }

    /// Flight `id` ended: free its place, and the slot when nothing is left in it.
    fn finish(&self, key: &K, id: u64) {
        let mut slots = self.lock();
        if let Some(slot) = slots.get_mut(key) {
            if slot.running.as_ref().is_some_and(|flight| flight.id == id) {
                slot.running = None;
            }
            if slot.running.is_none() && slot.queued.is_none() {
                slots.remove(key);
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<K, Slot<T, E>>> {
        // A panic while holding the lock leaves the map consistent (every update is one
        // assignment), so a poisoned lock is still usable.
        self.slots.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Keys with a query running or queued (for tests).
    #[cfg(test)]
    fn busy_keys(&self) -> usize {
        self.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use tokio::sync::Semaphore;

    #[derive(Debug, Clone, PartialEq)]
    struct Failed(String);

    impl From<tokio::task::JoinError> for Failed {
        fn from(e: tokio::task::JoinError) -> Self {
            Failed(e.to_string())
        }
    }

    /// A query whose calls are counted and which returns the number of its call, after
    /// waiting for a permit (so tests decide when each query ends).
    #[derive(Clone)]
    struct Gate {
        calls: Arc<AtomicUsize>,
        permits: Arc<Semaphore>,
    }

    impl Gate {
        fn new() -> Self {
            Gate { calls: Arc::new(AtomicUsize::new(0)), permits: Arc::new(Semaphore::new(0)) }
        }
        fn query(&self) -> impl FnOnce() -> BoxFuture<'static, Result<usize, Failed>> + Send + 'static {
            let gate = self.clone();
            move || {
                async move {
                    let call = gate.calls.fetch_add(1, Ordering::SeqCst) + 1;
                    let permit = gate.permits.acquire().await.map_err(|e| Failed(e.to_string()))?;
                    permit.forget();
                    Ok(call)
                }
                .boxed()
            }
        }
        async fn until_calls(&self, n: usize) {
            while self.calls.load(Ordering::SeqCst) < n {
                tokio::task::yield_now().await;
            }
        }
    }

    #[tokio::test]
    async fn many_requests_while_one_query_runs_share_the_next_one() {
        let coalescer = Arc::new(Coalescer::<&str, usize, Failed>::new());
        let gate = Gate::new();
        let first = tokio::spawn(coalescer.get("k", gate.query()));
        gate.until_calls(1).await;
        // 100 requests arrive while query 1 runs: none may take its (older) answer.
        let later: Vec<_> = (0..100).map(|_| tokio::spawn(coalescer.get("k", gate.query()))).collect();
        gate.permits.add_permits(1);
        assert_eq!(first.await.unwrap(), Ok(1));
        gate.until_calls(2).await;
        gate.permits.add_permits(1);
        for request in later {
            assert_eq!(request.await.unwrap(), Ok(2));
        }
        assert_eq!(gate.calls.load(Ordering::SeqCst), 2);
        assert_eq!(coalescer.busy_keys(), 0);
    }

    #[tokio::test]
    async fn a_request_after_the_queued_query_started_gets_a_newer_one() {
        let coalescer = Arc::new(Coalescer::<&str, usize, Failed>::new());
        let gate = Gate::new();
        let first = tokio::spawn(coalescer.get("k", gate.query()));
        gate.until_calls(1).await;
        let second = tokio::spawn(coalescer.get("k", gate.query()));
        tokio::task::yield_now().await;
        gate.permits.add_permits(1);
        assert_eq!(first.await.unwrap(), Ok(1));
        gate.until_calls(2).await; // query 2 (queued for `second`) has started
        let third = tokio::spawn(coalescer.get("k", gate.query()));
        gate.permits.add_permits(1);
        assert_eq!(second.await.unwrap(), Ok(2));
        gate.until_calls(3).await;
        gate.permits.add_permits(1);
        assert_eq!(third.await.unwrap(), Ok(3));
    }

    #[tokio::test]
    async fn keys_do_not_share_and_errors_are_shared() {
        let coalescer = Arc::new(Coalescer::<&str, usize, Failed>::new());
        let gate = Gate::new();
        let a = tokio::spawn(coalescer.get("a", gate.query()));
        let b = tokio::spawn(coalescer.get("b", gate.query()));
        gate.until_calls(2).await;
        gate.permits.add_permits(2);
        let (a, b) = (a.await.unwrap().unwrap(), b.await.unwrap().unwrap());
        assert_ne!(a, b);

        let failing = || async { Err::<usize, _>(Failed("down".into())) }.boxed();
        let x = coalescer.get("e", failing);
        assert_eq!(x.await, Err(Failed("down".into())));
        assert_eq!(coalescer.busy_keys(), 0);
    }

    #[tokio::test]
    async fn a_query_whose_requests_went_away_still_frees_its_slot() {
        let coalescer = Arc::new(Coalescer::<&str, usize, Failed>::new());
        let gate = Gate::new();
        drop(coalescer.get("k", gate.query()));
        gate.until_calls(1).await;
        gate.permits.add_permits(1);
        while coalescer.busy_keys() > 0 {
            tokio::task::yield_now().await;
        }
    }
}
