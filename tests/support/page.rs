//! Reading pages: the text of the element a marker attribute names, and
//! the inputs of a form (its CSRF token among them).

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

/// The value of the hidden `csrf` input in a page. Panics (showing the page)
/// when there is none.
pub fn csrf_in(html: &str) -> String {
    try_csrf_in(html).unwrap_or_else(|| panic!("no csrf input in the page:\n{html}"))
}

pub fn try_csrf_in(html: &str) -> Option<String> {
    input_value(html, "csrf")
}

/// The `value` of the first `<input name="NAME" …>` in `html`, entities decoded.
pub fn input_value(html: &str, name: &str) -> Option<String> {
    let mut rest = html;
    while let Some(start) = rest.find("<input") {
        let tag_end = rest[start..].find('>').map(|i| start + i)?;
        let attrs = tag_attrs(&rest[start + "<input".len()..tag_end]);
        let get = |key: &str| {
            attrs
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| v.clone())
        };
        if get("name").as_deref() == Some(name) {
            return Some(html_unescape(&get("value").unwrap_or_default()));
        }
        rest = &rest[tag_end..];
    }
    None
}

/// `a="1" b='2' c=3 d` → pairs (values still escaped).
fn tag_attrs(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = s.trim_end_matches('/').chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let key: String =
            std::iter::from_fn(|| chars.next_if(|c| !c.is_whitespace() && *c != '=')).collect();
        if key.is_empty() {
            if chars.next().is_none() {
                return out;
            }
            continue;
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut value = String::new();
        if chars.next_if_eq(&'=').is_some() {
            while chars.peek().is_some_and(|c| c.is_whitespace()) {
                chars.next();
            }
            match chars.peek().copied() {
                Some(q @ ('"' | '\'')) => {
                    chars.next();
                    value = std::iter::from_fn(|| chars.next_if(|c| *c != q)).collect();
                    chars.next();
                }
                _ => value = std::iter::from_fn(|| chars.next_if(|c| !c.is_whitespace())).collect(),
            }
        }
        out.push((key, value));
    }
}

/// The opening `<a …>` tag whose `href` is exactly `href`.
pub fn link(html: &str, href: &str) -> Option<String> {
    let at = html.find(&format!("href=\"{href}\""))?;
    let start = html[..at].rfind('<')?;
    let end = at + html[at..].find('>')?;
    Some(html[start..=end].to_string())
}

/// Undoes the escaping maud applies to text and attribute values.
pub fn html_unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}
