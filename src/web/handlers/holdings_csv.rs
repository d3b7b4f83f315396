//! Holdings in and out as CSV (`GET /portfolio/export.csv`, `POST
//! /portfolio/import`) and the base currency (`POST /settings/currency`).

use crate::error::{Error, Result};
use crate::log;
use crate::money::Currency;
use crate::services::{import, portfolio};
use crate::views::portfolio::HoldingForm;
use crate::web::http::{Req, Resp};
use crate::web::{multipart, Ctx};

/// The holdings as a CSV download that `POST /portfolio/import` reads back.
pub fn export(ctx: &Ctx, req: &Req) -> Result<Resp> {
    let session = ctx.require_session(req)?;
    let list = portfolio::list(ctx.db, session.user.id)?;
    let filename = format!("holdings-{}.csv", req.now.date_string());
    Ok(
        Resp::new(200, "text/csv; charset=utf-8", import::export(&list)).with_header(
            "Content-Disposition",
            &format!("attachment; filename=\"{filename}\""),
        ),
    )
}

/// `POST /portfolio/import`: a multipart upload with the file as `file`.
/// All rows or none; a refused file is the portfolio page (400) listing
/// every bad row by line.
pub fn import(ctx: &Ctx, req: &Req) -> Result<Resp> {
    let session = ctx.require_session(req)?;
    let upload = multipart::parse(req)?;
    let file = upload
        .get("file")
        .ok_or_else(|| Error::BadRequest("Choose a CSV file to import.".into()))?;
    let refused = |errors: Vec<import::BadRow>| {
        super::portfolio::render(
            ctx,
            req,
            &session,
            400,
            &HoldingForm::default(),
            &errors,
            None,
        )
    };
    let Ok(text) = std::str::from_utf8(&file.body) else {
        return refused(vec![import::BadRow {
            line: 1,
            reason: "the file is not UTF-8 text (save it as CSV UTF-8)".into(),
        }]);
    };
    match import::import(ctx.db, session.user.id, text, req.now) {
        Ok(Ok(done)) => {
            log::event(
                "portfolio.imported",
                &[
                    ("user_id", &session.user.id),
                    ("added", &done.added),
                    ("updated", &done.updated),
                ],
            );
            Ok(Resp::redirect("/portfolio#history"))
        }
        Ok(Err(errors)) => refused(errors),
        Err(Error::BadRequest(message)) => refused(vec![import::BadRow {
            line: 1,
            reason: message,
        }]),
        Err(e) => Err(e),
    }
}

/// `POST /settings/currency` (`currency`): the base currency values and the
/// history are shown in.
pub fn set_currency(ctx: &Ctx, req: &Req) -> Result<Resp> {
    let session = ctx.require_session(req)?;
    let form = req.form()?;
    let currency = form
        .get("currency")
        .and_then(Currency::parse)
        .ok_or_else(|| {
            Error::BadRequest("The base currency is a three-letter code like USD or EUR.".into())
        })?;
    portfolio::set_base_currency(ctx.db, session.user.id, currency)?;
    log::event(
        "settings.base_currency",
        &[("user_id", &session.user.id), ("currency", &currency)],
    );
    Ok(Resp::redirect("/settings#currency"))
}
