//! gzip for text answers (pages, JSON, `/metrics`, the stylesheet and the
//! script) when the client says it takes gzip: Lighthouse's "enable text
//! compression". Pages are compressed as they leave (a few kilobytes, a
//! fast level); the static assets once, at start, at the best level.

use std::io::Write;

use flate2::write::GzEncoder;
use flate2::Compression;

use super::http::{Req, Resp};

/// Smaller answers gain less than gzip's own header and trailer cost.
pub const MIN_BYTES: usize = 512;

/// Whether `Accept-Encoding` names gzip (or `*`) with a weight above zero.
pub fn accepts_gzip(req: &Req) -> bool {
    let Some(header) = req.header("accept-encoding") else {
        return false;
    };
    header.split(',').any(|item| {
        let mut parts = item.split(';');
        let coding = parts.next().unwrap_or("").trim();
        let refused = parts.any(|p| {
            p.trim()
                .strip_prefix("q=")
                .and_then(|q| q.trim().parse::<f32>().ok())
                .is_some_and(|q| q <= 0.0)
        });
        !refused
            && (coding.eq_ignore_ascii_case("gzip")
                || coding.eq_ignore_ascii_case("x-gzip")
                || coding == "*")
    })
}

/// `bytes` gzipped at `level`.
pub fn gzip(bytes: &[u8], level: Compression) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::with_capacity(bytes.len() / 3 + 64), level);
    // Writing into a Vec cannot fail.
    let _ = encoder.write_all(bytes);
    encoder.finish().unwrap_or_default()
}

/// Text worth compressing: HTML, CSS, JavaScript, JSON, plain text, SVG.
fn is_text(content_type: &str) -> bool {
    let mime = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    mime.starts_with("text/")
        || matches!(
            mime.as_str(),
            "application/json" | "application/javascript" | "image/svg+xml"
        )
}

/// The answer as it leaves for this client: text says `Vary:
/// Accept-Encoding` (a cache must not hand the gzipped copy to a client
/// that cannot read it), and goes out gzipped when the client takes it.
/// An answer already encoded (the assets) is left as it is.
pub fn for_client(req: &Req, mut resp: Resp) -> Resp {
    if resp.header("content-encoding").is_some()
        || !resp.header("content-type").is_some_and(is_text)
    {
        return resp;
    }
    resp = resp.with_header("Vary", "Accept-Encoding");
    if resp.body.len() < MIN_BYTES || !accepts_gzip(req) {
        return resp;
    }
    resp.body = gzip(&resp.body, Compression::fast());
    resp.with_header("Content-Encoding", "gzip")
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;
    use crate::web::http::Method;

    fn req(accept: Option<&str>) -> Req {
        let mut req = Req::new(Method::Get, "/");
        if let Some(v) = accept {
            req.headers.push(("accept-encoding".into(), v.into()));
        }
        req
    }

    fn gunzip(bytes: &[u8]) -> String {
        let mut out = String::new();
        flate2::read::GzDecoder::new(bytes)
            .read_to_string(&mut out)
            .expect("gzip");
        out
    }

    #[test]
    fn accept_encoding_is_read_with_its_weights() {
        for yes in [
            "gzip",
            "gzip, deflate, br, zstd",
            "br;q=1.0, gzip;q=0.8",
            "*",
            "GZIP",
        ] {
            assert!(accepts_gzip(&req(Some(yes))), "{yes}");
        }
        for no in ["", "br", "identity", "gzip;q=0", "gzip; q=0.0, br", "gzipx"] {
            assert!(!accepts_gzip(&req(Some(no))), "{no}");
        }
        assert!(!accepts_gzip(&req(None)));
    }

    #[test]
    fn text_is_gzipped_for_clients_that_take_it_and_says_vary() {
        let page = "<p>hello</p>".repeat(100);
        let html = || Resp::new(200, "text/html; charset=utf-8", page.clone());
        let out = for_client(&req(Some("gzip, br")), html());
        assert_eq!(out.header("content-encoding"), Some("gzip"));
        assert_eq!(out.header("vary"), Some("Accept-Encoding"));
        assert!(out.body.len() < page.len() / 4);
        assert_eq!(gunzip(&out.body), page);

        let plain = for_client(&req(None), html());
        assert_eq!(plain.header("content-encoding"), None);
        assert_eq!(plain.header("vary"), Some("Accept-Encoding"));
        assert_eq!(plain.body, page.as_bytes());

        let small = for_client(&req(Some("gzip")), Resp::text(200, "ok"));
        assert_eq!(small.header("content-encoding"), None, "too small to gain");
        let icon = Resp::new(200, "image/x-icon", vec![0u8; 4096]);
        let icon = for_client(&req(Some("gzip")), icon);
        assert_eq!(icon.header("content-encoding"), None, "not text");
        assert_eq!(icon.header("vary"), None);
    }
}
