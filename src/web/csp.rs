//! The Content-Security-Policy of a page that carries the Paddle checkout.
//! Every other page keeps the strict default the server adds
//! (`respond.rs`); this one differs only in letting Paddle.js load from
//! Paddle's CDN, style its overlay at run time (it sets inline styles, so
//! `style-src` takes `'unsafe-inline'`; scripts never do), show its images,
//! open its checkout frame, and talk to its checkout service, for the one
//! environment configured. Both policies name `report-uri /csp-report`, so
//! anything still blocked shows in the log and in `/metrics`.

use crate::config::paddle::PaddleEnv;
use crate::web::http::Resp;

/// Where browsers report what a policy blocked (`POST /csp-report`).
pub const REPORT_URI: &str = "/csp-report";

/// The policy for a checkout page in `env`.
pub fn checkout_policy(env: PaddleEnv) -> String {
    let (frame, service) = match env {
        PaddleEnv::Sandbox => (
            "https://sandbox-buy.paddle.com",
            "https://sandbox-checkout-service.paddle.com",
        ),
        PaddleEnv::Live => (
            "https://buy.paddle.com",
            "https://checkout-service.paddle.com",
        ),
    };
    format!(
        "default-src 'self'; script-src 'self' https://cdn.paddle.com; \
         style-src 'self' 'unsafe-inline'; img-src 'self' data: https://cdn.paddle.com; \
         connect-src 'self' {service}; frame-src {frame}; form-action 'self'; \
         base-uri 'none'; object-src 'none'; frame-ancestors 'none'; report-uri {REPORT_URI}"
    )
}

/// `resp` with the checkout policy, when the page carries a checkout.
pub fn for_checkout(resp: Resp, env: Option<PaddleEnv>) -> Resp {
    match env {
        Some(env) => resp.with_header("Content-Security-Policy", &checkout_policy(env)),
        None => resp,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_environment_allows_only_its_own_checkout_frame() {
        let sandbox = checkout_policy(PaddleEnv::Sandbox);
        assert!(sandbox.contains("frame-src https://sandbox-buy.paddle.com;"));
        assert!(!sandbox.contains("https://buy.paddle.com"));
        let live = checkout_policy(PaddleEnv::Live);
        assert!(live.contains("frame-src https://buy.paddle.com;"));
        assert!(!live.contains("sandbox"));
        assert!(sandbox.contains("connect-src 'self' https://sandbox-checkout-service.paddle.com;"));
        assert!(live.contains("connect-src 'self' https://checkout-service.paddle.com;"));
        for policy in [sandbox, live] {
            assert!(policy.contains("script-src 'self' https://cdn.paddle.com;"));
            assert!(
                policy.contains("style-src 'self' 'unsafe-inline';"),
                "{policy}"
            );
            assert!(policy.contains("img-src 'self' data: https://cdn.paddle.com;"));
            assert_eq!(policy.matches("unsafe").count(), 1, "only styles: {policy}");
            assert!(policy.contains("frame-ancestors 'none'"));
            assert!(policy.ends_with("; report-uri /csp-report"), "{policy}");
        }
    }
}
