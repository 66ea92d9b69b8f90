//! The privileges matrix (docs/sql-api.md, "Roles"): for every kind of role, what it can do
//! with bel; and search_path hijack attempts against every SECURITY DEFINER function.
mod support;
use support::*;
use tokio_postgres::Client;

/// What happened when a role tried an action.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Outcome {
    /// It worked.
    Yes,
    /// Refused by the privilege system (42501 permission denied / must be owner).
    Denied,
    /// Refused by bel's append-only triggers (42501 "is append-only"), whoever asks.
    AppendOnly,
}
use Outcome::*;

impl Outcome {
    fn cell(self) -> &'static str {
        match self {
            Yes => "yes",
            Denied => "no",
            AppendOnly => "no (append-only trigger)",
        }
    }
}

/// The roles of the matrix, in column order, by the suffix of their name (roles are
/// per cluster, so each test names its own: `<prefix>_writer`...). The superuser is the DSN's
/// user: it created the extension, so it also owns every table, sequence and function of bel.
const ROLES: [(&str, &str); 5] = [
    ("", "superuser (extension and table owner)"),
    ("writer", "bel_writer member"),
    ("reader", "bel_reader member"),
    ("nobody", "login without grants"),
    ("creator", "bel_writer member owning a schema first in its search_path"),
];

const EVENT: &str =
    r#"{"buildRequestId":"b-matrix","buildRequest":{"status":"BUILD_REQUEST_RECEIVED","requestedPartitions":["m/1"]}}"#;
/// The same event as binary protobuf (fields 4 and 10: buildRequestId, buildRequest{status 1, "m/1"}).
const EVENT_PROTOBUF_HEX: &str = "2208622d6d6174726978520708011203 6d2f31";

struct Action {
    what: &'static str,
    sql: String,
    /// One per entry of ROLES.
    expect: [Outcome; 5],
}

fn action(what: &'static str, sql: impl Into<String>, expect: [Outcome; 5]) -> Action {
    Action { what, sql: sql.into(), expect }
}

const TABLES: [(&str, &str, &str); 6] = [
    ("events", "(idx, event_type, schema_version, payload) VALUES (999999, 'partition', 1, '{}')", "payload = payload"),
    ("event_partitions", "(partition_ref, idx) VALUES ('m/x', 999999)", "idx = idx"),
    ("known_partitions", "(partition_ref) VALUES ('m/x')", "partition_ref = partition_ref"),
    ("build_request_state", "(build_request_id, status) VALUES ('b-x', 'RECEIVED')", "status = status"),
    ("job_run_state", "(job_run_id, status) VALUES ('j-x', 'SCHEDULED')", "status = status"),
    ("partition_state", "(partition_ref, status) VALUES ('m/x', 'REQUESTED')", "status = status"),
];

