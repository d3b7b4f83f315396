//! The mailbox behind an email address, for rate limits: `a+tag@x.com` and
//! `a@x.com` reach the same inbox, and so do `j.doe@gmail.com` and
//! `jdoe@googlemail.com`. Accounts keep the email as typed; only limits
//! count by mailbox.

/// The limit key for a normalised (lowercased, validated) email.
pub fn mailbox(email: &str) -> String {
    let Some((local, domain)) = email.rsplit_once('@') else {
        return email.to_string();
    };
    let local = match local.split('+').next() {
        Some(base) if !base.is_empty() => base,
        _ => local,
    };
    match domain {
        "gmail.com" | "googlemail.com" => format!("{}@gmail.com", local.replace('.', "")),
        _ => format!("{local}@{domain}"),
    }
}

#[cfg(test)]
mod tests {
    use super::mailbox;

    #[test]
    fn tags_and_gmail_dots_are_one_mailbox() {
        assert_eq!(mailbox("a+x@example.com"), "a@example.com");
        assert_eq!(mailbox("a+x+y@example.com"), "a@example.com");
        assert_eq!(
            mailbox("a.b@example.com"),
            "a.b@example.com",
            "dots count elsewhere"
        );
        assert_eq!(mailbox("j.d.oe+news@gmail.com"), "jdoe@gmail.com");
        assert_eq!(mailbox("jdoe@googlemail.com"), "jdoe@gmail.com");
        assert_eq!(mailbox("+x@example.com"), "+x@example.com");
        assert_eq!(mailbox("plain@example.com"), "plain@example.com");
    }
}
