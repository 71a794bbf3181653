//! Minting V2 upload tokens (what an app backend does).

use std::fmt;

use serde_json::Value;

use crate::jws::{b64_encode, sign_claims};
use crate::{unix_now, MAX_TOKEN_LIFETIME_SECS, RESERVED_CLAIMS};

/// Lifetime used by [`UploadToken`] when [`UploadToken::expires_in`] is not called.
///
/// Short on purpose: a token authorises exactly one upload and the browser normally uses it
/// within seconds of receiving it.
pub const DEFAULT_TOKEN_LIFETIME_SECS: i64 = 600;

/// Builder for a V2 upload token: a single-use HS256 JWT that lets a browser or app upload one
/// file with exactly the parameters the backend signed.
///
/// Every call to [`param`](Self::param) (and its typed variants) adds one payload entry whose
/// value is the **exact text** the client must later send in the form field of the same name.
/// The server compares them byte for byte, in both directions: the request may not carry a
/// field (other than `file` and `token`) that is not in the token, nor omit one that is.
///
/// The resulting token has the header `{"alg":"HS256","typ":"JWT","kid":<public key>}` and a
/// payload of the parameters as JSON strings plus the integer claims `iat` and `exp` and a random
/// `jti`, so two tokens minted for the same parameters in the same second still differ (each can
/// be used once).
///
/// Invalid input (a forbidden parameter name, a bad lifetime) is reported by
/// [`sign`](Self::sign), so the builder chain stays free of `?`.
///
/// The builder holds the private key; its `Debug` output redacts it.
///
/// # Example: an app backend's token endpoint
///
/// ```
/// use folio_token::UploadToken;
///
/// let token = UploadToken::new("public_test_key", "private_test_key")
///     .param("fileName", "dress.jpg")
///     .param_bool("useUniqueFileName", false)
///     .param_list("tags", &["summer", "dress"])
///     .param_json("customMetadata", &serde_json::json!({"brand": "Nike"}))
///     .expires_in(400)
///     .sign()?;
///
/// // Send `{"token": token}` to the browser. It must then post exactly these fields:
/// //   fileName=dress.jpg  useUniqueFileName=false  tags=summer,dress
/// //   customMetadata={"brand":"Nike"}  token=<token>  file=<the file>
/// assert_eq!(token.split('.').count(), 3);
/// # Ok::<(), folio_token::MintError>(())
/// ```
#[derive(Clone)]
pub struct UploadToken {
    public_key: String,
    private_key: String,
    // Insertion order is kept so the payload reads like the caller wrote it.
    params: Vec<(String, String)>,
    expires_in: i64,
    issued_at: Option<i64>,
    // Only the first problem is kept; fixing it and re-running reveals the next.
    error: Option<MintError>,
}

impl fmt::Debug for UploadToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UploadToken")
            .field("public_key", &self.public_key)
            .field("private_key", &"<redacted>")
            .field("params", &self.params)
            .field("expires_in", &self.expires_in)
            .field("issued_at", &self.issued_at)
            .finish()
    }
}

impl UploadToken {
    /// Starts a token for the key pair `public_key` / `private_key`.
    ///
    /// The public key goes into the header as `kid` (the server uses it to find the private key);
    /// the private key signs the token and never leaves the backend.
    pub fn new(public_key: impl Into<String>, private_key: impl Into<String>) -> Self {
        Self {
            public_key: public_key.into(),
            private_key: private_key.into(),
            params: Vec::new(),
            expires_in: DEFAULT_TOKEN_LIFETIME_SECS,
            issued_at: None,
            error: None,
        }
    }