fn actions() -> Vec<Action> {
    let writer = [Yes, Yes, Denied, Denied, Yes];
    let reader = [Yes, Yes, Yes, Denied, Yes];
    let owner = [Yes, Denied, Denied, Denied, Denied];
    let anyone = [Yes, Yes, Yes, Yes, Yes];
    let pb = EVENT_PROTOBUF_HEX.replace(' ', "");
    let mut a = vec![
        action("append: `bel_append(jsonb)`", format!("SELECT bel.bel_append('{EVENT}'::jsonb)"), writer),
        action("append: `bel_append(text)`", format!("SELECT bel.bel_append('{EVENT}'::text)"), writer),
        action("append: `bel_append(bytea)` (protobuf)", format!("SELECT bel.bel_append('\\x{pb}'::bytea)"), writer),
        action("append: `bel_append_batch(jsonb)`", format!("SELECT bel.bel_append_batch('[{EVENT}]')"), writer),
        action("read: `list_events`", "SELECT * FROM bel.list_events(0, '{}', 100)", reader),
        action("read: `list_events_page` (jsonb, text)", "SELECT bel.list_events_page(0, '{}'::text, 100)", reader),
        action("read: `list_events_page` (bytea)", "SELECT bel.list_events_page(0, ''::bytea, 100)", reader),
        action("read: `wait_for_append`", "SELECT bel.wait_for_append(1, 10)", reader),
        action("read: `horizon`", "SELECT * FROM bel.horizon()", reader),
        action(
            "read: `list_events_page` at a horizon (jsonb, text, bytea)",
            "SELECT bel.list_events_page(0, '{}'::jsonb, 100, 12, '0/0', 0),
                    bel.list_events_page(0, '{}'::text, 100, 12, '0/0', 0),
                    bel.list_events_page(0, ''::bytea, 100, 12, '0/0', 0)",
            reader,
        ),
        action("read: `partition_status`", "SELECT * FROM bel.partition_status()", reader),
        action("read: `partition_counts`", "SELECT * FROM bel.partition_counts()", reader),
        action("read: `build_requests`", "SELECT * FROM bel.build_requests()", reader),
        action("read: `build_summary`", "SELECT bel.build_summary('b1')", reader),
        action("read: `job_runs`", "SELECT * FROM bel.job_runs()", reader),
        action("read: `transitions`", "SELECT * FROM bel.transitions()", reader),
        action("read: `verify`", "SELECT * FROM bel.verify()", reader),
        action("`rebuild_projections()`", "SELECT bel.rebuild_projections()", owner),
    ];
    for (table, values, set) in TABLES {
        let append_only = matches!(table, "events" | "event_partitions");
        let change = if append_only { [AppendOnly, Denied, Denied, Denied, Denied] } else { owner };
        a.push(action(table_what(table, "SELECT"), format!("SELECT count(*) FROM bel.{table}"), reader));
        a.push(action(table_what(table, "INSERT"), format!("INSERT INTO bel.{table} {values}"), owner));
        a.push(action(table_what(table, "UPDATE"), format!("UPDATE bel.{table} SET {set}"), change));
        a.push(action(table_what(table, "DELETE"), format!("DELETE FROM bel.{table}"), change));
        a.push(action(table_what(table, "TRUNCATE"), format!("TRUNCATE bel.{table} CASCADE"), change));
    }
    a.extend([
        action("sequence: read `last_value`", "SELECT last_value FROM bel.events_idx_seq", owner),
        action("sequence: `nextval` (burn an idx)", "SELECT nextval('bel.events_idx_seq')", owner),
        action("sequence: `setval` (reuse an idx)", "SELECT setval('bel.events_idx_seq', 1)", owner),
        action(
            "DELETE under `session_replication_role = replica`",
            "SET LOCAL session_replication_role = replica; DELETE FROM bel.events",
            [AppendOnly, Denied, Denied, Denied, Denied],
        ),
        action(
            "`ALTER TABLE bel.events DISABLE TRIGGER`, then UPDATE",
            "ALTER TABLE bel.events DISABLE TRIGGER events_append_only; UPDATE bel.events SET payload = '{}'",
            owner,
        ),
        action("`DROP TRIGGER` on bel.events", "DROP TRIGGER events_no_truncate ON bel.events", owner),
        action("`ALTER FUNCTION bel.verify() SECURITY INVOKER`", "ALTER FUNCTION bel.verify() SECURITY INVOKER", owner),
        action("`CREATE TABLE` in schema bel", "CREATE TABLE bel.intruder (x int)", owner),
        action("`DROP EXTENSION bel`", "DROP EXTENSION bel CASCADE", owner),
        action("`LISTEN bel_events`", "LISTEN bel_events", anyone),
        action("`NOTIFY bel_events` (a spurious wake-up)", "NOTIFY bel_events, '1'", anyone),
    ]);
    a
}

fn table_what(table: &str, verb: &str) -> &'static str {
    // Leaked once per test run: the matrix labels live as long as the test.
    Box::leak(format!("table bel.{table}: {verb}").into_boxed_str())
}

