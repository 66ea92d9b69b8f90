//! Creator locks. An append that may create an entity (a build request RECEIVED, a job run
//! SCHEDULED, a partition REQUESTED) takes the key's creator lock before it looks the key
//! up, and holds it until its transaction ends. A racing creator of the same key waits for
//! it and then finds the row: in READ COMMITTED its lookup's snapshot is taken after the
//! wait; in REPEATABLE READ and SERIALIZABLE the insert's ON CONFLICT fails it with 40001
//! (see store::write). So a new entity's row is inserted once, in its final state. (Before,
//! the lock was a placeholder row that the append then updated: every new entity was
//! written twice, with all its index entries.)
//!
//! Keys share a bounded number of locks, hash buckets per kind, so that a batch creating
//! 100k entities takes at most `BUCKETS` locks per kind instead of filling the lock table.
//! Two creators of different keys in one bucket wait for each other: time, not correctness.
//! An append takes a kind's buckets in order before it locks that kind's rows, kind by kind
//! (build requests, job runs, partitions): the order in which every append locks, so no new
//! deadlock between single-call appends.
use pgrx::pg_sys;

use crate::no_loss::{advisory_tag, CLASS_CREATOR};

/// Creator lock buckets per kind: most locks one append holds for a kind.
const BUCKETS: u32 = 256;

/// The kinds of entity an append may create; the number keeps their buckets apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    BuildRequest = 1,
    JobRun = 2,
    Partition = 3,
}

/// Takes the creator locks of `keys` of `kind`, waiting for the transactions that hold them.
pub fn lock<'a>(kind: Kind, keys: impl IntoIterator<Item = &'a str>) {
    for bucket in buckets(keys) {
        let t = advisory_tag(CLASS_CREATOR, lock_key(kind, bucket));
        // SAFETY: a valid tag of the user lock method, transaction level (released when the
        // transaction ends, or by PREPARE's transfer to the prepared transaction); blocking
        // waits are interruptible and take part in deadlock detection.
        unsafe { pg_sys::LockAcquire(&t, pg_sys::ExclusiveLock as pg_sys::LOCKMODE, false, false) };
    }
}

/// The distinct buckets of `keys`, in order.
fn buckets<'a>(keys: impl IntoIterator<Item = &'a str>) -> Vec<u32> {
    let mut buckets: Vec<u32> = keys.into_iter().map(bucket_of).collect();
    buckets.sort_unstable();
    buckets.dedup();
    buckets
}

/// The key's bucket: FNV-1a, the same in every backend and build (std's hasher makes no
/// such promise across Rust releases, and two bel builds may serve one cluster during an
/// upgrade).
fn bucket_of(key: &str) -> u32 {
    (fnv1a_64(key) % u64::from(BUCKETS)) as u32
}

fn fnv1a_64(key: &str) -> u64 {
    key.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

fn lock_key(kind: Kind, bucket: u32) -> i64 {
    (kind as i64) << 32 | i64::from(bucket)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_sorted_distinct_and_bounded() {
        let keys: Vec<String> = (0..10_000).map(|i| format!("data/users/{i}")).collect();
        let b = buckets(keys.iter().map(String::as_str));
        assert!(b.windows(2).all(|w| w[0] < w[1]), "sorted and distinct");
        assert!(b.len() <= BUCKETS as usize);
        // 10,000 keys spread over (nearly) every bucket: the hash is not degenerate
        assert!(b.len() > (BUCKETS as usize) * 9 / 10, "{} buckets used", b.len());
    }

    #[test]
    fn the_hash_is_fnv_1a_in_every_backend() {
        // FNV-1a's published test vectors: a fixed function, no per-process seed
        assert_eq!(fnv1a_64(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a_64("a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a_64("foobar"), 0x8594_4171_f739_67e8);
        assert_eq!(buckets(["b-1", "b-1"]).len(), 1);
    }

    #[test]
    fn kinds_never_share_a_lock() {
        assert_ne!(lock_key(Kind::BuildRequest, 7), lock_key(Kind::JobRun, 7));
        assert_ne!(lock_key(Kind::JobRun, 7), lock_key(Kind::Partition, 7));
    }
}
