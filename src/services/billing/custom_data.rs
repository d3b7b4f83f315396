//! The `custom_data` a checkout carries: the user's id and an HMAC of it
//! under a key derived for this purpose alone, so a webhook can trust which
//! account paid and a stranger can't claim someone else's payment.

use serde_json::Value;

use crate::crypto::{self, Keys};

/// The `sig` for a user id, as the checkout settings carry it.
pub fn sign(keys: &Keys, user_id: i64) -> String {
    crypto::hex(&crypto::mac(&keys.checkout, user_id.to_string().as_bytes()))
}

/// The user id of a subscription's or transaction's `custom_data`, when its
/// `sig` is the one we made; `None` for a missing, forged or malformed one.
pub fn verified_user_id(keys: &Keys, custom_data: &Value) -> Option<i64> {
    let user_id = custom_data.get("user_id")?.as_str()?;
    let sig = custom_data.get("sig")?.as_str()?;
    let id: i64 = user_id.parse().ok().filter(|id| *id > 0)?;
    if id.to_string() != user_id {
        return None;
    }
    crypto::secrets_equal(sign(keys, id).as_bytes(), sig.as_bytes()).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_signed_user_id_verifies_and_a_forged_one_does_not() {
        let keys = Keys::derive(&[1u8; 32]);
        let sig = sign(&keys, 42);
        assert_eq!(
            verified_user_id(&keys, &json!({"user_id": "42", "sig": sig})),
            Some(42)
        );
        assert_eq!(
            verified_user_id(&keys, &json!({"user_id": "43", "sig": sig})),
            None
        );
        assert_eq!(
            verified_user_id(&keys, &json!({"user_id": "042", "sig": sig})),
            None
        );
        assert_eq!(verified_user_id(&keys, &json!({"user_id": "42"})), None);
        assert_eq!(
            verified_user_id(&keys, &json!({"user_id": 42, "sig": sig})),
            None
        );
        assert_eq!(verified_user_id(&keys, &Value::Null), None);
        let other = Keys::derive(&[2u8; 32]);
        assert_eq!(
            verified_user_id(&other, &json!({"user_id": "42", "sig": sig})),
            None,
            "a sig made under another secret fails"
        );
    }
}
