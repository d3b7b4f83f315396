//! The portfolio page and its forms, the portfolio JSON API, and analysis.

use serde_json::{json, Value};

use super::frame;
use crate::error::{Error, Result};
use crate::log;
use crate::services::access::{self, Caller};
use crate::services::billing::checkout;
use crate::services::history::Span;
use crate::services::holding_form::{self, FieldErrors, Fields};
use crate::services::import::BadRow;
use crate::services::portfolio::{Holding, PriceSource};
use crate::services::{analyst, funnel, portfolio};
use crate::views;
use crate::views::portfolio::{Figures, HoldingForm, Notice};
use crate::web::cookies;
use crate::web::flash::{Change, Flash, FLASH};
use crate::web::holdings_json;
use crate::web::http::{Req, Resp};
use crate::web::offload::{self, PoolName};
use crate::web::{csp, Ctx, Session, ANALYSES_PER_MINUTE};

pub fn page(ctx: &Ctx, req: &Req) -> Result<Resp> {
    let session = ctx.require_session(req)?;
    let cookie = ctx.cookie_name(FLASH);
    let Some(value) = req.cookie(&cookie) else {
        return render(ctx, req, &session, 200, &HoldingForm::default(), &[], None);
    };
    // Shown once: the page that shows the note clears it.
    let notice = Flash::open(&ctx.site.keys.flash_cookie, value, req.now).and_then(|f| {
        let h = f.holding()?;
        Some(match f.change {
            Change::Saved => Notice::Saved(h),
            Change::Deleted => Notice::Deleted(h),
        })
    });
    Ok(render(
        ctx,
        req,
        &session,
        200,
        &HoldingForm::default(),
        &[],
        notice.as_ref(),
    )?
    .with_header("Set-Cookie", &cookies::clear(FLASH, ctx.https())))
}

/// `GET /portfolio/holdings` and `GET …/delete`: the forms' addresses, for
/// someone who reloads or bookmarks them.
pub fn to_page(_ctx: &Ctx, _req: &Req) -> Result<Resp> {
    Ok(Resp::redirect("/portfolio"))
}

pub(super) fn render(
    ctx: &Ctx,
    req: &Req,
    session: &Session,
    status: u16,
    form: &HoldingForm,
    import_errors: &[BadRow],
    notice: Option<&Notice>,
) -> Result<Resp> {
    let span = Span::parse(req.query_param("range").as_deref());
    let figures = portfolio::figures(ctx.db, session.user.id, span, req.now)?;
    let csrf = ctx.csrf_token(req);
    // The upgrade hint (and so the checkout) shows here when commentary
    // answers 402: only for someone without paid access.
    let paddle = ctx.site.config.paddle.as_ref();
    let offer = if access::user_paid_status(&session.user, req.now).active {
        None
    } else {
        checkout::offer(ctx.db, paddle, &session.user)?
    };
    let page = views::portfolio::portfolio(
        &frame(ctx, Some(session), &csrf),
        &Figures {
            valuation: &figures.valuation,
            metrics: &figures.metrics,
            history: &figures.history,
            span,
            quotes: ctx.site.config.quotes.as_ref().map(|q| q.provider),
            rates_day: figures.rates_day.as_deref(),
        },
        form,
        import_errors,
        offer.as_ref(),
        notice,
    );
    let env = offer.and(paddle).map(|p| p.env);
    Ok(csp::for_checkout(Resp::html(status, page), env))
}

/// After a change: back to the page (POST-redirect-GET) with its note.
fn changed(ctx: &Ctx, req: &Req, change: Change, holding: &Holding) -> Resp {
    let flash = Flash::new(change, holding, req.now).seal(&ctx.site.keys.flash_cookie);
    Resp::redirect("/portfolio").with_header(
        "Set-Cookie",
        &cookies::set(FLASH, &flash, Flash::lifetime(), ctx.https()),
    )
}

/// `POST /portfolio/holdings`: add or update one holding from the form. A
/// refused form comes back as the portfolio page (400) with every bad field
/// marked and the typed values kept.
pub fn save(ctx: &Ctx, req: &Req) -> Result<Resp> {
    let session = ctx.require_session(req)?;
    let form = req.form()?;
    let field = |name| form.get(name).unwrap_or("");
    // A quoted price only where quotes are on; otherwise the box is not shown.
    let provider = ctx.site.config.quotes.as_ref().map(|q| q.provider);
    let quoted = provider.filter(|_| !field("quoted").is_empty());
    let refused = |errors: FieldErrors| {
        let shown = |v: &'static str| if field(v).len() <= 64 { field(v) } else { "" };
        let form = HoldingForm {
            symbol: shown("symbol"),
            quantity: shown("quantity"),
            price: shown("price"),
            cost_basis: shown("cost_basis"),
            currency: shown("currency"),
            quoted: quoted.is_some(),
            errors,
        };
        render(ctx, req, &session, 400, &form, &[], None)
    };
    let base = session.user.base_currency;
    let fields = Fields {
        symbol: field("symbol"),
        quantity: field("quantity"),
        price: field("price"),
        cost_basis: field("cost_basis"),
        currency: field("currency"),
    };
    let mut holding = match holding_form::from_fields(fields, base, quoted.is_some()) {
        Ok(h) => h,
        Err(errors) => return refused(errors),
    };
    if let Some(provider) = quoted {
        holding.price_source = provider;
    }
    match portfolio::save(ctx.db, session.user.id, &holding, req.now) {
        Ok(()) => {}
        Err(Error::BadRequest(message)) => {
            return refused(FieldErrors {
                symbol: Some(message),
                ..FieldErrors::default()
            })
        }
        Err(e) => return Err(e),
    }
    log::event(
        "portfolio.saved",
        &[
            ("user_id", &session.user.id),
            ("symbol", &holding.symbol),
            ("price_source", &holding.price_source.as_str()),
        ],
    );
    Ok(changed(ctx, req, Change::Saved, &holding))
}

