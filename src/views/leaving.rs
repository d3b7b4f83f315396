//! Deleting an account: the card at the end of the settings page, and the
//! page that says why a deletion did not happen.

use maud::{html, Markup};

use super::layout::{csrf_field, page, Frame};

/// "Delete my account", with the data export beside it. Works without
/// JavaScript: a plain form that needs the word `delete` typed.
pub fn danger_card(csrf: &str, error: Option<&str>) -> Markup {
    html! {
        section class="card danger" id="delete" {
            h2 { "Your data" }
            p { a href="/account/export" download { "Download my data" } " (JSON)" }
            h3 { "Delete my account" }
            p class="muted" {
                "This removes your holdings and signs you out everywhere. It cannot be undone. "
                "If you pay for a subscription, cancel it under Manage billing first."
            }
            @if let Some(error) = error {
                p class="banner warn" role="alert" data-testid="delete-error" { (error) }
            }
            form method="post" action="/account/delete" {
                (csrf_field(csrf))
                label class="field" {
                    span class="field-label" { "Type " strong { "delete" } " to confirm" }
                    input type="text" name="confirm" autocomplete="off" required;
                }
                button type="submit" class="button danger" { "Delete my account" }
            }
        }
    }
}

/// Shown when a deletion was refused, with the form to try again.
pub fn delete_page(frame: &Frame, error: &str) -> Markup {
    page(
        frame,
        "Delete my account",
        html! {
            h1 { "Delete my account" }
            (danger_card(frame.csrf, Some(error)))
            p { a href="/settings#billing" { "Manage billing" } " · " a href="/settings" { "Back to settings" } }
        },
    )
}
