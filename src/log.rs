//! Log lines on stderr, one per request and one per domain event, in a
//! stable `key=value` form. Callers never pass codes, tokens or cookies.

use std::fmt::{Display, Write as _};
use std::io::Write as _;

use crate::clock::Timestamp;

/// `ts=… event=NAME k=v …`
pub fn event(name: &str, fields: &[(&str, &dyn Display)]) {
    let mut line = format!("ts={} event={name}", Timestamp::now());
    for (key, value) in fields {
        let _ = write!(line, " {key}=");
        push_value(&mut line, &value.to_string());
    }
    line.push('\n');
    // A closed stderr must not take a worker down.
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// An email address as the log shows it once mail goes out by SMTP: the
/// first character and the domain (`a…@example.com`), enough to follow a
/// support request without the log becoming a list of customers. Without
/// SMTP the log is the mailbox, so callers show the address whole there.
pub fn masked_email(email: &str) -> String {
    match email.rsplit_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}…@{domain}")
        }
        None => "…".to_string(),
    }
}

/// Quotes values with spaces or quotes, and escapes control characters so a
/// hostile value can never forge a second log line.
fn push_value(out: &mut String, value: &str) {
    let plain = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_graphic() && c != '"' && c != '=');
    if plain {
        out.push_str(value);
        return;
    }
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::push_value;

    #[test]
    fn values_cannot_break_the_line() {
        let mut s = String::new();
        push_value(&mut s, "a b\r\nevent=forged \"x\"");
        assert_eq!(s, r#""a b\u{d}\u{a}event=forged \"x\"""#);
        let mut s = String::new();
        push_value(&mut s, "/login");
        assert_eq!(s, "/login");
    }
}