    /// Adds the upload parameter `name` with the text `value`, exactly as the client will send it.
    ///
    /// Setting the same name again replaces the earlier value. The names `file` and `token` and
    /// the reserved claims (`iat`, `exp`, `nbf`, `jti`, `iss`, `sub`, `aud`) are refused by
    /// [`sign`](Self::sign).
    pub fn param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let name = name.into();
        let value = value.into();
        if self.error.is_none() {
            self.error = check_param_name(&name).err();
        }
        match self.params.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => self.params.push((name, value)),
        }
        self
    }

    /// Adds a boolean parameter as the text `true` or `false`, which is what every ImageKit SDK
    /// sends for booleans.
    pub fn param_bool(self, name: impl Into<String>, value: bool) -> Self {
        self.param(name, if value { "true" } else { "false" })
    }

    /// Adds a list parameter (e.g. `tags`, `responseFields`) joined with `,` and no spaces, the
    /// way the SDKs serialise arrays.
    ///
    /// ```
    /// # use folio_token::UploadToken;
    /// // The client must send the field `tags=summer,dress`.
    /// let builder = UploadToken::new("public_k", "private_k").param_list("tags", &["summer", "dress"]);
    /// # builder.sign().unwrap();
    /// ```
    pub fn param_list<I, S>(self, name: impl Into<String>, items: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut joined = String::new();
        for (i, item) in items.into_iter().enumerate() {
            if i > 0 {
                joined.push(',');
            }
            joined.push_str(item.as_ref());
        }
        self.param(name, joined)
    }

    /// Adds a JSON parameter (e.g. `customMetadata`, `extensions`, `transformation`) as compact
    /// JSON text, like JavaScript's `JSON.stringify`.
    ///
    /// Object keys come out in `serde_json`'s order (sorted by default), which can differ from
    /// the order a client library would write. The client must send **this** text: either send
    /// the same string from the backend to the client, or sign the client's own string with
    /// [`param`](Self::param) instead.
    ///
    /// ```
    /// # use folio_token::UploadToken;
    /// // The client must send the field `extensions=[{"name":"google-auto-tagging"}]`.
    /// let ext = serde_json::json!([{"name": "google-auto-tagging"}]);
    /// let builder = UploadToken::new("public_k", "private_k").param_json("extensions", &ext);
    /// # builder.sign().unwrap();
    /// ```
    pub fn param_json(self, name: impl Into<String>, value: &Value) -> Self {
        // `Display` for `Value` writes compact JSON and cannot fail.
        self.param(name, value.to_string())
    }

    /// Sets the lifetime in seconds: `exp = iat + secs`.
    ///
    /// Must be in `1..=3600` ([`MAX_TOKEN_LIFETIME_SECS`]); otherwise [`sign`](Self::sign) fails.
    /// Defaults to [`DEFAULT_TOKEN_LIFETIME_SECS`].
    pub fn expires_in(mut self, secs: i64) -> Self {
        self.expires_in = secs;
        self
    }

    /// Sets `iat` (Unix seconds) instead of reading the system clock at signing time.
    pub fn issued_at(mut self, unix_secs: i64) -> Self {
        self.issued_at = Some(unix_secs);
        self
    }

    /// Produces the compact JWT.
    ///
    /// Each call draws a fresh `jti` (and reads the clock, unless [`issued_at`](Self::issued_at)
    /// was set), so one builder can mint many distinct tokens.
    ///
    /// # Errors
    ///
    /// [`MintError`] if a parameter name is forbidden, the lifetime is outside `1..=3600`
    /// seconds, a key is empty, or `iat + lifetime` overflows.
    pub fn sign(&self) -> Result<String, MintError> {
        if let Some(err) = &self.error {
            return Err(err.clone());
        }
        if self.public_key.is_empty() {
            return Err(MintError::EmptyPublicKey);
        }
        if self.private_key.is_empty() {
            return Err(MintError::EmptyPrivateKey);
        }
        if self.expires_in <= 0 {
            return Err(MintError::NonPositiveLifetime(self.expires_in));
        }
        if self.expires_in > MAX_TOKEN_LIFETIME_SECS {
            return Err(MintError::LifetimeTooLong(self.expires_in));
        }
        let iat = self.issued_at.unwrap_or_else(unix_now);
        let exp = iat
            .checked_add(self.expires_in)
            .ok_or(MintError::TimestampOverflow)?;
        let jti = b64_encode(&rand::random::<[u8; JTI_BYTES]>());

        let mut header = JsonObject::new();
        header.text("alg", "HS256");
        header.text("typ", "JWT");
        header.text("kid", &self.public_key);

        let mut payload = JsonObject::new();
        for (name, value) in &self.params {
            payload.text(name, value);
        }
        payload.integer("iat", iat);
        payload.integer("exp", exp);
        payload.text("jti", &jti);

        Ok(sign_claims(
            &header.finish(),
            &payload.finish(),
            &self.private_key,
        ))
    }
}

