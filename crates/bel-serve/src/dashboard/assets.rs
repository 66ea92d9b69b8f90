//! The stylesheet, the live tail's script and the icon, compiled into the binary. Each is
//! served under a name holding a digest of its content, so browsers may keep it forever and
//! a new build's assets get new names.
use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

pub struct Asset {
    stem: &'static str,
    extension: &'static str,
    content_type: &'static str,
    body: &'static str,
}

pub static STYLESHEET: Asset = Asset {
    stem: "dashboard",
    extension: "css",
    content_type: "text/css; charset=utf-8",
    body: include_str!("assets/dashboard.css"),
};

pub static TAIL_SCRIPT: Asset = Asset {
    stem: "tail",
    extension: "js",
    content_type: "text/javascript; charset=utf-8",
    body: include_str!("assets/tail.js"),
};

pub static ICON: Asset =
    Asset { stem: "icon", extension: "svg", content_type: "image/svg+xml", body: include_str!("assets/icon.svg") };

static ALL: [&Asset; 3] = [&STYLESHEET, &TAIL_SCRIPT, &ICON];

/// `dashboard.<digest>.css` for every asset, in the order of `ALL`.
static FILE_NAMES: LazyLock<Vec<String>> = LazyLock::new(|| {
    ALL.iter()
        .map(|asset| {
            let digest = Sha256::digest(asset.body.as_bytes());
            let short: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
            format!("{}.{short}.{}", asset.stem, asset.extension)
        })
        .collect()
});

impl Asset {
    /// The URL pages link it with.
    pub fn url(&'static self) -> String {
        let index = ALL.iter().position(|a| std::ptr::eq(*a, self)).unwrap_or(0);
        format!("/assets/{}", FILE_NAMES[index])
    }
}

/// `GET /assets/{file}`: open without a token (the login page needs the stylesheet).
pub async fn serve(Path(file): Path<String>) -> Response {
    let Some(index) = FILE_NAMES.iter().position(|name| *name == file) else {
        return (StatusCode::NOT_FOUND, "no such asset").into_response();
    };
    let asset = ALL[index];
    let mut response = asset.body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000, immutable"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn assets_are_served_under_their_digest() {
        let url = STYLESHEET.url();
        assert!(url.starts_with("/assets/dashboard.") && url.ends_with(".css"), "{url}");
        assert_ne!(url, TAIL_SCRIPT.url());
        let file = url.trim_start_matches("/assets/").to_owned();
        let response = serve(Path(file)).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[header::CONTENT_TYPE], "text/css; charset=utf-8");
        assert!(response.headers()[header::CACHE_CONTROL].to_str().unwrap().contains("immutable"));
        let stale = serve(Path("dashboard.000000000000.css".into())).await;
        assert_eq!(stale.status(), StatusCode::NOT_FOUND);
    }
}
