//! `POST /csp-report`: what a browser says our Content-Security-Policy
//! blocked. No cookie, Origin or CSRF token is asked for (browsers send
//! reports on their own); the body is at most 8 KiB; each violation is
//! counted in `/metrics` and logged, a few lines a minute at most.

use crate::error::Result;
use crate::log;
use crate::services::csp_report::{self, Verdict};
use crate::web::http::{Req, Resp};
use crate::web::Ctx;

pub fn report(ctx: &Ctx, req: &Req) -> Result<Resp> {
    let violations = csp_report::violations(req.header("content-type"), &req.body)?;
    let metrics = &ctx.site.metrics;
    for v in &violations {
        metrics.csp_violation(v.directive);
        match ctx.site.csp_log_budget.take(req.now) {
            Verdict::Log { suppressed_before } => log::event(
                "csp.violation",
                &[
                    ("directive", &v.directive),
                    ("blocked", &v.blocked),
                    ("page", &v.page),
                    ("unlogged_before", &suppressed_before),
                ],
            ),
            Verdict::Count => metrics.csp_line_suppressed(),
        }
    }
    Ok(Resp::new(204, "text/plain; charset=utf-8", ""))
}
