//! Reading pages: the text of the element a marker attribute names.

use super::html_unescape;

/// The text inside the first element that carries `attr` (e.g.
/// `data-testid="referral-code"`), entities decoded and trimmed. Panics
/// (showing the page) when there is none.
pub fn text_of(html: &str, attr: &str) -> String {
    try_text_of(html, attr).unwrap_or_else(|| panic!("no element with {attr} in the page:\n{html}"))
}

pub fn try_text_of(html: &str, attr: &str) -> Option<String> {
    let at = html.find(attr)?;
    let open_end = at + html[at..].find('>')? + 1;
    let close = open_end + html[open_end..].find('<')?;
    Some(html_unescape(html[open_end..close].trim()))
}