/// Runs `sql` in a transaction that is rolled back whatever happens.
async fn attempt(c: &Client, sql: &str) -> Result<Outcome, String> {
    c.batch_execute("BEGIN").await.map_err(|e| e.to_string())?;
    let r = c.batch_execute(sql).await;
    c.batch_execute("ROLLBACK").await.map_err(|e| e.to_string())?;
    match r {
        Ok(()) => Ok(Yes),
        Err(e) if sqlstate(&e) == "42501" => {
            let msg = e.as_db_error().map(|d| d.message().to_owned()).unwrap_or_default();
            Ok(if msg.contains("append-only") { AppendOnly } else { Denied })
        }
        Err(e) => Err(format!("{} {e:?}", sqlstate(&e))),
    }
}

/// Creates `<prefix>_writer`, `_reader`, `_nobody` and `_creator` (a writer that owns the
/// schema named like it, first in its search_path, and may CREATE in public).
async fn create_roles(admin: &Client, db: &str, prefix: &str) {
    admin
        .batch_execute(&format!(
            "DROP ROLE IF EXISTS {prefix}_writer; DROP ROLE IF EXISTS {prefix}_reader;
             DROP ROLE IF EXISTS {prefix}_nobody; DROP ROLE IF EXISTS {prefix}_creator;
             CREATE ROLE {prefix}_writer LOGIN IN ROLE bel_writer;
             CREATE ROLE {prefix}_reader LOGIN IN ROLE bel_reader;
             CREATE ROLE {prefix}_nobody LOGIN;
             CREATE ROLE {prefix}_creator LOGIN IN ROLE bel_writer;
             CREATE SCHEMA {prefix}_creator AUTHORIZATION {prefix}_creator;
             GRANT CREATE ON SCHEMA public TO {prefix}_creator;
             ALTER ROLE {prefix}_creator IN DATABASE {db} SET search_path = {prefix}_creator, public, pg_catalog;"
        ))
        .await
        .expect("roles");
}

/// Connects as `<prefix>_<suffix>`, or as the superuser for the suffix "".
async fn connect_as(db: &str, prefix: &str, suffix: &str) -> Client {
    if suffix.is_empty() {
        connect(&dsn_for(db)).await
    } else {
        connect(&dsn_as(db, &format!("{prefix}_{suffix}"))).await
    }
}

#[tokio::test]
async fn privileges_matrix() {
    let (db, prefix) = ("bel_t_privileges", "bel_pm");
    let dsn = fresh_db("privileges").await;
    let admin = connect(&dsn).await;
    create_roles(&admin, db, prefix).await;
    for e in full_build("b1", "data/p/1", "j1", "etl") {
        append(&admin, &e).await.unwrap();
    }
    // Every function of bel has a row (by name; the trigger function is nobody's to call).
    let calls: String = actions().iter().map(|a| a.sql.as_str()).collect();
    for r in admin
        .query(
            "SELECT DISTINCT proname::text FROM pg_proc WHERE pronamespace = 'bel'::regnamespace
               AND proname <> 'refuse_change'",
            &[],
        )
        .await
        .unwrap()
    {
        let name: String = r.get(0);
        assert!(calls.contains(&format!("bel.{name}(")), "the matrix has no action calling bel.{name}: add one");
    }
    let mut clients = Vec::new();
    for (suffix, _) in ROLES {
        clients.push(connect_as(db, prefix, suffix).await);
    }

    let mut table = String::from("| action |");
    for (_, label) in ROLES {
        table.push_str(&format!(" {label} |"));
    }
    table.push_str(&format!("\n|---|{}\n", "---|".repeat(ROLES.len())));
    let mut wrong = Vec::new();
    for a in actions() {
        table.push_str(&format!("| {} |", a.what));
        for (i, c) in clients.iter().enumerate() {
            let cell = match attempt(c, &a.sql).await {
                Ok(got) => {
                    if got != a.expect[i] {
                        wrong.push(format!("{} as {}: {got:?}, expected {:?}", a.what, ROLES[i].1, a.expect[i]));
                    }
                    got.cell().to_owned()
                }
                Err(e) => {
                    wrong.push(format!("{} as {}: unexpected error {e}", a.what, ROLES[i].1));
                    "error".to_owned()
                }
            };
            table.push_str(&format!(" {cell} |"));
        }
        table.push('\n');
    }
    println!("{table}");
    assert!(wrong.is_empty(), "privileges differ from the documented matrix:\n{}\n\n{table}", wrong.join("\n"));
    // Nothing of the above stayed: every attempt was rolled back.
    assert_eq!(count(&admin, "SELECT count(*) FROM bel.events").await, 12);
    assert_eq!(count(&admin, "SELECT count(*) FROM bel.verify()").await, 0);
}

