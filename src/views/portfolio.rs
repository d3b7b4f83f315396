//! The portfolio page.

use maud::{html, Markup};

use super::layout::{page, Frame};

pub fn portfolio(frame: &Frame) -> Markup {
    page(
        frame,
        "Portfolio",
        html! {
            section class="card" {
                h1 { "Portfolio" }
                p class="muted" { "Your holdings will appear here." }
            }
        },
    )
}