/// `POST /portfolio/holdings/{symbol}/delete`: deletes at once; the note
/// that follows offers an Undo.
pub fn delete(ctx: &Ctx, req: &Req) -> Result<Resp> {
    let session = ctx.require_session(req)?;
    let raw = req.path.split('/').nth(3).unwrap_or("");
    let symbol = portfolio::normalise_symbol(raw).map_err(|_| Error::NotFound)?;
    let Some(deleted) = portfolio::remove(ctx.db, session.user.id, &symbol)? else {
        return Err(Error::NotFound);
    };
    log::event(
        "portfolio.deleted",
        &[("user_id", &session.user.id), ("symbol", &symbol)],
    );
    Ok(changed(ctx, req, Change::Deleted, &deleted))
}

pub fn api_get(ctx: &Ctx, req: &Req) -> Result<Resp> {
    let session = ctx.require_session(req)?;
    let holdings = portfolio::list(ctx.db, session.user.id)?;
    Ok(Resp::json(200, &json!({ "holdings": holdings })))
}

/// `PUT /api/portfolio`: replaces every holding, or changes nothing.
pub fn api_put(ctx: &Ctx, req: &Req) -> Result<Resp> {
    let session = ctx.require_session(req)?;
    let body: Value = req.json()?;
    let base = session.user.base_currency;
    let mut holdings = holdings_json::holdings(&body, base)?;
    // A quoted entry takes the configured provider; with quotes off, typed.
    let provider = ctx.site.config.quotes.as_ref().map(|q| q.provider);
    for h in &mut holdings {
        if h.price_source.is_quoted() {
            h.price_source = provider.unwrap_or(PriceSource::Typed);
        }
    }
    portfolio::replace(ctx.db, session.user.id, &holdings, req.now)?;
    log::event(
        "portfolio.replaced",
        &[("user_id", &session.user.id), ("holdings", &holdings.len())],
    );
    let saved = portfolio::list(ctx.db, session.user.id)?;
    Ok(Resp::json(200, &json!({ "holdings": saved })))
}

/// `POST /api/analyze`: the paid feature.
pub fn analyze(ctx: &Ctx, req: &Req) -> Result<Resp> {
    let caller = ctx.require_paid(req)?;
    let base = match &caller {
        Caller::User(user) => user.base_currency,
        Caller::Admin => crate::money::Currency::USD,
    };
    let posted = if req.body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        holdings_json::holdings_if_sent(&req.json()?, base)?
    };
    // The saved portfolio brings its history (the 30-day change) with it.
    let (holdings, metrics) = match (posted, &caller) {
        (Some(list), _) => portfolio::weighed(ctx.db, &list, base)?,
        (None, Caller::User(user)) => {
            let f = portfolio::figures(ctx.db, user.id, Span::Days30, req.now)?;
            (f.in_base, f.metrics)
        }
        (None, Caller::Admin) => {
            return Err(Error::BadRequest(
                "An admin call must send {\"holdings\": [...]}.".into(),
            ))
        }
    };
    if holdings.is_empty() {
        return Err(Error::BadRequest(
            "There are no holdings to analyse: add a holding first.".into(),
        ));
    }
    if ctx.site.llm.is_none() {
        // The built-in analyst is quick arithmetic: it answers right here.
        return Resp::json_of(
            200,
            &counted(ctx, req, analyst::analyse(None, &holdings, metrics)),
        );
    }
    // A full pool is told first, so a 503 does not use up one of the
    // caller's analyses; the worker's reservation is what enforces it.
    if ctx.site.pools.llm.is_full() {
        return Err(offload::full());
    }
    limit_analyses(ctx, req, &caller)?;
    // The LLM may take many seconds: its own pool waits for it, never a worker.
    Ok(Resp::offload(PoolName::Llm, move |ctx: &Ctx, req: &Req| {
        let llm = ctx.site.llm.as_ref().map(|l| l as &dyn analyst::Analyst);
        Resp::json_of(
            200,
            &counted(ctx, req, analyst::analyse(llm, &holdings, metrics)),
        )
    }))
}

/// Counts the analysis for `app stats` (LLM or built-in), then hands it on.
fn counted(ctx: &Ctx, req: &Req, result: analyst::Analysis) -> analyst::Analysis {
    funnel::record_analysis(ctx.db, result.provider, req.now);
    result
}

/// A few analyses a minute per user (or per client, for the admin token),
/// checked before anything is queued.
fn limit_analyses(ctx: &Ctx, req: &Req, caller: &Caller) -> Result<()> {
    let key = match caller {
        Caller::User(user) => format!("user:{}", user.id),
        Caller::Admin => format!("admin:{}", req.client),
    };
    ctx.site
        .analyses_per_caller
        .check_and_hit(&key, req.now)
        .map_err(|retry_after| {
            log::event("analysis.rate_limited", &[("caller", &key)]);
            Error::TooManyRequests {
                retry_after,
                message: format!(
                    "That is {ANALYSES_PER_MINUTE} analyses in a minute, the most we run. Try again in {retry_after} seconds."
                ),
            }
        })
}