#[tokio::test]
async fn nothing_is_granted_to_public_and_only_the_superuser_owns_bel() {
    let dsn = fresh_db("ownership").await;
    let c = connect(&dsn).await;
    let me: String = c.query_one("SELECT current_user::text", &[]).await.unwrap().get(0);
    let rows = c
        .query(
            "SELECT pg_describe_object(d.classid, d.objid, d.objsubid),
                    COALESCE((SELECT relowner FROM pg_class WHERE d.classid = 'pg_class'::regclass AND oid = d.objid),
                             (SELECT proowner FROM pg_proc WHERE d.classid = 'pg_proc'::regclass AND oid = d.objid),
                             (SELECT typowner FROM pg_type WHERE d.classid = 'pg_type'::regclass AND oid = d.objid),
                             (SELECT nspowner FROM pg_namespace WHERE d.classid = 'pg_namespace'::regclass AND oid = d.objid)
                    )::regrole::text
             FROM pg_depend d JOIN pg_extension e ON d.refobjid = e.oid
             WHERE d.refclassid = 'pg_extension'::regclass AND e.extname = 'bel' AND d.deptype = 'e'",
            &[],
        )
        .await
        .unwrap();
    assert!(rows.len() >= 20, "bel's members");
    for r in rows {
        let (object, owner): (String, Option<String>) = (r.get(0), r.get(1));
        assert_eq!(owner.as_deref(), Some(me.as_str()), "{object} is owned by the superuser that created bel");
    }
    let superuser: bool =
        c.query_one("SELECT rolsuper FROM pg_roles WHERE rolname = current_user", &[]).await.unwrap().get(0);
    assert!(superuser, "the test creates bel as a superuser");
    // PUBLIC: no USAGE on the schema, nothing on the tables and sequence, no EXECUTE.
    for (sql, what) in [
        (
            "SELECT count(*) FROM pg_namespace WHERE nspname = 'bel' AND has_schema_privilege('public', oid, 'USAGE')",
            "schema",
        ),
        (
            "SELECT count(*) FROM pg_class WHERE relnamespace = 'bel'::regnamespace AND relkind IN ('r', 'S')
               AND (has_table_privilege('public', oid, 'SELECT') OR has_table_privilege('public', oid, 'INSERT')
                    OR has_table_privilege('public', oid, 'UPDATE') OR has_table_privilege('public', oid, 'DELETE'))",
            "tables",
        ),
        (
            "SELECT count(*) FROM pg_proc WHERE pronamespace = 'bel'::regnamespace
               AND has_function_privilege('public', oid, 'EXECUTE')",
            "functions",
        ),
    ] {
        assert_eq!(count(&c, sql).await, 0, "PUBLIC has a privilege on bel's {what}");
    }
    // bel's own locks live in a key space pg_advisory_* cannot reach: an unprivileged login
    // holding advisory locks on every key an append or a reader could use blocks nothing.
    let db = "bel_t_ownership";
    c.batch_execute("DROP ROLE IF EXISTS bel_p_locker; CREATE ROLE bel_p_locker LOGIN").await.unwrap();
    let locker = connect(&dsn_as(db, "bel_p_locker")).await;
    locker
        .batch_execute(
            "SELECT pg_advisory_lock(k) FROM generate_series(0, 20) k;
             SELECT pg_advisory_lock(0, k) FROM generate_series(0, 20) k;
             SELECT pg_advisory_lock(k, 0) FROM generate_series(0, 20) k;",
        )
        .await
        .unwrap();
    c.batch_execute("SET statement_timeout = '5s'").await.unwrap();
    for e in full_build("b1", "data/p/1", "j1", "etl") {
        append(&c, &e).await.expect("appends pass an unprivileged login's advisory locks");
    }
    let p = page(&c, 0, "{}", 100).await.expect("reads pass them too");
    assert_eq!((p.events.len(), p.in_flight_idx), (12, 0), "{p:?}");
}

