//! Verifying V2 upload tokens (what the Folio server does), spec §2.5 steps J1–J9 and §2.3 rule 5.

use std::collections::BTreeSet;
use std::fmt;

use hmac::Mac;
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::jws::{b64_decode, hmac_sha256};
use crate::{DEFAULT_CLOCK_LEEWAY_SECS, MAX_TOKEN_LIFETIME_SECS, RESERVED_CLAIMS};

/// Why a token was rejected.
///
/// The wire contract gives clients only two messages, so the server maps every
/// [`Invalid`](Self::Invalid) to `Your request has invalid token.` and [`Expired`](Self::Expired)
/// to `Your request contains expired token.`. The [`InvalidReason`] is for logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Malformed, wrongly signed, or with unacceptable claims (steps J1–J8).
    #[error("invalid token: {0}")]
    Invalid(InvalidReason),
    /// Genuine and well-formed, but `now >= exp` (step J9).
    #[error("token has expired")]
    Expired,
}

/// The part of a compact JWS a problem was found in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Segment {
    /// The first segment, the JOSE header.
    Header,
    /// The second segment, the claims.
    Payload,
    /// The third segment, the MAC.
    Signature,
}

impl fmt::Display for Segment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Segment::Header => "header",
            Segment::Payload => "payload",
            Segment::Signature => "signature",
        })
    }
}

/// Detail of a [`TokenError::Invalid`], for logs and tests only: never show it to the client,
/// which would help an attacker probe the verifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidReason {
    /// J1: not exactly three `.`-separated segments.
    #[error("token does not have exactly three segments")]
    SegmentCount,
    /// J1: a segment is not unpadded base64url.
    #[error("{0} segment is not unpadded base64url")]
    Base64(Segment),
    /// J1: the header or payload is not valid UTF-8 JSON.
    #[error("{0} is not valid JSON")]
    Json(Segment),
    /// J1: the header or payload is JSON but not an object.
    #[error("{0} is not a JSON object")]
    NotAnObject(Segment),
    /// J1: the header or payload repeats a member name. RFC 7519 §4 lets parsers either reject
    /// such a token or keep the last value; we reject so that no two readers of one token can
    /// disagree about what was signed.
    #[error("{0} repeats a member name")]
    DuplicateMember(Segment),
    /// J2: `alg` is missing or not `HS256`.
    #[error("alg is missing or not HS256")]
    Algorithm,
    /// J2: `typ` is present but not `JWT`.
    #[error("typ is present but not JWT")]
    Type,
    /// J3: `kid` is missing or not a string.
    #[error("kid is missing or not a string")]
    KeyId,
    /// J5: the MAC does not match (or has the wrong length).
    #[error("signature does not verify")]
    Signature,
    /// J6: `iat` is missing or not a JSON integer.
    #[error("iat is missing or not an integer")]
    IssuedAt,
    /// J6: `exp` is missing or not a JSON integer.
    #[error("exp is missing or not an integer")]
    Expiry,
    /// J7: `iat >= exp`, or `exp - iat` exceeds the maximum lifetime.
    #[error("exp - iat is not within 1 s and the maximum lifetime")]
    Lifetime,
    /// J8: `iat` is later than `now + leeway`.
    #[error("iat is in the future")]
    IssuedInFuture,
    /// J8: `nbf` is present but not a JSON integer.
    #[error("nbf is not an integer")]
    NotBeforeType,
    /// J8: `nbf` is later than `now`.
    #[error("nbf is in the future")]
    NotYetValid,
}

impl From<InvalidReason> for TokenError {
    fn from(reason: InvalidReason) -> Self {
        TokenError::Invalid(reason)
    }
}

/// Time policy for [`UnverifiedToken::verify_with`], matching the server settings
/// `clock_leeway` and `jwt_max_lifetime`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifyOptions {
    /// How far in the future `iat` may be, to absorb clock skew between the minting backend and
    /// the server. Applies to `iat` only, never to `exp` or `nbf`. Negative values count as 0.
    pub leeway_secs: i64,
    /// The largest accepted `exp - iat`.
    pub max_lifetime_secs: i64,
}

