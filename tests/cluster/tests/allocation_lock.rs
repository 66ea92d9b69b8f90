//! The allocation lock is transaction-level (src/no_loss/locks.rs): an append that fails
//! while it holds the lock leaves it to its (sub)transaction, which releases it when it
//! aborts, so followers are never blocked by a failed append. The error here is a real
//! one raised inside the lock: the sequence is exhausted, nextval fails. (A path that
//! skips the release altogether is a #[pg_test] with a failpoint, in src/tests.rs.)
//! With bel preloaded (the cluster step) the allocation marks the writer's in-flight slot
//! ALLOCATING instead, which readers wait for: the failed allocation must take it back the
//! same way, or the follower here would wait until its statement_timeout.
mod support;
use support::*;

/// bel's allocation locks held by anybody (pg_locks shows the 16-bit class as a signed objsubid).
const ALLOCATION_LOCKS: &str =
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND (objsubid::int & 65535) = x'BE01'::int";

fn idxs(p: &Page) -> Vec<i64> {
    p.events.iter().map(|(i, _)| *i).collect()
}

#[tokio::test]
async fn an_append_failing_inside_the_allocation_lock_does_not_block_followers() {
    let dsn = fresh_db("allocation_lock").await;
    let w = connect(&dsn).await;
    let f = connect(&dsn).await;
    // A follower waiting for a leaked lock fails after 5 s instead of hanging the test.
    f.batch_execute("SET lock_timeout = '5s'; SET statement_timeout = '10s'").await.unwrap();
    let first = append(&w, &build_event("b1", "RECEIVED", &["p/1"])).await.unwrap();
    let second = append(&w, &build_event("b1", "PLANNING", &[])).await.unwrap();
    let logged = vec![first, second];
    // From now on nextval fails: after the append took the allocation lock, before it
    // released it.
    w.batch_execute(&format!("ALTER SEQUENCE bel.events_idx_seq MAXVALUE {second}")).await.unwrap();

    // In a transaction block: the error aborts the transaction, which the client has not
    // ended yet.
    w.batch_execute("BEGIN").await.unwrap();
    let e = append(&w, &build_event("b2", "RECEIVED", &["p/2"])).await.expect_err("the sequence is exhausted");
    assert_eq!(sqlstate(&e), "2200H", "{e}");
    assert_eq!(count(&f, ALLOCATION_LOCKS).await, 0, "no allocation lock is left held");
    let p = page(&f, 0, "{}", 10).await.expect("the follower reads without waiting");
    assert_eq!(idxs(&p), logged);
    w.batch_execute("ROLLBACK").await.unwrap();

    // Caught in PL/pgSQL: the subtransaction takes the lock with it while the transaction
    // goes on.
    w.batch_execute("BEGIN").await.unwrap();
    w.batch_execute(
        r#"DO $$ BEGIN
             PERFORM bel.bel_append('{"buildRequestId":"b3","buildRequest":{"status":"BUILD_REQUEST_RECEIVED","requestedPartitions":["p/3"]}}');
             RAISE EXCEPTION 'the sequence was not exhausted';
           EXCEPTION WHEN sequence_generator_limit_exceeded THEN
             NULL;
           END $$"#,
    )
    .await
    .unwrap();
    assert_eq!(count(&f, ALLOCATION_LOCKS).await, 0, "no allocation lock is left held");
    let p = page(&f, 0, "{}", 10).await.expect("the follower reads while that transaction is still open");
    assert_eq!(idxs(&p), logged);
    w.batch_execute("COMMIT").await.unwrap();

    // Appends work again once the sequence has room.
    w.batch_execute("ALTER SEQUENCE bel.events_idx_seq NO MAXVALUE").await.unwrap();
    let next = append(&w, &build_event("b4", "RECEIVED", &["p/4"])).await.unwrap();
    assert_eq!(idxs(&page(&f, 0, "{}", 10).await.unwrap()), vec![first, second, next]);
}
