//! The request body of an app backend's token endpoint (spec §10.1): what a browser sends to get
//! a V2 token, checked before anything is signed.

use serde_json::Value;

use crate::mint::{MintError, UploadToken};
use crate::{MAX_TOKEN_LIFETIME_SECS, RESERVED_CLAIMS};

/// The JSON body a client sends to its backend's token endpoint, in the shape ImageKit documents
/// for secure client-side upload:
///
/// ```json
/// {
///   "uploadPayload": { "fileName": "dress.jpg", "useUniqueFileName": "false", "tags": "summer,dress" },
///   "expire": 400,
///   "publicKey": "public_…"
/// }
/// ```
///
/// [`from_json`](Self::from_json) checks everything the upload would otherwise fail on later,
/// and says what is wrong in words a client developer can act on:
///
/// * `uploadPayload` is an object whose values are all **strings** (the upload sends text, and
///   the server compares it byte for byte: `"false"`, not `false`), and whose keys are neither
///   `file` nor `token` (sent beside the token, never signed) nor a reserved JWT claim;
/// * `expire` is a JSON number of whole seconds from 1 to 3600;
/// * `publicKey` is a string (compared with the backend's own key by [`sign`](Self::sign)).
///
/// Authenticating the caller is the endpoint's job, before this: only users of the app may get
/// tokens. The response is `{"token": "<JWT>"}`.
///
/// # Example: the heart of a token endpoint
///
/// ```
/// use folio_token::TokenRequest;
///
/// // After checking that the caller is a signed-in user of the app:
/// let body = br#"{"uploadPayload": {"fileName": "dress.jpg", "tags": "summer,dress"},
///                 "expire": 400, "publicKey": "public_test_key"}"#;
/// let token = TokenRequest::from_json(body)?.sign("public_test_key", "private_test_key")?;
/// let response = serde_json::json!({ "token": token });
/// # assert!(response["token"].is_string());
///
/// let bad = br#"{"uploadPayload": {"fileName": "a.jpg", "useUniqueFileName": false},
///                "expire": 400, "publicKey": "public_test_key"}"#;
/// let err = TokenRequest::from_json(bad).unwrap_err();
/// assert!(err.to_string().contains("uploadPayload.useUniqueFileName must be a string"));
/// # Ok::<(), folio_token::TokenRequestError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRequest {
    upload_payload: Vec<(String, String)>,
    expire: i64,
    public_key: String,
}

impl TokenRequest {
    /// Parses and checks a request body (JSON text).
    ///
    /// # Errors
    ///
    /// [`TokenRequestError`] naming the first problem found.
    pub fn from_json(body: &[u8]) -> Result<Self, TokenRequestError> {
        let value: Value =
            serde_json::from_slice(body).map_err(|e| TokenRequestError::NotJson(e.to_string()))?;
        Self::from_value(&value)
    }

    /// Checks a request body already parsed as JSON.
    ///
    /// # Errors
    ///
    /// [`TokenRequestError`] naming the first problem found.
    pub fn from_value(body: &Value) -> Result<Self, TokenRequestError> {
        let Value::Object(body) = body else {
            return Err(TokenRequestError::NotAnObject);
        };

        let Some(Value::Object(payload)) = body.get("uploadPayload") else {
            return Err(TokenRequestError::UploadPayload);
        };
        let mut upload_payload = Vec::with_capacity(payload.len());
        for (name, value) in payload {
            if name == "file" || name == "token" {
                return Err(TokenRequestError::ForbiddenParam(name.clone()));
            }
            if RESERVED_CLAIMS.contains(&name.as_str()) {
                return Err(TokenRequestError::ReservedClaim(name.clone()));
            }
            let Value::String(text) = value else {
                return Err(TokenRequestError::NotAString {
                    name: name.clone(),
                    got: json_kind(value),
                });
            };
            upload_payload.push((name.clone(), text.clone()));
        }

        let expire = match body.get("expire") {
            None | Some(Value::Null) => return Err(TokenRequestError::MissingExpire),
            Some(Value::Number(n)) => whole_seconds(n).ok_or_else(|| {
                TokenRequestError::Expire(format!("{n} is not a whole number of seconds"))
            })?,
            Some(other) => {
                return Err(TokenRequestError::Expire(format!(
                    "got {}; send a JSON number such as 400, not text",
                    json_kind(other)
                )))
            }
        };
        if !(1..=MAX_TOKEN_LIFETIME_SECS).contains(&expire) {
            return Err(TokenRequestError::Expire(format!(
                "{expire} is outside 1 to {MAX_TOKEN_LIFETIME_SECS}"
            )));
        }

        let public_key = match body.get("publicKey") {
            Some(Value::String(key)) if !key.is_empty() => key.clone(),
            _ => return Err(TokenRequestError::MissingPublicKey),
        };

        Ok(Self {
            upload_payload,
            expire,
            public_key,
        })
    }

    /// The upload parameters to sign, as `(name, text)` pairs.
    pub fn upload_payload(&self) -> &[(String, String)] {
        &self.upload_payload
    }