impl Default for VerifyOptions {
    /// 60 s leeway, 3600 s maximum lifetime: the contract's defaults.
    fn default() -> Self {
        Self {
            leeway_secs: DEFAULT_CLOCK_LEEWAY_SECS,
            max_lifetime_secs: MAX_TOKEN_LIFETIME_SECS,
        }
    }
}

/// Parses a V2 token without checking its signature: steps J1–J3.
///
/// Checks that `token` is three unpadded base64url segments, that the header and payload are
/// JSON objects (with unique member names), that `alg` is `HS256`, that `typ` is absent or
/// `JWT`, and that `kid` is a string. Then look up the private key for
/// [`kid`](UnverifiedToken::kid) and call [`verify`](UnverifiedToken::verify); nothing in an
/// [`UnverifiedToken`] may be trusted before that.
///
/// The token is taken exactly as received: no trimming.
///
/// # Errors
///
/// [`TokenError::Invalid`] for any J1–J3 failure.
///
/// # Example: the server side
///
/// ```
/// use folio_token::{decode, TokenError, DEFAULT_CLOCK_LEEWAY_SECS};
/// # use folio_token::UploadToken;
/// # let now = 1_735_689_600;
/// # let token = UploadToken::new("public_test_key", "private_test_key")
/// #     .param("fileName", "dress.jpg")
/// #     .issued_at(now)
/// #     .sign()
/// #     .unwrap();
/// # let lookup_private_key = |kid: &str| (kid == "public_test_key").then_some("private_test_key");
///
/// // Form fields of the request, in order, as decoded from multipart.
/// let form = [("fileName", "dress.jpg"), ("token", token.as_str())];
///
/// let unverified = decode(&token)?; // J1–J3 → 400 "Your request has invalid token."
/// let Some(private_key) = lookup_private_key(unverified.kid()) else {
///     panic!("J4 → 403 Your account cannot be authenticated.");
/// };
/// let verified = unverified.verify(private_key, now, DEFAULT_CLOCK_LEEWAY_SECS)?; // J5–J9
///
/// // J10: burn the token (insert-if-absent, kept until exp).
/// let (_ledger_key, _keep_until) = (verified.ledger_key(), verified.exp());
///
/// // J11: every text field except `file` and `token`.
/// let fields = form.iter().copied().filter(|(name, _)| *name != "file" && *name != "token");
/// assert!(verified.payload_matches(fields));
/// # Ok::<(), TokenError>(())
/// ```
pub fn decode(token: &str) -> Result<UnverifiedToken, TokenError> {
    let mut parts = token.split('.');
    let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(InvalidReason::SegmentCount.into());
    };

    let header = parse_object(header_b64, Segment::Header)?;
    let payload = parse_object(payload_b64, Segment::Payload)?;
    let signature = b64_decode(signature_b64).ok_or(InvalidReason::Base64(Segment::Signature))?;

    if header.get("alg").and_then(Value::as_str) != Some("HS256") {
        return Err(InvalidReason::Algorithm.into());
    }
    if header
        .get("typ")
        .is_some_and(|typ| typ.as_str() != Some("JWT"))
    {
        return Err(InvalidReason::Type.into());
    }
    let kid = header
        .get("kid")
        .and_then(Value::as_str)
        .ok_or(InvalidReason::KeyId)?
        .to_owned();

    Ok(UnverifiedToken {
        signing_input_len: header_b64.len() + 1 + payload_b64.len(),
        token: token.to_owned(),
        kid,
        payload,
        signature,
    })
}

fn parse_object(segment_b64: &str, segment: Segment) -> Result<Map<String, Value>, TokenError> {
    let bytes = b64_decode(segment_b64).ok_or(InvalidReason::Base64(segment))?;
    match serde_json::from_slice::<UniqueObject>(&bytes) {
        Ok(UniqueObject {
            map,
            duplicate: false,
        }) => Ok(map),
        Ok(UniqueObject {
            duplicate: true, ..
        }) => Err(InvalidReason::DuplicateMember(segment).into()),
        // A data error means the text was valid JSON of the wrong type.
        Err(err) if err.is_data() => Err(InvalidReason::NotAnObject(segment).into()),
        Err(_) => Err(InvalidReason::Json(segment).into()),
    }
}

