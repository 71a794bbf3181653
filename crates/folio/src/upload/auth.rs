//! Authentication of upload requests: phases M, A, S and J of spec §2.5, in that order.
//!
//! The multipart body streams in, so authentication runs in two steps. When the `file` part
//! begins, [`Authenticator::before_file`] decides whatever the fields seen so far allow
//! (Basic credentials, a v2 token, a complete set of v1 signature fields), so that a bad
//! request is refused before its file is read. When the body has ended,
//! [`Authenticator::after_body`] finishes the job with every field: late fields are checked
//! for the "both methods" errors, a deferred mode is run in full, and the v2 payload is
//! compared both ways.

use axum::http::HeaderMap;
use base64::Engine;
use folio_token::VerifiedToken;

use crate::error::AppError;
use crate::state::AppState;
use crate::store::{Account, ApiKey, KeyWithAccount};

/// Which upload endpoint the request came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiVersion {
    V1,
    V2,
}

/// How the request proved who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Basic,
    V1Signature,
    V2Token,
}

pub struct Authenticated {
    pub account: Account,
    pub key: ApiKey,
    pub mode: Mode,
    /// The verified v2 token whose payload still has to match the request (J11).
    token: Option<VerifiedToken>,
}

impl Authenticated {
    /// The principal of a resumable upload's last byte: it was authenticated at creation.
    pub fn resumed(found: KeyWithAccount, mode: Mode) -> Self {
        Authenticated {
            account: found.account,
            key: found.key,
            mode,
            token: None,
        }
    }

    /// The ledger key of the v2 token it was proven with.
    pub fn ledger_key(&self) -> Option<[u8; 32]> {
        self.token.as_ref().map(VerifiedToken::ledger_key)
    }
}

/// The text fields of a request, in arrival order, names unique.
pub type Fields = [(String, String)];

fn field<'a>(fields: &'a Fields, name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

fn non_empty<'a>(fields: &'a Fields, name: &str) -> Option<&'a str> {
    field(fields, name).filter(|v| !v.is_empty())
}

/// The username of an `Authorization: Basic` header; `Some(None)` when the scheme is Basic but
/// the credentials are unusable (spec §2.1: other schemes count as no Basic credentials).
fn basic_username(headers: &HeaderMap) -> Option<Option<String>> {
    let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = value.trim().split_once(' ').unwrap_or((value.trim(), ""));
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok());
    let username = decoded.map(|text| match text.split_once(':') {
        Some((user, _password)) => user.to_owned(),
        None => text,
    });
    Some(username.filter(|u| !u.is_empty()))
}

/// Phase A (steps A1–A4) for a username taken from Basic credentials.
pub(crate) async fn key_for_private(
    state: &AppState,
    username: Option<&str>,
) -> Result<KeyWithAccount, AppError> {
    let username = username.ok_or(AppError::NoPrivateKey)?;
    let found = state
        .catalog
        .key_by_private(username)
        .await
        .map_err(AppError::internal)?
        .ok_or(AppError::CannotAuthenticate)?;
    if found.key.revoked {
        return Err(AppError::CannotAuthenticate);
    }
    if found
        .key
        .expires_at
        .is_some_and(|t| t <= state.clock.now_secs())
    {
        return Err(AppError::ExpiredPrivateKey);
    }
    if found.account.disabled {
        return Err(AppError::AccountDisabled);
    }
    Ok(found)
}

/// The live key pair named by a public key (v1 `publicKey`, v2 `kid`, the limits endpoint's
/// `publicKey`): not revoked, not expired, of an enabled account.
pub async fn key_for_public(
    state: &AppState,
    public_key: &str,
) -> Result<KeyWithAccount, AppError> {
    let now = state.clock.now_secs();
    let found = state
        .catalog
        .key_by_public(public_key)
        .await
        .map_err(AppError::internal)?
        .filter(|k| !k.key.revoked && k.key.expires_at.is_none_or(|t| t > now))
        .ok_or(AppError::CannotAuthenticate)?;
    if found.account.disabled {
        return Err(AppError::AccountDisabled);
    }
    Ok(found)
}

