//! Leaving cleanly: `GET /account/export` and `POST /account/delete`.

use super::frame;
use crate::error::{Error, Result};
use crate::log;
use crate::services::leaving;
use crate::views;
use crate::web::cookies;
use crate::web::http::{Req, Resp};
use crate::web::Ctx;

/// The word the delete form's `confirm` field must hold.
const CONFIRM_WORD: &str = "delete";

/// The signed-in person's data, as a JSON download.
pub fn export(ctx: &Ctx, req: &Req) -> Result<Resp> {
    let session = ctx.require_session(req)?;
    let data = leaving::export(ctx.db, &session.user)?;
    let body = serde_json::to_string_pretty(&data).unwrap_or_default();
    log::event("account.exported", &[("user_id", &session.user.id)]);
    let filename = format!(
        "{}-export-{}.json",
        views::layout::PRODUCT.to_lowercase(),
        req.now.date_string()
    );
    Ok(Resp::new(200, "application/json", body).with_header(
        "Content-Disposition",
        &format!("attachment; filename=\"{filename}\""),
    ))
}

/// Deletes the signed-in account when `confirm` is the word `delete`; then
/// the person lands on `/`, signed out, with a one-line confirmation.
pub fn delete(ctx: &Ctx, req: &Req) -> Result<Resp> {
    let session = ctx.require_session(req)?;
    let form = req.form()?;
    let refused = |status: u16, message: &str| {
        let csrf = ctx.csrf_token(req);
        Ok(Resp::html(
            status,
            views::leaving::delete_page(&frame(ctx, Some(&session), &csrf), message),
        ))
    };
    // Phones capitalise the first letter; "Delete" is still the word.
    let confirmed = form
        .get("confirm")
        .is_some_and(|w| w.trim().eq_ignore_ascii_case(CONFIRM_WORD));
    if !confirmed {
        return refused(
            400,
            "Your account was not deleted: type the word delete in the box to confirm.",
        );
    }
    let done = match leaving::delete_own(ctx.db, session.user.id, req.now) {
        Ok(done) => done,
        Err(Error::Usage(message)) => return refused(409, &message),
        Err(e) => return Err(e),
    };
    log::event(
        "account.deleted",
        &[("user_id", &done.user_id), ("by", &"self")],
    );
    Ok(Resp::redirect("/?account=deleted")
        .with_header("Set-Cookie", &cookies::clear(cookies::SESSION, ctx.https())))
}