/// A top-level JSON object, remembering whether a member name repeated (which `Value` would
/// silently resolve to the last occurrence).
struct UniqueObject {
    map: Map<String, Value>,
    duplicate: bool,
}

impl<'de> Deserialize<'de> for UniqueObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor;

        impl<'de> Visitor<'de> for ObjectVisitor {
            type Value = UniqueObject;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<UniqueObject, A::Error> {
                let mut map = Map::new();
                let mut duplicate = false;
                while let Some((name, value)) = access.next_entry::<String, Value>()? {
                    duplicate |= map.insert(name, value).is_some();
                }
                Ok(UniqueObject { map, duplicate })
            }
        }

        deserializer.deserialize_map(ObjectVisitor)
    }
}

/// A token that passed [`decode`] (J1–J3) but whose signature has not been checked yet.
///
/// It holds no key material. Its only trustworthy use is [`kid`](Self::kid), to find the key
/// for [`verify`](Self::verify).
#[derive(Clone)]
pub struct UnverifiedToken {
    token: String,
    // The MAC covers the first two segments exactly as received, including the dot.
    signing_input_len: usize,
    kid: String,
    payload: Map<String, Value>,
    signature: Vec<u8>,
}

impl fmt::Debug for UnverifiedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The token itself is a bearer credential until it is burned; keep it out of logs.
        f.debug_struct("UnverifiedToken")
            .field("kid", &self.kid)
            .field("payload", &self.payload)
            .finish_non_exhaustive()
    }
}

impl UnverifiedToken {
    /// The header's `kid`: the public key of the key pair that claims to have signed the token.
    /// Not yet authenticated; only use it to look the key pair up.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// Steps J5–J9 with the contract's 3600 s maximum lifetime and the given `leeway_secs` for
    /// a future `iat`. `now` is the server clock in Unix seconds.
    ///
    /// See [`verify_with`](Self::verify_with) for the checks.
    ///
    /// # Errors
    ///
    /// [`TokenError::Expired`] if `now >= exp` and everything else is fine;
    /// [`TokenError::Invalid`] otherwise.
    pub fn verify(
        &self,
        private_key: &str,
        now: i64,
        leeway_secs: i64,
    ) -> Result<VerifiedToken, TokenError> {
        self.verify_with(
            private_key,
            now,
            &VerifyOptions {
                leeway_secs,
                ..VerifyOptions::default()
            },
        )
    }

    /// Steps J5–J9, in order:
    ///
    /// * J5: HMAC-SHA256 over the first two segments as received, compared in constant time;
    /// * J6: `iat` and `exp` present and JSON integers (`1.0`, `"1"` or `1e3` are not);
    /// * J7: `iat < exp` and `exp - iat <= max_lifetime_secs`;
    /// * J8: `iat <= now + leeway_secs`, and `nbf`, if present, an integer `<= now`;
    /// * J9: `now < exp`, else [`TokenError::Expired`].
    ///
    /// # Errors
    ///
    /// As for [`verify`](Self::verify).
    pub fn verify_with(
        &self,
        private_key: &str,
        now: i64,
        options: &VerifyOptions,
    ) -> Result<VerifiedToken, TokenError> {
        let signing_input = self
            .token
            .as_bytes()
            .get(..self.signing_input_len)
            .ok_or(InvalidReason::Signature)?;
        let mut mac = hmac_sha256(private_key);
        mac.update(signing_input);
        // `verify_slice` compares in constant time and rejects a wrong-length tag.
        mac.verify_slice(&self.signature)
            .map_err(|_| InvalidReason::Signature)?;

        let iat = integer_claim(&self.payload, "iat").ok_or(InvalidReason::IssuedAt)?;
        let exp = integer_claim(&self.payload, "exp").ok_or(InvalidReason::Expiry)?;

        // A correctly signed token can still carry extreme values (a buggy signer), and the
        // difference of two i64 may not fit in one.
        let lifetime = i128::from(exp) - i128::from(iat);
        if lifetime <= 0 || lifetime > i128::from(options.max_lifetime_secs) {
            return Err(InvalidReason::Lifetime.into());
        }

        if iat > now.saturating_add(options.leeway_secs.max(0)) {
            return Err(InvalidReason::IssuedInFuture.into());
        }
        if let Some(nbf) = self.payload.get("nbf") {
            let nbf = as_integer(nbf).ok_or(InvalidReason::NotBeforeType)?;
            if nbf > now {
                return Err(InvalidReason::NotYetValid.into());
            }
        }

        if now >= exp {
            return Err(TokenError::Expired);
        }

        let params = self
            .payload
            .iter()
            .filter(|(name, _)| !RESERVED_CLAIMS.contains(&name.as_str()))
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect();
        Ok(VerifiedToken {
            kid: self.kid.clone(),
            iat,
            exp,
            jti: self
                .payload
                .get("jti")
                .and_then(Value::as_str)
                .map(str::to_owned),
            params,
            ledger_key: ledger_key(&self.token),
        })
    }
}

