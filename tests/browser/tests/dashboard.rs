//! The dashboard in a real browser (headless Chromium through chromedriver) against a live
//! cluster (BEL_TEST_DSN) and a bel serve started in-process: every page loads without
//! console errors, the partition filter and paging narrow the table, an append shows up in
//! the live tail within 2 s, a build page shows its job runs, the login cookie, and the page
//! shown while the database is unreachable.
use std::time::Duration;

use bel_browser_tests::{connect, demo, env_or_skip, fresh_db, Browser, TestServer};
use fantoccini::Locator;

const TOKEN: &str = "browser-test-token-0123456789";
/// How long a page may take to be ready (loaded, its script caught up). Generous: the test
/// machine is shared; the one bound the tests measure is the tail's 2 s.
const PAGE_READY: Duration = Duration::from_secs(30);

/// A database filled with the demo data, a server on it and a browser; `None` to skip
/// (outside CI, without a DSN or Chromium).
async fn setup(test: &str, token: Option<&str>) -> Option<(String, TestServer, Browser)> {
    let base = env_or_skip(test, "BEL_TEST_DSN")?;
    let browser = Browser::start(test).await?;
    let dsn = fresh_db(&base, &format!("bel_browser_{test}")).await;
    demo::fill(&connect(&dsn).await, chrono::Utc::now()).await;
    let server = TestServer::start(&dsn, token).await;
    Some((dsn, server, browser))
}

async fn count(dsn: &str, sql: &str) -> usize {
    let n: i64 = connect(dsn).await.query_one(sql, &[]).await.expect(sql).get(0);
    usize::try_from(n).expect("a count")
}

#[tokio::test]
async fn every_page_loads_without_console_errors() {
    let Some((_, server, browser)) = setup("pages", None).await else { return };
    let live = "document.getElementById('tail-status').dataset.state === 'live'";
    // (page, heading, what must be on it once it is ready)
    let pages = [
        ("/", "Overview", "document.querySelectorAll('#builds tbody tr').length > 0"),
        ("/partitions", "Partitions", "document.querySelectorAll('#partitions tbody tr').length > 0"),
        (
            "/partitions?pattern=reports/**",
            "Partitions",
            "document.querySelectorAll('#partitions tbody tr').length === 4",
        ),
        ("/builds", "Builds", "document.querySelectorAll('#builds tbody tr').length === 8"),
        ("/builds/nightly-2026-11-03", "nightly-2026-11-03", "document.querySelector('svg.timeline') !== null"),
        ("/builds/reports-2026-11-01", "reports-2026-11-01", "document.querySelector('#delegations') !== null"),
        ("/tail", "Live tail", live),
        ("/tail?pattern=data/users/*&job_label=etl/users", "Live tail", live),
        ("/diagrams", "State diagrams", "document.querySelectorAll('svg.state-diagram').length === 3"),
        ("/login", "Log in", "document.body.textContent.includes('no token')"),
    ];
    for (path, heading, ready) in pages {
        browser.open(&server.url(path)).await;
        browser.wait_until(&format!("return {ready}"), PAGE_READY).await;
        assert!(browser.text("h1").await.contains(heading), "{path}: heading {:?}", browser.text("h1").await);
        let errors = browser.console_errors().await;
        assert!(errors.is_empty(), "{path}: console errors {errors:?}");
    }
    // A build that does not exist: a readable 404 page, not a blank one.
    browser.open(&server.url("/builds/no-such-build")).await;
    assert_eq!(browser.text("h1").await, "Not found");
    assert!(browser.text("main").await.contains("no-such-build"));
    // The browser logs the 404: proof that the console checks above would see an error.
    let errors = browser.console_errors().await;
    assert!(errors.iter().any(|e| e.contains("404")), "{errors:?}");
    browser.close().await;
    server.stop().await;
}

