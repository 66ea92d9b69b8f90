//! Append-only storage, roles, pinned search_path, pg_dump registration.
mod support;
use support::*;

#[tokio::test]
async fn log_is_append_only_for_every_role_including_superuser() {
    let dsn = fresh_db("append_only").await;
    let c = connect(&dsn).await;
    append(&c, &build_event("b1", "RECEIVED", &["p"])).await.unwrap();
    for replica in [false, true] {
        if replica {
            c.batch_execute("SET session_replication_role = replica").await.unwrap();
        }
        for sql in [
            "UPDATE bel.events SET event_type = 'partition'",
            "DELETE FROM bel.events",
            "TRUNCATE bel.events",
            "DELETE FROM bel.event_partitions",
            "TRUNCATE bel.event_partitions",
        ] {
            let e = c.batch_execute(sql).await.expect_err(sql);
            assert_eq!(sqlstate(&e), "42501", "{sql} (replica={replica}): {e}");
        }
    }
    c.batch_execute("RESET session_replication_role").await.unwrap();
    assert_eq!(count(&c, "SELECT count(*) FROM bel.events").await, 1);
}

#[tokio::test]
async fn writer_appends_and_reads_reader_only_reads_public_has_nothing() {
    let dsn = fresh_db("roles").await;
    let admin = connect(&dsn).await;
    admin
        .batch_execute(
            "DROP ROLE IF EXISTS bel_t_writer; DROP ROLE IF EXISTS bel_t_reader; DROP ROLE IF EXISTS bel_t_nobody;
             CREATE ROLE bel_t_writer LOGIN IN ROLE bel_writer;
             CREATE ROLE bel_t_reader LOGIN IN ROLE bel_reader;
             CREATE ROLE bel_t_nobody LOGIN;",
        )
        .await
        .unwrap();
    let db = "bel_t_roles";
    let writer = connect(&dsn_as(db, "bel_t_writer")).await;
    let reader = connect(&dsn_as(db, "bel_t_reader")).await;
    let nobody = connect(&dsn_as(db, "bel_t_nobody")).await;

    let idx = append(&writer, &build_event("b1", "RECEIVED", &["data/p"])).await.expect("writer appends");
    assert!(idx > 0);
    assert_eq!(count(&writer, "SELECT count(*) FROM bel.list_events(0)").await, 1);

    assert_eq!(count(&reader, "SELECT count(*) FROM bel.list_events(0, '{}', 10)").await, 1);
    assert_eq!(count(&reader, "SELECT count(*) FROM bel.partition_status()").await, 0);
    assert_eq!(count(&reader, "SELECT count(*) FROM bel.events").await, 1);
    let e = append(&reader, &build_event("b2", "RECEIVED", &["data/p"])).await.expect_err("reader must not append");
    assert_eq!(sqlstate(&e), "42501", "{e}");
    let e = reader
        .batch_execute(
            "INSERT INTO bel.events (idx, event_type, schema_version, payload) VALUES (999, 'partition', 1, '{}')",
        )
        .await
        .expect_err("no direct insert");
    assert_eq!(sqlstate(&e), "42501");
    let e = writer
        .batch_execute(
            "INSERT INTO bel.events (idx, event_type, schema_version, payload) VALUES (999, 'partition', 1, '{}')",
        )
        .await
        .expect_err("writer cannot bypass validation");
    assert_eq!(sqlstate(&e), "42501");

    for sql in [
        "SELECT count(*) FROM bel.list_events(0)",
        "SELECT bel.bel_append('{}'::jsonb)",
        "SELECT count(*) FROM bel.events",
    ] {
        let e = nobody.query(sql, &[]).await.expect_err(sql);
        assert_eq!(sqlstate(&e), "42501", "{sql}: {e}");
    }
    assert_eq!(count(&admin, "SELECT count(*) FROM bel.events").await, 1);
}

#[tokio::test]
async fn security_definer_functions_pin_search_path_and_nothing_is_granted_to_public() {
    let dsn = fresh_db("secdef").await;
    let c = connect(&dsn).await;
    let rows = c
        .query(
            "SELECT p.oid::regprocedure::text, p.proconfig FROM pg_proc p
             WHERE p.pronamespace = 'bel'::regnamespace AND p.prosecdef",
            &[],
        )
        .await
        .unwrap();
    assert!(rows.len() >= 10, "bel's functions are SECURITY DEFINER");
    for r in rows {
        let name: String = r.get(0);
        let config: Option<Vec<String>> = r.get(1);
        let config = config.unwrap_or_default();
        assert!(
            config.iter().any(|c| c.starts_with("search_path=pg_catalog")),
            "{name} must pin search_path, has {config:?}"
        );
    }
    let public_exec = count(
        &c,
        "SELECT count(*) FROM pg_proc p WHERE p.pronamespace = 'bel'::regnamespace
           AND has_function_privilege('public', p.oid, 'EXECUTE')",
    )
    .await;
    assert_eq!(public_exec, 0, "no bel function is executable by PUBLIC");
}

#[tokio::test]
async fn events_are_registered_for_pg_dump_and_survive_dump_and_restore() {
    let dsn = fresh_db("dump").await;
    let c = connect(&dsn).await;
    let registered = count(
        &c,
        "SELECT count(*) FROM pg_extension e, unnest(e.extconfig) AS t(oid)
         WHERE e.extname = 'bel' AND t.oid = 'bel.events'::regclass",
    )
    .await;
    assert_eq!(registered, 1);
    for e in full_build("b1", "data/users/1", "j1", "etl") {
        append(&c, &e).await.unwrap();
    }

    // pg_dump | psql into a new database, with the server's own binaries.
    let base = base_dsn();
    let field = |k: &str| {
        base.split_whitespace().find_map(|kv| kv.strip_prefix(&format!("{k}="))).unwrap_or_default().to_owned()
    };
    let (host, port, user) = (field("host"), field("port"), field("user"));
    let admin = connect(&base).await;
    admin.batch_execute("DROP DATABASE IF EXISTS bel_t_restored WITH (FORCE)").await.unwrap();
    admin.batch_execute("CREATE DATABASE bel_t_restored").await.unwrap();
    let bin = "/usr/lib/postgresql/15/bin";
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "{bin}/pg_dump -h '{host}' -p '{port}' -U '{user}' bel_t_dump | {bin}/psql -q -v ON_ERROR_STOP=1 -h '{host}' -p '{port}' -U '{user}' -d bel_t_restored >/dev/null"
        ))
        .status()
        .expect("run pg_dump | psql");
    assert!(status.success(), "pg_dump | psql failed");
    let restored = connect(&dsn_for("bel_t_restored")).await;
    assert_eq!(count(&restored, "SELECT count(*) FROM bel.events").await, 12);
    assert_eq!(count(&restored, "SELECT count(*) FROM bel.verify()").await, 0);
    // The sequence came along: the next append continues after the restored log.
    let idx = append(&restored, &build_event("b2", "RECEIVED", &["data/users/2"])).await.unwrap();
    assert!(idx > 12, "idx {idx} must continue after the restored events");
}
