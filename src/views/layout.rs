//! The page frame every HTML page shares: head, top bar, main column.

use maud::{html, Markup, PreEscaped, DOCTYPE};

use crate::db::users::User;

pub use crate::config::PRODUCT;

/// Where the page's stylesheet and script are served (content-hashed).
#[derive(Clone, Debug)]
pub struct AssetUrls {
    pub css: String,
    pub js: String,
}

/// What the frame needs to know about the request.
pub struct Frame<'a> {
    pub assets: &'a AssetUrls,
    pub user: Option<&'a User>,
    pub csrf: &'a str,
}

pub fn page(frame: &Frame, title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · " (PRODUCT) }
                link rel="icon" href="/favicon.ico" sizes="16x16 32x32";
                link rel="stylesheet" href=(frame.assets.css);
                script src=(frame.assets.js) defer {}
            }
            body {
                (top_bar(frame, title))
                main class="container" { (body) }
                footer class="footer container" { (PRODUCT) " · your holdings, your server" }
            }
        }
    }
}

/// `aria-current="page"` on the top bar's link to the page being shown.
fn current(title: &str, link: &str) -> Option<&'static str> {
    (title == link).then_some("page")
}

fn top_bar(frame: &Frame, title: &str) -> Markup {
    html! {
        header class="topbar" {
            div class="container topbar-inner" {
                a class="brand" href="/" { span class="brand-mark" { "◆" } " " (PRODUCT) }
                @if let Some(user) = frame.user {
                    nav class="nav" aria-label="Main" {
                        a href="/portfolio" aria-current=[current(title, "Portfolio")] { "Portfolio" }
                        a href="/settings" aria-current=[current(title, "Settings")] { "Settings" }
                        form method="post" action="/logout" class="inline" {
                            (csrf_field(frame.csrf))
                            button type="submit" class="link-button" title=(user.email) { "Sign out" }
                        }
                    }
                } @else {
                    nav class="nav" { a href="/login" aria-current=[current(title, "Sign in")] { "Sign in" } }
                }
            }
        }
    }
}

/// The form's CSRF token as a hidden field. Tokens are base64url, which
/// needs no escaping, so the field is written as is: the portfolio page
/// has one per holding (each Delete form), and escaping each cost about
/// 1,000 instructions (`load --callgrind`). Anything else is escaped.
pub fn csrf_field(token: &str) -> Markup {
    const START: &str = r#"<input type="hidden" name="csrf" value=""#;
    if token
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        let mut field = String::with_capacity(START.len() + token.len() + 2);
        field.push_str(START);
        field.push_str(token);
        field.push_str(r#"">"#);
        return PreEscaped(field);
    }
    html! { input type="hidden" name="csrf" value=(token); }
}

/// A labelled input with its error, if any, right under it.
pub fn field(label: &str, input: Markup, error: Option<&str>) -> Markup {
    html! {
        label class="field" {
            span class="field-label" { (label) }
            (input)
            @if let Some(error) = error {
                span class="field-error" role="alert" { (error) }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_csrf_field_is_the_same_markup_written_directly() {
        let token = "aB3-_x9ZqKJ0wlE2n4m5o6p7q8r9s0t1u2v3w4x5y6z";
        let escaped = html! { input type="hidden" name="csrf" value=(token); };
        assert_eq!(csrf_field(token).into_string(), escaped.into_string());
        assert_eq!(
            csrf_field(r#"a"><script>"#).into_string(),
            r#"<input type="hidden" name="csrf" value="a&quot;&gt;&lt;script&gt;">"#
        );
    }
}
