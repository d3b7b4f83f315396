//! Paddle Billing settings (SPEC §7): all four keys or none.

use crate::error::{Error, Result};

pub const SANDBOX_API: &str = "https://sandbox-api.paddle.com";
pub const LIVE_API: &str = "https://api.paddle.com";

/// Checked Paddle settings. Present only when billing is fully configured.
#[derive(Clone)]
pub struct PaddleConfig {
    /// `APP_PADDLE_WEBHOOK_SECRET`: the keys of `Paddle-Signature`, one, or
    /// two separated by a comma while a secret is rotated (either verifies).
    pub webhook_secrets: Vec<String>,
    /// `APP_PADDLE_API_KEY`: `Authorization: Bearer` for the API.
    pub api_key: String,
    /// `APP_PADDLE_CLIENT_TOKEN`: public, for Paddle.js in the page.
    pub client_token: String,
    /// The first of `APP_PADDLE_PRICE_ID`: the price the checkout sells.
    pub price_id: String,
    /// Every id of `APP_PADDLE_PRICE_ID` (comma-separated, the sold one
    /// first): only subscriptions to one of these give access or rewards.
    pub price_ids: Vec<String>,
    pub env: PaddleEnv,
    /// The API base without a trailing slash: `APP_PADDLE_API_URL`, else
    /// the one `env` picks.
    pub api_url: String,
    /// `APP_PADDLE_REFERRAL_DISCOUNT_ID`; unset, the app creates the
    /// discount once and keeps its id in the database.
    pub referral_discount_id: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PaddleEnv {
    Sandbox,
    Live,
}

impl PaddleEnv {
    /// As Paddle.js's `Environment.set` takes it.
    pub fn as_str(self) -> &'static str {
        match self {
            PaddleEnv::Sandbox => "sandbox",
            PaddleEnv::Live => "production",
        }
    }
}

// Secrets stay out of `{:?}` so a debug print of the config can't leak them.
impl std::fmt::Debug for PaddleConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PaddleConfig")
            .field("env", &self.env)
            .field("api_url", &self.api_url)
            .field("price_id", &self.price_id)
            .field("referral_discount_id", &self.referral_discount_id)
            .finish_non_exhaustive()
    }
}

const REQUIRED: [&str; 4] = [
    "APP_PADDLE_WEBHOOK_SECRET",
    "APP_PADDLE_API_KEY",
    "APP_PADDLE_CLIENT_TOKEN",
    "APP_PADDLE_PRICE_ID",
];

/// `None` when none of the four required keys is set; an error naming the
/// missing ones when only some are.
pub fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Result<Option<PaddleConfig>> {
    let values: Vec<Option<String>> = REQUIRED.iter().map(|k| env(k)).collect();
    let missing: Vec<&str> = REQUIRED
        .iter()
        .zip(&values)
        .filter(|(_, v)| v.is_none())
        .map(|(k, _)| *k)
        .collect();
    if missing.len() == REQUIRED.len() {
        return Ok(None);
    }
    if !missing.is_empty() {
        return Err(Error::Usage(format!(
            "Paddle billing is partly configured: set {} too, or unset every APP_PADDLE_* variable",
            missing.join(", ")
        )));
    }
    let env_name = env("APP_PADDLE_ENV").unwrap_or_else(|| "sandbox".into());
    let paddle_env = match env_name.trim() {
        "sandbox" => PaddleEnv::Sandbox,
        "live" => PaddleEnv::Live,
        other => {
            return Err(Error::Usage(format!(
                "APP_PADDLE_ENV is {other:?}; it takes sandbox or live"
            )))
        }
    };
    let api_url = env("APP_PADDLE_API_URL")
        .unwrap_or_else(|| {
            match paddle_env {
                PaddleEnv::Sandbox => SANDBOX_API,
                PaddleEnv::Live => LIVE_API,
            }
            .to_string()
        })
        .trim_end_matches('/')
        .to_string();
    if !(api_url.starts_with("https://") || api_url.starts_with("http://")) {
        return Err(Error::Usage(format!(
            "APP_PADDLE_API_URL {api_url:?} must start with https:// (or http:// for a local test server)"
        )));
    }
    let mut values = values.into_iter().flatten();
    let mut next = || values.next().unwrap_or_default();
    let webhook_secrets = webhook_secrets(&next())?;
    let (api_key, client_token) = (next(), next());
    let price_ids: Vec<String> = next()
        .split(',')
        .map(str::trim)
        .filter(|id| !id.is_empty())
        .map(str::to_string)
        .collect();
    let Some(price_id) = price_ids.first().cloned() else {
        return Err(Error::Usage(
            "APP_PADDLE_PRICE_ID names no price; give the pri_… id of the price you sell".into(),
        ));
    };
    // Ids go into Paddle's URL paths: only Paddle's own shape is taken.
    if let Some(bad) = price_ids.iter().find(|id| !is_paddle_id(id, "pri_")) {
        return Err(Error::Usage(format!(
            "APP_PADDLE_PRICE_ID holds {bad:?}, which is not a Paddle price id (pri_…); \
             list the ids separated by commas"
        )));
    }
    let referral_discount_id = env("APP_PADDLE_REFERRAL_DISCOUNT_ID");
    if let Some(bad) = referral_discount_id
        .as_deref()
        .filter(|id| !is_paddle_id(id, "dsc_"))
    {
        return Err(Error::Usage(format!(
            "APP_PADDLE_REFERRAL_DISCOUNT_ID is {bad:?}, which is not a Paddle discount id \
             (dsc_…); unset it and the app creates one"
        )));
    }
    Ok(Some(PaddleConfig {
        webhook_secrets,
        api_key,
        client_token,
        price_id,
        price_ids,
        env: paddle_env,
        api_url,
        referral_discount_id,
    }))
}