#[tokio::test]
async fn the_partition_filter_narrows_the_table() {
    let Some((dsn, server, browser)) = setup("filter", None).await else { return };
    let all = count(&dsn, "select count(*) from bel.partition_status()").await;
    let users = count(&dsn, "select count(*) from bel.partition_status('{data/users/*}')").await;
    assert!(users > 20 && users < all, "the demo data has {users} of {all} partitions under data/users/");

    browser.open(&server.url("/partitions")).await;
    assert_eq!(browser.attributes("#partitions tbody tr", "data-ref").await.len(), all);
    let pattern = browser.client.find(Locator::Css("#pattern")).await.expect("the filter box");
    pattern.send_keys("data/users/*").await.expect("type the glob");
    browser.client.find(Locator::Css("form.filter button")).await.expect("the button").click().await.expect("click");
    browser.wait_for_page("pattern=").await;
    let refs = browser.attributes("#partitions tbody tr", "data-ref").await;
    assert_eq!(refs.len(), users, "{refs:?}");
    assert!(refs.iter().all(|r| r.starts_with("data/users/") && !r[11..].contains('/')), "{refs:?}");
    assert_eq!(browser.text(".tile.total .count").await, users.to_string(), "the counts follow the filter");

    // Paging on the server: pages of 10 in ref order, none repeated, nothing left out.
    browser.open(&server.url("/partitions?pattern=data/users/*&limit=10")).await;
    let mut seen: Vec<String> = Vec::new();
    loop {
        let page = browser.attributes("#partitions tbody tr", "data-ref").await;
        assert!(page.len() <= 10 && !page.is_empty(), "{page:?}");
        seen.extend(page);
        let next = browser.attributes("a[rel=next]", "href").await;
        let Some(next) = next.first() else { break };
        browser.client.find(Locator::Css("a[rel=next]")).await.expect("next").click().await.expect("click");
        let after = next.split("after=").nth(1).expect("an after parameter").split('&').next().unwrap_or_default();
        browser.wait_for_page(after).await;
    }
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!((seen.len(), &seen), (users, &sorted), "pages in ref order, each partition once");

    // A bad glob: the page says why, with the box to correct it.
    browser.open(&server.url("/partitions?pattern=data/%5Busers")).await;
    assert!(browser.text("p.error").await.contains("invalid partition pattern"), "{}", browser.text("main").await);
    assert_eq!(browser.eval("return document.getElementById('pattern').value").await, "data/[users");
    browser.close().await;
    server.stop().await;
}

