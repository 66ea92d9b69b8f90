//! Complete pages never change: strong ETag, cacheable forever, 304 on If-None-Match.
use bel_core::pb::EventPage;
use bel_http_tests::*;
use prost::Message;

const PROTOBUF: (&str, &str) = ("accept", "application/x-protobuf");

#[tokio::test]
async fn a_complete_page_never_changes_and_the_tail_page_is_not_stored() {
    let Some(base) = base_dsn("cacheable pages") else { return };
    let dsn = fresh_db(&base, "cache").await;
    let server = TestServer::start(&dsn).await;
    let http = server.http();
    let writer = connect(&dsn).await;
    for n in 0..25 {
        append(&writer, &build_received(&format!("b{n}"), &[&format!("data/c/{n}")])).await;
    }

    let complete = "/v1/events?since_idx=0&limit=10&partition_pattern=data/c/*";
    let first = http.get(complete).await;
    assert!(first.page().has_more);
    let etag = first.header("etag").expect("a complete page has an ETag").to_owned();
    assert!(etag.starts_with('"') && !etag.starts_with("W/"), "a strong ETag: {etag}");
    assert_eq!(first.header("cache-control"), Some("public, max-age=31536000, immutable"));
    assert_eq!(first.header("vary"), Some("Accept"));
    assert_eq!(first.header("content-type"), Some("application/json"));
    let binary = http.get_with(complete, &[PROTOBUF]).await.unwrap();
    assert_eq!(binary.header("content-type"), Some("application/x-protobuf"));
    let binary_etag = binary.header("etag").expect("etag").to_owned();
    assert_ne!(binary_etag, etag, "each representation has its own ETag");
    let decoded = EventPage::decode(binary.body.as_slice()).unwrap();
    assert_eq!(decoded.events.iter().map(|e| e.idx).collect::<Vec<_>>(), first.page().idxs());

    for n in 25..40 {
        append(&writer, &build_received(&format!("b{n}"), &[&format!("data/c/{n}")])).await;
    }
    let again = http.get(complete).await;
    assert_eq!(again.body, first.body, "byte-identical after more appends");
    assert_eq!(again.header("etag"), Some(etag.as_str()));
    let binary_again = http.get_with(complete, &[PROTOBUF]).await.unwrap();
    assert_eq!((&binary_again.body, binary_again.header("etag")), (&binary.body, Some(binary_etag.as_str())));

    let revalidated = http.get_with(complete, &[("if-none-match", &etag)]).await.unwrap();
    assert_eq!(revalidated.status, 304);
    assert!(revalidated.body.is_empty());
    assert_eq!(revalidated.header("etag"), Some(etag.as_str()));
    let other = http.get_with(complete, &[("if-none-match", "\"something-else\"")]).await.unwrap();
    assert_eq!(other.status, 200);

    // The tail page (it ends at the horizon, which moves) is not cacheable.
    let tail = http.get("/v1/events?since_idx=0&limit=1000&partition_pattern=data/c/*").await;
    assert!(!tail.page().has_more);
    assert_eq!(tail.page().events.len(), 40);
    assert_eq!(tail.header("cache-control"), Some("no-store"));
    assert_eq!(tail.header("etag"), None);
    // Full but at the horizon: not complete either (its nextIdx is the horizon).
    let full_tail = http.get("/v1/events?since_idx=0&limit=40&partition_pattern=data/c/*").await;
    assert_eq!((full_tail.page().events.len(), full_tail.page().has_more), (40, false));
    assert_eq!(full_tail.header("cache-control"), Some("no-store"));
    server.stop().await;
}