/// The objects an attacker plants, in a schema that comes before pg_catalog in the caller's
/// search_path: same-named operators, functions, an aggregate and relations, each of which
/// records its call in `hits` (INSERT granted to PUBLIC, so a call as the definer records too).
fn trap_sql(schema: &str) -> String {
    let mut sql = format!(
        "CREATE TABLE IF NOT EXISTS {schema}.hits (what text, by_user text DEFAULT current_user);
         GRANT USAGE ON SCHEMA {schema} TO PUBLIC;
         GRANT INSERT, SELECT ON {schema}.hits TO PUBLIC;
         CREATE FUNCTION {schema}.hit(what text) RETURNS boolean LANGUAGE sql AS
           $$ INSERT INTO {schema}.hits (what) VALUES (what) RETURNING true $$;"
    );
    // operators: (argument type, operator, the real operator's function)
    for (t, op, real) in [
        ("text", "=", "texteq"),
        ("text", "<>", "textne"),
        ("text", "<", "text_lt"),
        ("text", ">", "text_gt"),
        ("text", ">=", "text_ge"),
        ("text", "<=", "text_le"),
        ("bigint", "=", "int8eq"),
        ("bigint", "<", "int8lt"),
        ("bigint", ">", "int8gt"),
        ("bigint", "<=", "int8le"),
        ("bigint", ">=", "int8ge"),
        ("jsonb", "=", "jsonb_eq"),
    ] {
        let f = format!("trap_{real}");
        sql.push_str(&format!(
            "CREATE FUNCTION {schema}.{f}(a {t}, b {t}) RETURNS boolean LANGUAGE sql AS
               $$ SELECT {schema}.hit('{t} {op} {t}') AND pg_catalog.{real}(a, b) $$;
             CREATE OPERATOR {schema}.{op} (LEFTARG = {t}, RIGHTARG = {t}, FUNCTION = {schema}.{f});"
        ));
    }
    sql.push_str(&format!(
        "CREATE FUNCTION {schema}.trap_jsonb_concat(a jsonb, b jsonb) RETURNS jsonb LANGUAGE sql AS
           $$ SELECT CASE WHEN {schema}.hit('jsonb || jsonb') THEN pg_catalog.jsonb_concat(a, b) END $$;
         CREATE OPERATOR {schema}.|| (LEFTARG = jsonb, RIGHTARG = jsonb, FUNCTION = {schema}.trap_jsonb_concat);
         CREATE FUNCTION {schema}.unnest(a text[]) RETURNS SETOF text LANGUAGE sql AS
           $$ SELECT x FROM pg_catalog.unnest(a) x WHERE {schema}.hit('unnest(text[])') $$;
         CREATE FUNCTION {schema}.unnest(a bigint[]) RETURNS SETOF bigint LANGUAGE sql AS
           $$ SELECT x FROM pg_catalog.unnest(a) x WHERE {schema}.hit('unnest(bigint[])') $$;
         CREATE FUNCTION {schema}.jsonb_build_object(a text, b text) RETURNS jsonb LANGUAGE sql AS
           $$ SELECT CASE WHEN {schema}.hit('jsonb_build_object') THEN pg_catalog.jsonb_build_object(a, b) END $$;
         CREATE FUNCTION {schema}.to_jsonb(a jsonb[]) RETURNS jsonb LANGUAGE sql AS
           $$ SELECT CASE WHEN {schema}.hit('to_jsonb') THEN pg_catalog.to_jsonb(a) END $$;
         CREATE FUNCTION {schema}.now() RETURNS timestamptz LANGUAGE sql AS
           $$ SELECT CASE WHEN {schema}.hit('now') THEN pg_catalog.now() END $$;
         CREATE FUNCTION {schema}.nextval(a regclass) RETURNS bigint LANGUAGE sql AS
           $$ SELECT CASE WHEN {schema}.hit('nextval') THEN pg_catalog.nextval(a) END $$;
         CREATE FUNCTION {schema}.pg_notify(a text, b text) RETURNS void LANGUAGE sql AS
           $$ SELECT CASE WHEN {schema}.hit('pg_notify') THEN pg_catalog.pg_notify(a, b) END $$;
         CREATE FUNCTION {schema}.jsonb_array_elements(a jsonb) RETURNS SETOF jsonb LANGUAGE sql AS
           $$ SELECT x FROM pg_catalog.jsonb_array_elements(a) x WHERE {schema}.hit('jsonb_array_elements') $$;
         CREATE FUNCTION {schema}.trap_max(s bigint, v bigint) RETURNS bigint LANGUAGE sql AS
           $$ SELECT CASE WHEN {schema}.hit('max(bigint)') THEN pg_catalog.int8larger(s, v) END $$;
         CREATE AGGREGATE {schema}.max(bigint) (SFUNC = {schema}.trap_max, STYPE = bigint);
         CREATE FUNCTION {schema}.trap_rows() RETURNS SETOF bel.events LANGUAGE sql AS
           $$ SELECT e.* FROM bel.events e WHERE {schema}.hit('a bel table name') $$;"
    ));
    for table in
        ["events", "event_partitions", "known_partitions", "build_request_state", "job_run_state", "partition_state"]
    {
        sql.push_str(&format!("CREATE VIEW {schema}.{table} AS SELECT * FROM {schema}.trap_rows();"));
    }
    sql
}

