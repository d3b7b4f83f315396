//! The signed-out front page.

use maud::{html, Markup};

use super::layout::{page, Frame, PRODUCT};

/// `account_deleted`: the person just deleted their account and lands here.
pub fn landing(frame: &Frame, account_deleted: bool) -> Markup {
    page(
        frame,
        "Welcome",
        html! {
            @if account_deleted {
                p class="banner info" role="status" data-testid="account-deleted" {
                    "Your account has been deleted and you are signed out."
                }
            }
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
                    @if frame.billing_on {
                        li { strong { "Invite friends." } " You both get 50% off for three months." }
                    } @else {
                        li { strong { "Invite friends." } " Share your invite link from Settings." }
                    }
                }
            }
        },
    )
}