/// `prefix` followed by Paddle's id characters (`pri_01h…`), nothing that
/// could bend a URL path: what every id the app puts in a path must be.
pub fn is_paddle_id(id: &str, prefix: &str) -> bool {
    id.len() > prefix.len()
        && id.len() <= 100
        && id.starts_with(prefix)
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Most secrets `APP_PADDLE_WEBHOOK_SECRET` may hold: the current one and
/// the one being rotated in (or out).
pub const MAX_WEBHOOK_SECRETS: usize = 2;

/// `secret` or `old,new`: each one non-empty, at most two.
fn webhook_secrets(value: &str) -> Result<Vec<String>> {
    let secrets: Vec<String> = value.split(',').map(|s| s.trim().to_string()).collect();
    if secrets.iter().any(String::is_empty) || secrets.len() > MAX_WEBHOOK_SECRETS {
        return Err(Error::Usage(
            "APP_PADDLE_WEBHOOK_SECRET holds one secret, or two separated by one comma while \
             you rotate it (pdl_ntf_old,pdl_ntf_new)"
                .into(),
        ));
    }
    Ok(secrets)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    const ALL: [(&str, &str); 4] = [
        ("APP_PADDLE_WEBHOOK_SECRET", "pdl_ntf_x"),
        ("APP_PADDLE_API_KEY", "pdl_key"),
        ("APP_PADDLE_CLIENT_TOKEN", "test_tok"),
        ("APP_PADDLE_PRICE_ID", "pri_1"),
    ];

    #[test]
    fn none_set_means_billing_is_off() {
        assert!(from_env(&env_of(&[])).unwrap().is_none());
    }

    #[test]
    fn all_four_set_turns_it_on_in_the_sandbox() {
        let c = from_env(&env_of(&ALL)).unwrap().unwrap();
        assert_eq!(c.env, PaddleEnv::Sandbox);
        assert_eq!(c.api_url, SANDBOX_API);
        assert_eq!(
            (c.webhook_secrets.as_slice(), c.api_key.as_str()),
            (&["pdl_ntf_x".to_string()][..], "pdl_key")
        );
        assert_eq!(
            (c.client_token.as_str(), c.price_id.as_str()),
            ("test_tok", "pri_1")
        );
        assert!(
            !format!("{c:?}").contains("pdl_key"),
            "debug output hides secrets"
        );
    }

    #[test]
    fn partial_configuration_names_what_is_missing() {
        let e = from_env(&env_of(&[
            ("APP_PADDLE_API_KEY", "k"),
            ("APP_PADDLE_PRICE_ID", "p"),
        ]))
        .unwrap_err()
        .to_string();
        assert!(e.contains("APP_PADDLE_WEBHOOK_SECRET") && e.contains("APP_PADDLE_CLIENT_TOKEN"));
        assert!(!e.contains("APP_PADDLE_API_KEY,"));
    }

    #[test]
    fn several_prices_the_first_is_sold() {
        const MANY: [(&str, &str); 4] = [
            ALL[0],
            ALL[1],
            ALL[2],
            ("APP_PADDLE_PRICE_ID", " pri_month , pri_year,"),
        ];
        let c = from_env(&env_of(&MANY)).unwrap().unwrap();
        assert_eq!(c.price_id, "pri_month");
        assert_eq!(c.price_ids, ["pri_month", "pri_year"]);
        const NONE: [(&str, &str); 4] = [ALL[0], ALL[1], ALL[2], ("APP_PADDLE_PRICE_ID", " , ")];
        assert!(from_env(&env_of(&NONE)).is_err());
    }

    #[test]
    fn live_and_override() {
        const LIVE: [(&str, &str); 6] = [
            ALL[0],
            ALL[1],
            ALL[2],
            ALL[3],
            ("APP_PADDLE_ENV", "live"),
            ("APP_PADDLE_API_URL", "http://127.0.0.1:9/"),
        ];
        let c = from_env(&env_of(&LIVE)).unwrap().unwrap();
        assert_eq!(c.env, PaddleEnv::Live);
        assert_eq!(c.api_url, "http://127.0.0.1:9");
        const BAD: [(&str, &str); 5] = [ALL[0], ALL[1], ALL[2], ALL[3], ("APP_PADDLE_ENV", "prod")];
        assert!(from_env(&env_of(&BAD)).is_err());
    }

    #[test]
    fn two_webhook_secrets_while_rotating_and_nothing_odd() {
        const TWO: [(&str, &str); 4] = [
            ("APP_PADDLE_WEBHOOK_SECRET", " pdl_ntf_old , pdl_ntf_new "),
            ALL[1],
            ALL[2],
            ALL[3],
        ];
        let c = from_env(&env_of(&TWO)).unwrap().unwrap();
        assert_eq!(c.webhook_secrets, ["pdl_ntf_old", "pdl_ntf_new"]);
        for bad in ["a,", ",a", "a,,b", "a,b,c", " , "] {
            let secret: &'static str = Box::leak(bad.to_string().into_boxed_str());
            let pairs: &'static [(&str, &str)] = Box::leak(Box::new([
                ("APP_PADDLE_WEBHOOK_SECRET", secret),
                ALL[1],
                ALL[2],
                ALL[3],
            ]));
            let e = from_env(&env_of(pairs)).unwrap_err().to_string();
            assert!(e.contains("APP_PADDLE_WEBHOOK_SECRET"), "{bad}: {e}");
        }
    }

    #[test]
    fn ids_that_are_not_paddles_are_refused_in_one_line() {
        const BAD_PRICE: [(&str, &str); 4] = [
            ("APP_PADDLE_WEBHOOK_SECRET", "pdl_ntf_x"),
            ("APP_PADDLE_API_KEY", "pdl_key"),
            ("APP_PADDLE_CLIENT_TOKEN", "test_tok"),
            ("APP_PADDLE_PRICE_ID", "pri_1,pri_2/../../discounts/dsc_1"),
        ];
        let e = from_env(&env_of(&BAD_PRICE)).unwrap_err().to_string();
        assert!(
            e.contains("APP_PADDLE_PRICE_ID") && e.contains("pri_2/"),
            "{e}"
        );
        const BAD_DISCOUNT: [(&str, &str); 5] = [
            ("APP_PADDLE_WEBHOOK_SECRET", "pdl_ntf_x"),
            ("APP_PADDLE_API_KEY", "pdl_key"),
            ("APP_PADDLE_CLIENT_TOKEN", "test_tok"),
            ("APP_PADDLE_PRICE_ID", "pri_1"),
            ("APP_PADDLE_REFERRAL_DISCOUNT_ID", "50OFF"),
        ];
        let e = from_env(&env_of(&BAD_DISCOUNT)).unwrap_err().to_string();
        assert!(e.contains("APP_PADDLE_REFERRAL_DISCOUNT_ID"), "{e}");
        assert!(!e.contains('\n'), "one line: {e}");
    }
}
