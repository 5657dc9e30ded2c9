//! Slack's request signature: `v0=hex(HMAC-SHA256(signing secret, "v0:<timestamp>:<body>"))`,
//! checked over the raw body before anything in it is read.

use hmac::{KeyInit, Mac};
use sha2::Sha256;

/// How far a request's timestamp may be from now: older requests are replays.
pub const MAX_AGE_SECS: i64 = 5 * 60;

/// Why a request is not from Slack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Rejected {
    #[error("the X-Slack-Request-Timestamp header is missing or not a number")]
    NoTimestamp,
    #[error("the request timestamp is more than five minutes from now")]
    Stale,
    #[error("the X-Slack-Signature header is missing or malformed")]
    NoSignature,
    #[error("the signature does not match")]
    Mismatch,
}

/// Checks that `body` was signed by Slack with `secret` at `timestamp` (the
/// `X-Slack-Request-Timestamp` header), `signature` being the `X-Slack-Signature`
/// header, and that the timestamp is within five minutes of `now_unix`. The comparison
/// runs in constant time.
///
/// # Errors
/// What is wrong, for the log; the requester is told nothing more than 401.
pub fn verify(
    secret: &[u8],
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now_unix: i64,
) -> Result<(), Rejected> {
    let timestamp = timestamp.ok_or(Rejected::NoTimestamp)?;
    let at: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| Rejected::NoTimestamp)?;
    if now_unix.abs_diff(at) > MAX_AGE_SECS.unsigned_abs() {
        return Err(Rejected::Stale);
    }
    let expected = signature
        .and_then(|s| s.trim().strip_prefix("v0="))
        .and_then(|hex_digest| hex::decode(hex_digest).ok())
        .ok_or(Rejected::NoSignature)?;
    let mut mac = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(secret)
        .expect("HMAC takes keys of any length");
    mac.update(b"v0:");
    mac.update(timestamp.as_bytes());
    mac.update(b":");
    mac.update(body);
    mac.verify_slice(&expected).map_err(|_| Rejected::Mismatch)
}

/// The `X-Slack-Signature` value for `body` at `timestamp`, as Slack computes it.
#[cfg(test)]
fn sign(secret: &[u8], timestamp: &str, body: &[u8]) -> String {
    let mut mac = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(secret)
        .expect("HMAC takes keys of any length");
    mac.update(b"v0:");
    mac.update(timestamp.as_bytes());
    mac.update(b":");
    mac.update(body);
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"8f742231b10e8888abcd99yyyzzz85a5";
    const NOW: i64 = 1_531_420_618;

    #[test]
    fn slack_s_documented_example_verifies() {
        // The example request of Slack's "Verifying requests from Slack".
        let body = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
        let signature = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";
        assert_eq!(
            verify(SECRET, Some("1531420618"), Some(signature), body, NOW),
            Ok(())
        );
        assert_eq!(sign(SECRET, "1531420618", body), signature);
    }

    #[test]
    fn a_changed_body_an_old_timestamp_or_a_missing_header_is_rejected() {
        let body = b"payload=%7B%7D";
        let good = sign(SECRET, "1531420618", body);
        let check =
            |ts: Option<&str>, sig: Option<&str>, body: &[u8]| verify(SECRET, ts, sig, body, NOW);
        assert_eq!(check(Some("1531420618"), Some(&good), body), Ok(()));
        assert_eq!(
            check(Some("1531420618"), Some(&good), b"payload=%7B%20%7D"),
            Err(Rejected::Mismatch)
        );
        let old = (NOW - MAX_AGE_SECS - 1).to_string();
        let signed_old = sign(SECRET, &old, body);
        assert_eq!(
            check(Some(&old), Some(&signed_old), body),
            Err(Rejected::Stale)
        );
        assert_eq!(check(None, Some(&good), body), Err(Rejected::NoTimestamp));
        assert_eq!(
            check(Some("1531420618"), None, body),
            Err(Rejected::NoSignature)
        );
        assert_eq!(
            check(Some("1531420618"), Some("v0=zz"), body),
            Err(Rejected::NoSignature)
        );
        assert_eq!(
            verify(
                b"another secret",
                Some("1531420618"),
                Some(&good),
                body,
                NOW
            ),
            Err(Rejected::Mismatch)
        );
    }
}
