//! CSS and JS from `assets/`, compiled into the binary and served under a
//! content-hashed name with a year-long cache lifetime; and the favicon.

use flate2::Compression;

use crate::crypto;
use crate::views::layout::AssetUrls;

use super::compress;
use super::http::Resp;

pub struct Asset {
    /// `/assets/app.1a2b3c4d5e6f.css`
    pub url: String,
    content_type: &'static str,
    body: &'static [u8],
    /// The body gzipped once, at start, for clients that take it.
    gzipped: Vec<u8>,
}

impl Asset {
    fn new(stem: &str, ext: &str, content_type: &'static str, body: &'static [u8]) -> Asset {
        let hash = crypto::hex(&crypto::sha256(body)[..6]);
        Asset {
            url: format!("/assets/{stem}.{hash}.{ext}"),
            content_type,
            body,
            gzipped: compress::gzip(body, Compression::best()),
        }
    }
}

pub struct Assets {
    pub css: Asset,
    pub js: Asset,
    /// The URLs alone, as the views take them.
    pub urls: AssetUrls,
}

impl Assets {
    pub fn new() -> Assets {
        let css = Asset::new(
            "app",
            "css",
            "text/css; charset=utf-8",
            include_bytes!("../../assets/app.css"),
        );
        let js = Asset::new(
            "app",
            "js",
            "text/javascript; charset=utf-8",
            include_bytes!("../../assets/app.js"),
        );
        let urls = AssetUrls {
            css: css.url.clone(),
            js: js.url.clone(),
        };
        Assets { css, js, urls }
    }

    /// The asset at `path`, if it is one of ours by its current hash:
    /// gzipped (compressed at start) when the client takes gzip.
    pub fn serve(&self, path: &str, gzip: bool) -> Option<Resp> {
        let asset = [&self.css, &self.js].into_iter().find(|a| a.url == path)?;
        let resp = if gzip {
            Resp::new(200, asset.content_type, asset.gzipped.as_slice())
                .with_header("Content-Encoding", "gzip")
        } else {
            Resp::new(200, asset.content_type, asset.body)
        };
        Some(
            resp.with_header("Cache-Control", "public, max-age=31536000, immutable")
                .with_header("Vary", "Accept-Encoding"),
        )
    }
}

/// `/favicon.ico`, at the address browsers ask for without being told
/// (the pages link it too). Not content-hashed, so it is cached for a day.
pub fn favicon() -> Resp {
    Resp::new(
        200,
        "image/x-icon",
        include_bytes!("../../assets/favicon.ico").as_slice(),
    )
    .with_header("Cache-Control", "public, max-age=86400")
}

impl Default for Assets {
    fn default() -> Self {
        Self::new()
    }
}
