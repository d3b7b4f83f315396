//! The signed-out front page.

use maud::{html, Markup};

use super::layout::{page, Frame, PRODUCT};

pub fn landing(frame: &Frame) -> Markup {
    page(
        frame,
        "Welcome",
        html! {
            section class="hero" {
                h1 { "Your portfolio, on your own server." }
                p class="lead" {
                    (PRODUCT) " keeps your holdings, draws your allocation, and, on the paid plan, "
                    "writes plain-language commentary on concentration, diversification, winners and losers."
                }
                p { a class="button" href="/login" { "Sign in with your email" } }
                ul class="features" {
                    li { strong { "No passwords." } " A one-time code by email, every time." }
                    li { strong { "Your data stays here." } " One file on one server; nothing is shared." }
                    li { strong { "Invite friends." } " You both get 50% off for three months." }
                }
            }
        },
    )
}