/// Authentication of the media API (spec §8): HTTP Basic with the private key only. No
/// (or unusable) Basic credentials → `401`, unknown key → `403`.
pub async fn authenticate_basic(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<KeyWithAccount, AppError> {
    let username = basic_username(headers).flatten();
    key_for_private(state, username.as_deref()).await
}

/// The caller of a management endpoint (spec §8), authenticated from the request head alone.
/// As an extractor it runs before the body extractor, so a request without valid credentials is
/// refused before any of its body is read: an anonymous client cannot make the server buffer
/// bodies.
pub struct Principal(pub KeyWithAccount);

impl axum::extract::FromRequestParts<AppState> for Principal {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, AppError> {
        authenticate_basic(state, &parts.headers)
            .await
            .map(Principal)
    }
}

pub struct Authenticator<'a> {
    state: &'a AppState,
    api: ApiVersion,
    basic: Option<Option<String>>,
    decided: Option<Authenticated>,
    /// A client token (v1 nonce or v2 JWT) has been burned: from here on the request cannot
    /// be retried with it, and 5xx answers carry `x-should-retry: false` (spec §2.7).
    pub token_consumed: bool,
}

impl<'a> Authenticator<'a> {
    pub fn new(state: &'a AppState, api: ApiVersion, headers: &HeaderMap) -> Self {
        Authenticator {
            state,
            api,
            basic: basic_username(headers),
            decided: None,
            token_consumed: false,
        }
    }

    /// Whether the request authenticates with a client token (v1 signature or v2 JWT) rather
    /// than Basic credentials. Spec §2.7 marks every 5xx of such an upload
    /// `x-should-retry: false`, also when the ledger could not be reached: whether a burn
    /// that failed in transit took effect is unknown, and a retry may meet a consumed token.
    pub fn client_token_mode(&self) -> bool {
        self.basic.is_none()
    }