/// 128 bits: collisions between tokens of one key pair are not a practical concern.
const JTI_BYTES: usize = 16;

fn check_param_name(name: &str) -> Result<(), MintError> {
    if name == "file" || name == "token" {
        return Err(MintError::ForbiddenParam(name.to_owned()));
    }
    if RESERVED_CLAIMS.contains(&name) {
        return Err(MintError::ReservedClaim(name.to_owned()));
    }
    Ok(())
}

/// Writes a flat JSON object in insertion order. `serde_json::Map` would sort the keys (without
/// the workspace-wide `preserve_order` feature), which is harmless but makes tokens harder to
/// read next to the code that built them.
struct JsonObject(String);

impl JsonObject {
    fn new() -> Self {
        Self(String::from("{"))
    }

    fn key(&mut self, name: &str) {
        if self.0.len() > 1 {
            self.0.push(',');
        }
        // `Display` for a JSON string value does the escaping and cannot fail.
        self.0.push_str(&Value::from(name).to_string());
        self.0.push(':');
    }

    fn text(&mut self, name: &str, value: &str) {
        self.key(name);
        self.0.push_str(&Value::from(value).to_string());
    }

    fn integer(&mut self, name: &str, value: i64) {
        self.key(name);
        self.0.push_str(&value.to_string());
    }

    fn finish(mut self) -> String {
        self.0.push('}');
        self.0
    }
}

/// Why [`UploadToken::sign`] refused to mint a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MintError {
    /// `file` or `token` was given as a parameter. Neither can be signed: `file` is the content
    /// and `token` is the JWT itself; the server excludes both from the payload comparison.
    #[error(
        "parameter `{0}` cannot be signed into an upload token: `file` (the content) and `token` \
         (the JWT itself) are sent beside the token, never inside it"
    )]
    ForbiddenParam(String),
    /// A parameter name collides with a reserved JWT claim (`iat`, `exp`, `nbf`, `jti`, `iss`,
    /// `sub`, `aud`), which the server interprets itself and excludes from the comparison.
    #[error(
        "parameter `{0}` is a reserved JWT claim name and cannot be used as an upload parameter"
    )]
    ReservedClaim(String),
    /// The lifetime is zero or negative.
    #[error("token lifetime must be positive, got {0} s")]
    NonPositiveLifetime(i64),
    /// The lifetime exceeds [`MAX_TOKEN_LIFETIME_SECS`]; the server would reject the token.
    #[error("token lifetime of {0} s is too long: at most 3600 s (one hour) is allowed")]
    LifetimeTooLong(i64),
    /// `iat + lifetime` does not fit in an `i64`.
    #[error("issued-at time plus lifetime overflows a 64-bit timestamp")]
    TimestampOverflow,
    /// The public key is empty, so the server could not find the key pair.
    #[error("public key is empty; it is required as the token's `kid`")]
    EmptyPublicKey,
    /// The private key is empty.
    #[error("private key is empty")]
    EmptyPrivateKey,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_object_escapes_and_keeps_order() {
        let mut o = JsonObject::new();
        o.text("b\"", "x\ny");
        o.integer("a", -3);
        assert_eq!(o.finish(), r#"{"b\"":"x\ny","a":-3}"#);
        assert_eq!(JsonObject::new().finish(), "{}");
    }

    #[test]
    fn debug_redacts_private_key() {
        let b = UploadToken::new("public_abc", "private_secret_value");
        let shown = format!("{b:?}");
        assert!(shown.contains("public_abc"));
        assert!(!shown.contains("private_secret_value"));
    }
}
