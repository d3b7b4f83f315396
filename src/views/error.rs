//! The page shown for errors: a status, a sentence, a way back.

use maud::{html, Markup};

use super::layout::{self, AssetUrls, Frame};

pub fn page_for(frame: &Frame, status: u16, message: &str) -> Markup {
    let title = match status {
        400 => "Something is off with that request",
        403 => "Not allowed",
        404 => "Not found",
        405 => "Not allowed here",
        413 => "Too large",
        429 => "Slow down",
        503 => "Unavailable for a moment",
        _ => "Something went wrong",
    };
    layout::page(
        frame,
        title,
        html! {
            section class="card narrow" {
                p class="eyebrow" { "Error " (status) }
                h1 { (title) }
                p { (message) }
                p { a class="button secondary" href="/" { "Back to the start" } }
            }
        },
    )
}

/// An error page without a signed-in frame (the server's own errors).
pub fn page(assets: &AssetUrls, status: u16, message: &str) -> Markup {
    page_for(
        &Frame {
            assets,
            user: None,
            csrf: "",
            billing_on: false,
            support_email: "",
        },
        status,
        message,
    )
}