#[tokio::test]
async fn an_append_shows_up_in_the_live_tail_within_2_s() {
    let Some((dsn, server, browser)) = setup("tail", None).await else { return };
    let client = connect(&dsn).await;
    let append = |event: String| {
        let client = &client;
        async move {
            let row = client.query_one("select bel.bel_append($1::text)", &[&event]).await.expect("append");
            row.get::<_, i64>(0)
        }
    };
    browser.open(&server.url("/tail?pattern=live/**")).await;
    browser.wait_until("return document.getElementById('tail-status').dataset.state === 'live'", PAGE_READY).await;
    assert_eq!(browser.attributes("#tail tbody tr", "data-idx").await.len(), 0, "no demo event matches live/**");
    // Let the browser's long poll reach the server and wait there.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let received = r#"{"buildRequestId":"live-1","buildRequest":{"status":"BUILD_REQUEST_RECEIVED","requestedPartitions":["live/a","other/b"]}}"#;
    append(received.to_owned()).await;
    append(r#"{"buildRequestId":"live-1","buildRequest":{"status":"BUILD_REQUEST_PLANNING"}}"#.to_owned()).await;
    let other = append(
        r#"{"buildRequestId":"live-1","partition":{"partitionRef":"other/b","status":"PARTITION_REQUESTED"}}"#
            .to_owned(),
    )
    .await;
    for n in 0..3 {
        let status = ["REQUESTED", "ANALYZED", "FAILED"][n];
        let event = format!(
            r#"{{"buildRequestId":"live-1","partition":{{"partitionRef":"live/a","status":"PARTITION_{status}"}}}}"#
        );
        let idx = append(event).await;
        let row = format!("return document.querySelector('#tail tr[data-idx=\"{idx}\"]') !== null");
        let waited = browser.wait_until(&row, Duration::from_secs(2)).await;
        println!("event {idx} shown {waited:?} after its append returned");
    }
    let shown = browser.attributes("#tail tbody tr", "data-idx").await;
    assert!(!shown.contains(&other.to_string()), "other/b does not match live/**: {shown:?}");
    let statuses =
        browser.eval("return Array.from(document.querySelectorAll('#tail tbody .pill')).map(p => p.textContent)").await;
    assert_eq!(statuses.as_array().map(|a| a.len()), Some(shown.len()), "{statuses}");
    assert_eq!(statuses[0], "FAILED", "newest first: {statuses}");
    assert_eq!(browser.eval("return document.querySelector('#tail tbody .pill').className").await, "pill tone-failed");

    // Reloaded, the page starts with the matching recent events.
    browser.open(&server.url("/tail?pattern=live/**")).await;
    browser.wait_until("return document.getElementById('tail-status').dataset.state === 'live'", PAGE_READY).await;
    assert_eq!(browser.attributes("#tail tbody tr", "data-idx").await, shown);
    let errors = browser.console_errors().await;
    assert!(errors.is_empty(), "console errors {errors:?}");
    browser.close().await;
    server.stop().await;
}

#[tokio::test]
async fn a_build_page_shows_its_job_runs() {
    let Some((dsn, server, browser)) = setup("build", None).await else { return };
    let build = "nightly-2026-11-02";
    let runs = connect(&dsn)
        .await
        .query("select job_run_id, status from bel.job_runs($1) order by first_idx", &[&build])
        .await
        .expect("job runs");
    let expected: Vec<(String, String)> = runs.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(expected.iter().filter(|(_, status)| status == "FAILED").count(), 2, "{expected:?}");

    browser.open(&server.url("/builds")).await;
    browser.client.find(Locator::LinkText(build)).await.expect("the build's link").click().await.expect("click");
    browser.wait_for_page(build).await;
    let ids = browser.attributes("#job-runs tbody tr", "data-job-run").await;
    let statuses = browser
        .eval("return Array.from(document.querySelectorAll('#job-runs tbody tr .pill')).map(p => p.textContent)")
        .await;
    let shown: Vec<(String, String)> = ids
        .into_iter()
        .zip(statuses.as_array().expect("statuses").iter().map(|s| s.as_str().unwrap_or_default().to_owned()))
        .collect();
    assert_eq!(shown, expected);
    assert_eq!(browser.attributes("svg.timeline g.bar", "class").await.len(), expected.len(), "a bar per job run");
    let failed_bars = browser.attributes("svg.timeline g.bar rect.tone-failed:not(.waiting)", "class").await;
    assert_eq!(failed_bars.len(), 2);
    let requested = count(&dsn, "select count(*) from bel.events where build_request_id = 'nightly-2026-11-02'").await;
    assert_eq!(browser.attributes("#events tbody tr", "data-idx").await.len(), requested, "every event of the build");

    // A partition link leads to that partition alone.
    browser
        .client
        .find(Locator::Css("#requested a[href^='/partitions']"))
        .await
        .expect("link")
        .click()
        .await
        .expect("click");
    browser.wait_for_page("/partitions").await;
    assert_eq!(browser.attributes("#partitions tbody tr", "data-ref").await, vec!["data/users/2026-11-02".to_owned()]);
    let errors = browser.console_errors().await;
    assert!(errors.is_empty(), "console errors {errors:?}");
    browser.close().await;
    server.stop().await;
}

#[tokio::test]
async fn the_login_form_keeps_the_token_in_an_http_only_cookie() {
    let Some((_, server, browser)) = setup("login", Some(TOKEN)).await else { return };
    browser.open(&server.url("/builds")).await;
    browser.wait_for_page("/login?next=%2Fbuilds").await;
    let token = browser.client.find(Locator::Css("#token")).await.expect("the token box");
    token.send_keys("not-the-token-at-all").await.expect("type");
    browser.client.find(Locator::Css(".login button")).await.expect("button").click().await.expect("click");
    browser.wait_until("return document.querySelector('p.error') !== null", PAGE_READY).await;
    // The refused attempt answered 401: the browser logs it; nothing else may be logged.
    let errors = browser.console_errors().await;
    assert!(errors.iter().all(|e| e.contains("401")), "{errors:?}");

    let token = browser.client.find(Locator::Css("#token")).await.expect("the token box");
    token.send_keys(TOKEN).await.expect("type");
    browser.client.find(Locator::Css(".login button")).await.expect("button").click().await.expect("click");
    browser.wait_for_page("/builds").await;
    assert_eq!(browser.text("h1").await, "Builds");
    assert_eq!(browser.eval("return document.cookie").await, "", "the cookie is HttpOnly");
    let cookie = browser.client.get_named_cookie("bel_token").await.expect("the cookie");
    assert_eq!(cookie.value(), TOKEN);
    // The live tail's requests to the JSON API carry the cookie too.
    browser.open(&server.url("/tail")).await;
    browser.wait_until("return document.getElementById('tail-status').dataset.state === 'live'", PAGE_READY).await;
    let errors = browser.console_errors().await;
    assert!(errors.is_empty(), "console errors {errors:?}");
    browser.close().await;
    server.stop().await;
}

#[tokio::test]
async fn an_unreachable_database_shows_a_page_that_retries() {
    if env_or_skip("unreachable", "BEL_TEST_DSN").is_none() {
        return;
    }
    let Some(browser) = Browser::start("unreachable").await else { return };
    // Nothing listens on port 1.
    let server = TestServer::start("host=127.0.0.1 port=1 user=nobody connect_timeout=2", None).await;
    for path in ["/", "/partitions", "/builds/b1", "/tail", "/diagrams"] {
        browser.open(&server.url(path)).await;
        assert_eq!(browser.text("h1").await, "The database is unavailable", "{path}");
        assert!(browser.text("main").await.contains("tries again"), "{path}");
        let refresh = browser.attributes("meta[http-equiv=refresh]", "content").await;
        assert_eq!(refresh, vec!["5".to_owned()], "{path}");
    }
    browser.close().await;
    server.stop().await;
}