fn integer_claim(payload: &Map<String, Value>, name: &str) -> Option<i64> {
    payload.get(name).and_then(as_integer)
}

fn as_integer(value: &Value) -> Option<i64> {
    // `as_i64` is `None` for floats, so `1.0` and `1e3` are refused as the contract requires.
    value.as_i64()
}

/// A token whose signature and time claims checked out (J5–J9). Still to do on the server:
/// burn it in the single-use ledger (J10, see [`ledger_key`](Self::ledger_key)), then compare
/// the request with [`payload_matches`](Self::payload_matches) (J11).
#[derive(Debug, Clone)]
pub struct VerifiedToken {
    kid: String,
    iat: i64,
    exp: i64,
    jti: Option<String>,
    params: Map<String, Value>,
    ledger_key: [u8; 32],
}

impl VerifiedToken {
    /// The public key the token was signed for (header `kid`).
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The `iat` claim, Unix seconds.
    pub fn iat(&self) -> i64 {
        self.iat
    }

    /// The `exp` claim, Unix seconds. The ledger entry for this token may be dropped once `now >= exp`.
    pub fn exp(&self) -> i64 {
        self.exp
    }

    /// The `jti` claim if present and a string. Tokens from [`UploadToken`](crate::UploadToken)
    /// always have one; tokens from other signers (e.g. Node's `jsonwebtoken`) usually do not.
    pub fn jti(&self) -> Option<&str> {
        self.jti.as_deref()
    }

    /// The upload parameters: every claim except the reserved ones (`iat`, `exp`, `nbf`, `jti`,
    /// `iss`, `sub`, `aud`), with their JSON values as signed (not necessarily strings).
    pub fn params(&self) -> &Map<String, Value> {
        &self.params
    }

    /// [`ledger_key`](crate::ledger_key) of the token text this was verified from.
    pub fn ledger_key(&self) -> [u8; 32] {
        self.ledger_key
    }

    /// The two-way payload comparison of §2.3 rule 5 (step J11).
    ///
    /// `fields` must be **every** text field of the request **except `file` and `token`**, with
    /// names and values exactly as decoded from the multipart or urlencoded body: not trimmed,
    /// and including fields sent empty and fields the server does not know. Returns `true` iff
    ///
    /// * every field has a parameter of the same name whose value is a JSON string equal to the
    ///   field's text byte for byte (so `""` matches only `""`, and a number, boolean, object,
    ///   array or `null` in the payload never matches), and
    /// * every parameter (reserved claims excluded) is among the fields.
    ///
    /// A field name given twice makes the result `false`: the contract rejects repeated fields
    /// before this step, and counting one twice must not make up for a missing one.
    ///
    /// ```
    /// # use folio_token::{decode, UploadToken};
    /// # let token = UploadToken::new("public_k", "private_k")
    /// #     .param("fileName", "a.jpg").param("tags", "x,y").issued_at(100).sign().unwrap();
    /// let verified = decode(&token)?.verify("private_k", 100, 60)?;
    /// assert!(verified.payload_matches([("tags", "x,y"), ("fileName", "a.jpg")]));
    /// assert!(!verified.payload_matches([("fileName", "a.jpg")])); // tags missing
    /// assert!(!verified.payload_matches([("fileName", "a.jpg"), ("tags", "x, y")]));
    /// # Ok::<(), folio_token::TokenError>(())
    /// ```
    pub fn payload_matches<'a>(
        &self,
        fields: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> bool {
        self.payload_mismatch(fields).is_none()
    }