/// A call of every SECURITY DEFINER function of bel whose result does not depend on when it
/// runs (appends return a fresh idx: only their success counts; pages stop before the end of
/// the log, where nextIdx would be the last idx allocated, which rolled-back appends move,
/// and the horizon is compared with a bound).
fn definer_calls() -> Vec<(&'static str, &'static str, bool)> {
    // (signature, the call as a query returning one text, compare the result)
    vec![
        ("bel.bel_append(jsonb)", "SELECT bel.bel_append('{\"buildRequestId\":\"b-h\",\"buildRequest\":{\"status\":\"BUILD_REQUEST_RECEIVED\",\"requestedPartitions\":[\"h/1\"]}}'::jsonb)::text", false),
        ("bel.bel_append(text)", "SELECT bel.bel_append('{\"invalidation\":{\"partitionRef\":\"data/p/1\",\"reason\":\"h\"}}'::text)::text", false),
        ("bel.bel_append(bytea)", "SELECT bel.bel_append('\\x2203622d68520708011203682f31'::bytea)::text", false),
        ("bel.bel_append_batch(jsonb)", "SELECT string_agg(i::text, ',') FROM bel.bel_append_batch('[{\"buildRequestId\":\"b-h\",\"buildRequest\":{\"status\":\"BUILD_REQUEST_RECEIVED\",\"requestedPartitions\":[\"h/1\"]}},{\"buildRequestId\":\"b-h\",\"buildRequest\":{\"status\":\"BUILD_REQUEST_PLANNING\"}},{\"buildRequestId\":\"b-h\",\"partition\":{\"partitionRef\":\"h/1\",\"status\":\"PARTITION_REQUESTED\"}}]') i", false),
        ("bel.list_events(bigint,jsonb,integer)", "SELECT string_agg(t::text, E'\\n' ORDER BY t.idx) FROM bel.list_events(0, '{\"partitionPatterns\":[\"data/**\"]}', 100) t", true),
        ("bel.list_events_page(bigint,jsonb,integer)", "SELECT bel.list_events_page(2, '{\"jobLabels\":[\"etl\"]}'::jsonb, 2)::text", true),
        ("bel.list_events_page(bigint,text,integer)", "SELECT bel.list_events_page(0, '{\"partitionRefs\":[\"data/p/1\"]}'::text, 5)::text", true),
        ("bel.list_events_page(bigint,bytea,integer)", "SELECT encode(bel.list_events_page(0, ''::bytea, 5), 'hex')", true),
        ("bel.wait_for_append(bigint,integer)", "SELECT bel.wait_for_append(3, 10)::text", true),
        // The horizon passes rolled-back allocations once their WAL is flushed, so only its
        // bounds are the same in every run: the fixture's committed events, 1..=12, and far
        // fewer allocations than 1000 by the calls of this test.
        (
            "bel.horizon()",
            "SELECT (horizon_idx OPERATOR(pg_catalog.>=) 12 AND horizon_idx OPERATOR(pg_catalog.<) 1000)::text
             FROM bel.horizon()",
            true,
        ),
        ("bel.list_events_page(bigint,jsonb,integer,bigint,pg_lsn,integer)", "SELECT bel.list_events_page(2, '{\"jobLabels\":[\"etl\"]}'::jsonb, 100, 12, '0/0'::pg_lsn, 0)::text", true),
        ("bel.list_events_page(bigint,text,integer,bigint,pg_lsn,integer)", "SELECT bel.list_events_page(0, '{\"partitionRefs\":[\"data/p/1\"]}'::text, 5, 12, '0/0'::pg_lsn, 0)::text", true),
        ("bel.list_events_page(bigint,bytea,integer,bigint,pg_lsn,integer)", "SELECT encode(bel.list_events_page(0, ''::bytea, 100, 12, '0/0'::pg_lsn, 0), 'hex')", true),
        ("bel.partition_status(text[],text,integer)", "SELECT string_agg(t::text, E'\\n') FROM bel.partition_status('{data/**}', 'a', 10) t", true),
        ("bel.partition_counts(text[])", "SELECT string_agg(t::text, E'\\n' ORDER BY t.status) FROM bel.partition_counts('{data/*/1}') t", true),
        ("bel.build_requests(bigint,integer)", "SELECT string_agg(t::text, E'\\n') FROM bel.build_requests(NULL, 10) t", true),
        ("bel.build_summary(text)", "SELECT bel.build_summary('b1')::text", true),
        ("bel.job_runs(text,text)", "SELECT string_agg(t::text, E'\\n' ORDER BY t.job_run_id) FROM bel.job_runs('b1', 'etl') t", true),
        ("bel.transitions()", "SELECT string_agg(t::text, E'\\n' ORDER BY t::text) FROM bel.transitions() t", true),
        ("bel.verify()", "SELECT count(*)::text FROM bel.verify()", true),
        ("bel.rebuild_projections()", "SELECT bel.rebuild_projections()::text", true),
    ]
}