    /// How the request set out to authenticate, for the metrics: `basic`, `v1_signature` or
    /// `v2_token`.
    pub fn mode_label(&self) -> &'static str {
        match (&self.basic, self.api) {
            (Some(_), _) => "basic",
            (None, ApiVersion::V1) => "v1_signature",
            (None, ApiVersion::V2) => "v2_token",
        }
    }

    fn now(&self) -> i64 {
        self.state.clock.now_secs()
    }

    /// Runs what the fields received before the `file` part allow.
    pub async fn before_file(&mut self, fields: &Fields) -> Result<(), AppError> {
        if self.decided.is_some() {
            return Ok(());
        }
        self.check_mixed(fields)?;
        let ready = match (&self.basic, self.api) {
            (Some(_), _) => true,
            (None, ApiVersion::V2) => non_empty(fields, "token").is_some(),
            (None, ApiVersion::V1) => ["publicKey", "signature", "token", "expire"]
                .iter()
                .all(|n| field(fields, n).is_some()),
        };
        if ready {
            self.decided = Some(self.authenticate(fields).await?);
        }
        Ok(())
    }

    /// Whether the request has proven who it is (authentication has run and passed).
    pub fn is_proven(&self) -> bool {
        self.decided.is_some()
    }

    /// Decides on the fields seen so far, whether or not they look complete: a file that
    /// arrived before its credentials cannot wait for them any longer (strict mode), or the
    /// body has ended and a file kept in memory waits to be written.
    pub async fn decide(&mut self, fields: &Fields) -> Result<(), AppError> {
        if self.decided.is_some() {
            return Ok(());
        }
        self.check_mixed(fields)?;
        self.decided = Some(self.authenticate(fields).await?);
        Ok(())
    }

    /// The parameters a v2 token verified before the file pins: the request must carry exactly
    /// these (J11), so they are known before the body ends. `None` without such a token, or if
    /// the payload holds a non-string value (the request will then fail J11 anyway).
    pub fn pinned_fields(&self) -> Option<Vec<(String, String)>> {
        let token = self.decided.as_ref()?.token.as_ref()?;
        token
            .params()
            .iter()
            .map(|(name, value)| value.as_str().map(|v| (name.clone(), v.to_owned())))
            .collect()
    }

    /// Authenticates the creation of a resumable upload (resumable.md §2) from `fields` alone
    /// (the token, or for Basic callers the upload's metadata) and returns the parameters the
    /// upload takes: the token's payload, which the upload then carries exactly (J11 holds by
    /// construction), or for Basic callers `fields` themselves.
    pub async fn creation(
        mut self,
        fields: &Fields,
    ) -> Result<(Authenticated, Vec<(String, String)>), AppError> {
        self.decide(fields).await?;
        let pinned = self.pinned_fields();
        let auth = self
            .decided
            .take()
            .ok_or_else(|| AppError::internal(anyhow::anyhow!("undecided authentication")))?;
        match (&auth.token, pinned) {
            (Some(_), Some(params)) => Ok((auth, params)),
            // A payload value that is not a string: no request could match it.
            (Some(token), None) => {
                let not_a_string = token.params().iter().find(|(_, v)| !v.is_string());
                Err(AppError::PayloadMismatch(not_a_string.map(|(name, _)| {
                    folio_token::PayloadMismatch {
                        param: name.clone(),
                        problem: folio_token::MismatchProblem::Differs,
                    }
                })))
            }
            (None, _) => Ok((auth, fields.to_vec())),
        }
    }

    /// Finishes authentication once every field is known.
    pub async fn after_body(&mut self, fields: &Fields) -> Result<Authenticated, AppError> {
        self.check_mixed(fields)?;
        let auth = match self.decided.take() {
            Some(auth) => auth,
            None => self.authenticate(fields).await?,
        };
        if let Some(token) = &auth.token {
            // J11: every field except `file` and `token` takes part, unknown ones included.
            let compared = fields
                .iter()
                .filter(|(n, _)| n != "token" && n != "file")
                .map(|(n, v)| (n.as_str(), v.as_str()));
            if let Some(mismatch) = token.payload_mismatch(compared) {
                return Err(AppError::PayloadMismatch(Some(mismatch)));
            }
        }
        Ok(auth)
    }

    /// M2: Basic credentials next to the client-side fields of the same endpoint.
    fn check_mixed(&self, fields: &Fields) -> Result<(), AppError> {
        if self.basic.is_none() {
            return Ok(());
        }
        match self.api {
            ApiVersion::V2 if non_empty(fields, "token").is_some() => {
                Err(AppError::BothTokenAndBasic)
            }
            ApiVersion::V1
                if ["signature", "token", "expire"]
                    .iter()
                    .any(|n| non_empty(fields, n).is_some()) =>
            {
                Err(AppError::BothSignatureAndBasic)
            }
            _ => Ok(()),
        }
    }

    /// M3 and the chosen phase.
    async fn authenticate(&mut self, fields: &Fields) -> Result<Authenticated, AppError> {
        if let Some(username) = self.basic.clone() {
            return self.basic_phase(username.as_deref()).await;
        }
        match self.api {
            ApiVersion::V2 => self.jwt_phase(fields).await,
            ApiVersion::V1 => {
                let any = ["publicKey", "signature", "token", "expire"]
                    .iter()
                    .any(|n| field(fields, n).is_some());
                if !any {
                    return Err(AppError::NoPrivateKey);
                }
                self.signature_phase(fields).await
            }
        }
    }

    /// Phase A.
    async fn basic_phase(&self, username: Option<&str>) -> Result<Authenticated, AppError> {
        let found = key_for_private(self.state, username).await?;
        self.rate_limit(&found).await?;
        Ok(Authenticated {
            account: found.account,
            key: found.key,
            mode: Mode::Basic,
            token: None,
        })
    }

    /// Phase S.
    async fn signature_phase(&mut self, fields: &Fields) -> Result<Authenticated, AppError> {
        let public_key = non_empty(fields, "publicKey").ok_or(AppError::MissingPublicKey)?;
        let found = key_for_public(self.state, public_key).await?;
        let token = non_empty(fields, "token").ok_or(AppError::MissingToken)?;
        let signature = field(fields, "signature").ok_or(AppError::MissingSignature)?;
        let expire_text = field(fields, "expire").unwrap_or("");
        let expire = folio_token::parse_v1_expire(expire_text, self.now()).map_err(|_| {
            AppError::InvalidExpire {
                server_time: self.now(),
            }
        })?;
        if !folio_token::verify_v1_signature(&found.key.private_key, token, expire_text, signature)
        {
            return Err(AppError::InvalidSignature);
        }
        self.rate_limit(&found).await?;
        // The signature covers `token ‖ expire` and cannot tell where one ends: the signed
        // text is the credential. The nonce alone is burned too (a token is single-use
        // whatever `expire` it comes with, and entries written before this key existed stay
        // effective).
        self.burn(
            &found.account.id,
            &folio_token::v1_ledger_key(token, expire_text),
            expire,
        )
        .await?;
        self.burn(&found.account.id, &folio_token::ledger_key(token), expire)
            .await?;
        Ok(Authenticated {
            account: found.account,
            key: found.key,
            mode: Mode::V1Signature,
            token: None,
        })
    }

    /// Phase J up to the burn (J1–J10); J11 runs in [`Self::after_body`].
    async fn jwt_phase(&mut self, fields: &Fields) -> Result<Authenticated, AppError> {
        let raw = non_empty(fields, "token").ok_or(AppError::MissingToken)?;
        let invalid = |e: folio_token::TokenError| AppError::InvalidToken {
            reason: e.to_string(),
            server_time: self.now(),
        };
        let unverified = folio_token::decode(raw).map_err(invalid)?;
        let found = key_for_public(self.state, unverified.kid()).await?;
        let verified = unverified
            .verify(
                &found.key.private_key,
                self.now(),
                self.state.config.auth.clock_leeway_secs,
            )
            .map_err(|e| match e {
                folio_token::TokenError::Expired => AppError::ExpiredToken {
                    server_time: self.now(),
                },
                other => invalid(other),
            })?;
        self.rate_limit(&found).await?;
        self.burn(&found.account.id, &verified.ledger_key(), verified.exp())
            .await?;
        Ok(Authenticated {
            account: found.account,
            key: found.key,
            mode: Mode::V2Token,
            token: Some(verified),
        })
    }

    /// The key pair's upload rate, counted once its credentials are proven and before a token
    /// is spent: a request refused for its rate may be sent again with the same token.
    async fn rate_limit(&self, found: &KeyWithAccount) -> Result<(), AppError> {
        let scope = crate::fairness::Scope::Key(&found.key.public_key);
        crate::fairness::rate_limit(self.state, scope).await
    }

    /// J10 / S7: single use, even if the request fails later.
    async fn burn(
        &mut self,
        account_id: &str,
        ledger_key: &[u8; 32],
        expires_at: i64,
    ) -> Result<(), AppError> {
        let fresh = self
            .state
            .catalog
            .burn_token(account_id, ledger_key, expires_at)
            .await
            .map_err(AppError::internal)?;
        if !fresh {
            return Err(AppError::TokenReused);
        }
        self.token_consumed = true;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            http::header::AUTHORIZATION,
            HeaderValue::from_str(value).expect("header"),
        );
        h
    }

    #[test]
    fn basic_credentials_are_read_like_the_sdks_send_them() {
        // private_test_key:do_not_set (the SDKs), private_rGAPQJbhBx: (curl -u)
        assert_eq!(
            basic_username(&headers("Basic cHJpdmF0ZV90ZXN0X2tleTpkb19ub3Rfc2V0")),
            Some(Some("private_test_key".into()))
        );
        assert_eq!(
            basic_username(&headers("basic cHJpdmF0ZV9yR0FQUUpiaEJ4Og==")),
            Some(Some("private_rGAPQJbhBx".into()))
        );
        // no colon: the whole text is the username
        assert_eq!(
            basic_username(&headers("Basic cHJpdmF0ZV94")),
            Some(Some("private_x".into()))
        );
        assert_eq!(basic_username(&headers("Basic !!!")), Some(None));
        assert_eq!(basic_username(&headers("Basic Om5vdXNlcg==")), Some(None));
        assert_eq!(basic_username(&headers("Bearer abc")), None);
        assert_eq!(basic_username(&HeaderMap::new()), None);
    }
}