    /// The requested lifetime in seconds (1 to 3600).
    pub fn expire(&self) -> i64 {
        self.expire
    }

    /// The public key the client named.
    pub fn public_key(&self) -> &str {
        &self.public_key
    }

    /// A token builder for this request, to add or change something before signing. Checks
    /// nothing about the key pair; [`sign`](Self::sign) is the usual path.
    pub fn to_builder(&self, public_key: &str, private_key: &str) -> UploadToken {
        let mut builder = UploadToken::new(public_key, private_key).expires_in(self.expire);
        for (name, text) in &self.upload_payload {
            builder = builder.param(name.as_str(), text.as_str());
        }
        builder
    }

    /// Mints the token with the backend's key pair, after checking that the client asked for
    /// that very public key.
    ///
    /// # Errors
    ///
    /// [`TokenRequestError::WrongPublicKey`] if the request names another public key;
    /// [`TokenRequestError::Mint`] if minting fails (e.g. an empty key in the backend's config).
    pub fn sign(&self, public_key: &str, private_key: &str) -> Result<String, TokenRequestError> {
        if self.public_key != public_key {
            return Err(TokenRequestError::WrongPublicKey);
        }
        Ok(self.to_builder(public_key, private_key).sign()?)
    }
}

/// `400.0` counts as 400 (a JavaScript client cannot tell them apart), `400.5` does not.
fn whole_seconds(n: &serde_json::Number) -> Option<i64> {
    if let Some(i) = n.as_i64() {
        return Some(i);
    }
    if n.is_u64() {
        // Larger than i64::MAX: certainly out of range, reported as such.
        return Some(i64::MAX);
    }
    let f = n.as_f64()?;
    if f.fract() != 0.0 || !f.is_finite() {
        return None;
    }
    // Saturating conversion; the range check that follows rejects anything large.
    #[allow(clippy::cast_possible_truncation)]
    Some(f as i64)
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Why a token endpoint refused a request. The `Display` text is meant for the client (answer
/// it with status 400, except [`Mint`](Self::Mint), which is the backend's own configuration
/// problem): it names the field and the fix, and never contains a key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenRequestError {
    /// The body is not JSON.
    #[error("The request body is not JSON ({0}). Send {{\"uploadPayload\": {{…}}, \"expire\": <seconds>, \"publicKey\": \"…\"}}.")]
    NotJson(String),
    /// The body is JSON but not an object.
    #[error("The request body must be a JSON object: {{\"uploadPayload\": {{…}}, \"expire\": <seconds>, \"publicKey\": \"…\"}}.")]
    NotAnObject,
    /// `uploadPayload` is missing or not an object.
    #[error("uploadPayload must be a JSON object of the upload parameters, e.g. {{\"fileName\": \"dress.jpg\"}}.")]
    UploadPayload,
    /// A value of `uploadPayload` is not a string.
    #[error("uploadPayload.{name} must be a string, got {got}: the upload sends text and the server compares it exactly (send \"false\", not false).")]
    NotAString {
        /// The parameter name.
        name: String,
        /// What it was instead (`a boolean`, `a number`, …).
        got: &'static str,
    },
    /// `uploadPayload` contains `file` or `token`.
    #[error("uploadPayload must not contain {0}: file and token are sent beside the token, never signed.")]
    ForbiddenParam(String),
    /// `uploadPayload` contains a reserved JWT claim (`iat`, `exp`, `nbf`, `jti`, `iss`, `sub`,
    /// `aud`).
    #[error("uploadPayload must not contain {0}: it is a JWT claim, set by the backend, not an upload parameter.")]
    ReservedClaim(String),
    /// `expire` is missing.
    #[error(
        "expire is missing: send the token lifetime in seconds, a JSON number from 1 to 3600."
    )]
    MissingExpire,
    /// `expire` is not a whole number of seconds from 1 to 3600.
    #[error("expire must be a JSON number of seconds from 1 to 3600 (at most one hour): {0}.")]
    Expire(String),
    /// `publicKey` is missing, empty or not a string.
    #[error("publicKey is missing: send the public key of the account to upload to.")]
    MissingPublicKey,
    /// `publicKey` is not the backend's public key.
    #[error("publicKey does not match the public key this backend signs for.")]
    WrongPublicKey,
    /// Minting failed (the backend's keys are misconfigured, e.g. empty).
    #[error("The token could not be minted: {0}.")]
    Mint(#[from] MintError),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode;
    use serde_json::json;

    const PUBLIC: &str = "public_test_key";
    const PRIVATE: &str = "private_test_key";

    fn body(payload: Value, expire: Value) -> Value {
        json!({"uploadPayload": payload, "expire": expire, "publicKey": PUBLIC})
    }

    fn one(name: &str, text: &str) -> Value {
        let mut map = serde_json::Map::new();
        map.insert(name.to_owned(), Value::from(text));
        Value::Object(map)
    }

    fn err(value: Value) -> TokenRequestError {
        TokenRequest::from_value(&value).expect_err("refused")
    }

    #[test]
    fn the_documented_example_signs_exactly_its_payload() {
        let request = TokenRequest::from_value(&body(
            json!({"fileName": "dress.jpg", "useUniqueFileName": "false", "tags": "summer,dress"}),
            json!(400),
        ))
        .expect("valid");
        assert_eq!(request.expire(), 400);
        assert_eq!(request.public_key(), PUBLIC);
        let token = request.sign(PUBLIC, PRIVATE).expect("sign");
        let now = crate::unix_now();
        let verified = decode(&token)
            .and_then(|t| t.verify(PRIVATE, now, 60))
            .expect("verifies");
        assert_eq!(verified.kid(), PUBLIC);
        assert_eq!(verified.exp() - verified.iat(), 400);
        assert!(verified.payload_matches([
            ("fileName", "dress.jpg"),
            ("useUniqueFileName", "false"),
            ("tags", "summer,dress"),
        ]));
    }

    #[test]
    fn an_empty_payload_is_allowed() {
        // The server still needs fileName, but that is the upload's error to report.
        let request = TokenRequest::from_value(&body(json!({}), json!(60))).expect("valid");
        assert!(request.upload_payload().is_empty());
    }

    #[test]
    fn expire_bounds_and_types() {
        let ok = |e: Value| TokenRequest::from_value(&body(json!({}), e)).map(|r| r.expire());
        assert_eq!(ok(json!(1)), Ok(1));
        // The docs' browser example asks for 3600, and the server accepts exp - iat = 3600.
        assert_eq!(ok(json!(3600)), Ok(3600));
        assert_eq!(ok(json!(400.0)), Ok(400));
        for bad in [
            json!(0),
            json!(-5),
            json!(3601),
            json!(400.5),
            json!(1e300),
            json!(u64::MAX),
            json!("400"),
            json!(true),
        ] {
            let e = ok(bad.clone()).expect_err("refused");
            assert!(matches!(e, TokenRequestError::Expire(_)), "{bad}: {e:?}");
            assert!(e.to_string().starts_with("expire must be"), "{e}");
        }
        assert_eq!(
            err(json!({"uploadPayload": {}, "publicKey": PUBLIC})),
            TokenRequestError::MissingExpire
        );
        let text = ok(json!("400")).expect_err("text").to_string();
        assert!(text.contains("not text"), "{text}");
    }

    #[test]
    fn payload_values_must_be_strings() {
        for (value, kind) in [
            (json!(false), "a boolean"),
            (json!(3), "a number"),
            (json!(null), "null"),
            (json!(["a"]), "an array"),
            (json!({"a": "b"}), "an object"),
        ] {
            let e = err(body(json!({"fileName": "a.jpg", "x": value}), json!(60)));
            assert_eq!(
                e,
                TokenRequestError::NotAString {
                    name: "x".into(),
                    got: kind
                }
            );
            assert!(e
                .to_string()
                .starts_with("uploadPayload.x must be a string, got "));
        }
    }

    #[test]
    fn file_token_and_claims_are_refused() {
        for name in ["file", "token"] {
            let e = err(body(one(name, "x"), json!(60)));
            assert_eq!(e, TokenRequestError::ForbiddenParam(name.into()));
            assert!(e.to_string().contains(&format!("must not contain {name}")));
        }
        for name in RESERVED_CLAIMS {
            let e = err(body(one(name, "1"), json!(60)));
            assert_eq!(e, TokenRequestError::ReservedClaim(name.into()));
        }
    }

    #[test]
    fn shape_errors() {
        assert!(matches!(
            TokenRequest::from_json(b"{not json"),
            Err(TokenRequestError::NotJson(_))
        ));
        assert_eq!(err(json!([1, 2])), TokenRequestError::NotAnObject);
        assert_eq!(
            err(json!({"expire": 60, "publicKey": PUBLIC})),
            TokenRequestError::UploadPayload
        );
        assert_eq!(
            err(json!({"uploadPayload": "fileName=a.jpg", "expire": 60, "publicKey": PUBLIC})),
            TokenRequestError::UploadPayload
        );
        for key in [json!(null), json!(""), json!(5)] {
            assert_eq!(
                err(json!({"uploadPayload": {}, "expire": 60, "publicKey": key})),
                TokenRequestError::MissingPublicKey
            );
        }
    }

    #[test]
    fn the_public_key_must_be_the_backends() {
        let request = TokenRequest::from_value(&body(json!({}), json!(60))).expect("valid");
        assert_eq!(
            request.sign("public_other", PRIVATE),
            Err(TokenRequestError::WrongPublicKey)
        );
        assert_eq!(
            request.sign(PUBLIC, ""),
            Err(TokenRequestError::Mint(MintError::EmptyPrivateKey))
        );
    }

    #[test]
    fn messages_never_contain_the_private_key() {
        let request = TokenRequest::from_value(&body(json!({}), json!(60))).expect("valid");
        let e = request
            .sign("public_other", PRIVATE)
            .expect_err("wrong key");
        assert!(!e.to_string().contains(PRIVATE));
    }
}