    /// The same comparison as [`payload_matches`](Self::payload_matches), telling the first
    /// parameter that breaks it and how, or `None` when the request matches. Fields are looked
    /// at in request order, then the token's parameters in name order, so the answer is the
    /// same for the same request. It names parameters, never values: a caller may show it.
    ///
    /// ```
    /// # use folio_token::{decode, MismatchProblem, UploadToken};
    /// # let token = UploadToken::new("public_k", "private_k")
    /// #     .param("fileName", "a.jpg").param("tags", "x,y").issued_at(100).sign().unwrap();
    /// let verified = decode(&token)?.verify("private_k", 100, 60)?;
    /// let found = verified.payload_mismatch([("fileName", "a.jpg")]).unwrap();
    /// assert_eq!((found.param.as_str(), found.problem), ("tags", MismatchProblem::MissingFromRequest));
    /// let found = verified.payload_mismatch([("folder", "/a")]).unwrap();
    /// assert_eq!((found.param.as_str(), found.problem), ("folder", MismatchProblem::NotInToken));
    /// # Ok::<(), folio_token::TokenError>(())
    /// ```
    pub fn payload_mismatch<'a>(
        &self,
        fields: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Option<PayloadMismatch> {
        let mut seen = BTreeSet::new();
        for (name, text) in fields {
            let problem = match self.params.get(name) {
                None => Some(MismatchProblem::NotInToken),
                Some(_) if !seen.insert(name) => Some(MismatchProblem::Repeated),
                Some(signed) if signed.as_str() != Some(text) => Some(MismatchProblem::Differs),
                Some(_) => None,
            };
            if let Some(problem) = problem {
                return Some(PayloadMismatch::new(name, problem));
            }
        }
        // Every field named a distinct parameter, so equal counts mean none was left out.
        if seen.len() == self.params.len() {
            return None;
        }
        let left_out = self.params.keys().find(|k| !seen.contains(k.as_str()))?;
        Some(PayloadMismatch::new(
            left_out,
            MismatchProblem::MissingFromRequest,
        ))
    }
}

/// The first parameter on which a request and its token's payload disagree (step J11).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayloadMismatch {
    /// The parameter's name (as sent, or as signed).
    pub param: String,
    /// How it differs.
    pub problem: MismatchProblem,
}

impl PayloadMismatch {
    fn new(param: &str, problem: MismatchProblem) -> Self {
        PayloadMismatch {
            param: param.to_owned(),
            problem,
        }
    }
}

/// How a parameter breaks the two-way comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MismatchProblem {
    /// Both carry it, with different values (or the token's value is not a string).
    Differs,
    /// The token pins it and the request does not carry it.
    MissingFromRequest,
    /// The request carries it and the token does not pin it.
    NotInToken,
    /// The request carries it more than once.
    Repeated,
}

impl MismatchProblem {
    /// The words an error body uses for it.
    pub fn as_str(self) -> &'static str {
        match self {
            MismatchProblem::Differs => "differs",
            MismatchProblem::MissingFromRequest => "missing from request",
            MismatchProblem::NotInToken => "not in token",
            MismatchProblem::Repeated => "repeated in request",
        }
    }
}

/// The single-use ledger key of a token: SHA-256 of the full token text as received.
///
/// The server stores this instead of the token (spec §2.6), per account, until the token's
/// `exp` (V2) or `expire` (V1) has passed. Works for V1 nonces as well as V2 JWTs.
///
/// ```
/// let key = folio_token::ledger_key("9e9f1f5c-7a8e-4a55-9c1e-3c1f0b7d2a11");
/// assert_eq!(key.len(), 32);
/// ```
pub fn ledger_key(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}