/// Runs every definer call in a rolled-back transaction; returns (signature, result or error).
async fn call_all(c: &Client, superuser: bool) -> Vec<(String, Result<String, String>)> {
    let mut out = Vec::new();
    for (sig, sql, compare) in definer_calls() {
        if sig == "bel.rebuild_projections()" && !superuser {
            continue; // only its owner may call it (the matrix)
        }
        c.batch_execute("BEGIN").await.unwrap();
        let r = c
            .query_one(sql, &[])
            .await
            .map(|row| if compare { row.get::<_, Option<String>>(0).unwrap_or_default() } else { "ok".to_owned() })
            .map_err(|e| format!("{} {e:?}", sqlstate(&e)));
        c.batch_execute("ROLLBACK").await.unwrap();
        out.push((sig.to_owned(), r));
    }
    out
}

#[tokio::test]
async fn search_path_hijack_never_reaches_security_definer_functions() {
    let (db, prefix) = ("bel_t_hijack", "bel_ph");
    let evil = "bel_ph_creator"; // the attacker, and its schema
    let dsn = fresh_db("hijack").await;
    let admin = connect(&dsn).await;
    create_roles(&admin, db, prefix).await;
    for e in full_build("b1", "data/p/1", "j1", "etl") {
        append(&admin, &e).await.unwrap();
    }
    // Every SECURITY DEFINER function has a call here (a new one must be added).
    let definers: Vec<String> = admin
        .query(
            "SELECT oid::regprocedure::text FROM pg_proc WHERE pronamespace = 'bel'::regnamespace AND prosecdef
             ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut called: Vec<String> = definer_calls().iter().map(|(s, _, _)| s.to_string()).collect();
    called.sort();
    assert_eq!(definers, called, "every SECURITY DEFINER function of bel is called by this test");

    // What each call returns with nothing planted.
    let baseline_superuser = call_all(&admin, true).await;
    let baseline_writer = call_all(&connect_as(db, prefix, "writer").await, false).await;
    for (sig, r) in baseline_superuser.iter().chain(&baseline_writer) {
        assert!(r.is_ok(), "{sig} works before the attack: {r:?}");
    }

    // The attacker (a bel_writer member) plants its traps in its own schema, first in its
    // search_path, and in public, which victims have early in theirs.
    let attacker = connect_as(db, prefix, "creator").await;
    attacker.batch_execute(&trap_sql(evil)).await.expect("traps in the attacker's schema");
    attacker.batch_execute(&trap_sql("public")).await.expect("traps in public");

    // The traps work: a caller that resolves names through the attacker's schemas runs them,
    // and so would a SECURITY DEFINER function without a pinned search_path.
    admin
        .batch_execute(
            "CREATE FUNCTION public.unpinned_definer() RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER AS
               $$ BEGIN RETURN (SELECT count(*) FROM events WHERE event_type = 'partition'); END $$;
             GRANT EXECUTE ON FUNCTION public.unpinned_definer() TO PUBLIC;",
        )
        .await
        .unwrap();
    attacker.query_one("SELECT public.unpinned_definer()", &[]).await.expect("the unpinned definer runs");
    attacker.query_one("SELECT 'a'::text = 'a'::text", &[]).await.unwrap();
    let trapped: Vec<String> = admin
        .query(&format!("SELECT DISTINCT what || ' by ' || by_user FROM {evil}.hits ORDER BY 1"), &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    for expected in [
        "a bel table name by postgres".to_owned(),
        "text = text by postgres".to_owned(),
        format!("text = text by {evil}"),
    ] {
        assert!(trapped.contains(&expected), "the traps are live: {expected} in {trapped:?}");
    }
    attacker.batch_execute(&format!("TRUNCATE {evil}.hits; TRUNCATE public.hits")).await.unwrap();

    // Victims call every definer function with the attacker's schemas before pg_catalog; the
    // attacker also shadows bel's tables with temporary views (pg_temp comes last in bel's
    // pinned search_path, so they would be found only for names missing from pg_catalog).
    let hijacked_path = format!("SET search_path = {evil}, public, pg_catalog, pg_temp");
    let superuser = connect_as(db, prefix, "").await;
    superuser.batch_execute(&hijacked_path).await.unwrap();
    let writer = connect_as(db, prefix, "writer").await;
    writer.batch_execute(&hijacked_path).await.unwrap();
    attacker.batch_execute(&hijacked_path).await.unwrap();
    for table in
        ["events", "event_partitions", "known_partitions", "build_request_state", "job_run_state", "partition_state"]
    {
        attacker.batch_execute(&format!("CREATE TEMP VIEW {table} AS SELECT * FROM {evil}.trap_rows()")).await.unwrap();
    }
    let runs = [
        ("superuser", call_all(&superuser, true).await, &baseline_superuser),
        ("bel_writer", call_all(&writer, false).await, &baseline_writer),
        ("attacker", call_all(&attacker, false).await, &baseline_writer),
    ];
    for (who, got, baseline) in &runs {
        assert_eq!(got, *baseline, "{who}: every definer function behaves as without the traps");
    }
    let hits =
        count(&admin, &format!("SELECT (SELECT count(*) FROM {evil}.hits) + (SELECT count(*) FROM public.hits)")).await;
    let what: Vec<String> = admin
        .query(&format!("SELECT what || ' by ' || by_user FROM {evil}.hits UNION ALL SELECT what || ' by ' || by_user FROM public.hits"), &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(hits, 0, "an attacker's object ran inside a bel function: {what:?}");
}
