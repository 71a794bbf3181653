//! Endpoints: where an account's events go. Added by `folio webhooks add` or declared in the
//! config file (`[[webhooks.endpoints]]`, brought in step at start); both are checked the same
//! way before they are kept.

use anyhow::{bail, Context};
use reqwest::Url;
use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::store::{DynCatalog, WebhookEndpoint};
use crate::upload::fetch::Fetcher;

/// Checks an endpoint URL the way deliveries will be checked: http(s), no user info, and an
/// address the outbound client may connect to (public, or in `fetch.allow`).
pub async fn check_url(fetcher: &Fetcher, raw: &str) -> anyhow::Result<Url> {
    let url = Url::parse(raw).with_context(|| format!("{raw:?} is not a URL"))?;
    if let Err(reason) = fetcher.check_destination(&url).await {
        bail!(
            "the endpoint {raw:?} is refused: {reason}. Folio only calls public addresses; \
             add the host or its range to fetch.allow to call it anyway"
        );
    }
    Ok(url)
}

/// A new endpoint of the account `account_url_id` with a fresh secret (the caller shows it
/// once).
pub async fn add(
    catalog: &DynCatalog,
    fetcher: &Fetcher,
    account_url_id: &str,
    url: &str,
    events: Vec<String>,
) -> anyhow::Result<WebhookEndpoint> {
    super::check_events(&events)?;
    let url = check_url(fetcher, url).await?;
    let account = catalog
        .account_by_url_id(account_url_id)
        .await?
        .with_context(|| format!("no account has the URL id {account_url_id:?}"))?;
    let endpoint = WebhookEndpoint {
        id: format!("wh_{}", crate::ids::object_id()),
        account_id: account.id,
        url: url.to_string(),
        events,
        secret: super::new_secret(),
        previous_secret: None,
        previous_secret_until_ms: None,
        from_config: false,
        disabled_at_ms: None,
        disabled_reason: None,
        created_at_ms: crate::ids::now_millis(),
    };
    catalog.add_webhook_endpoint(&endpoint).await?;
    Ok(endpoint)
}

/// Makes the catalog's config-declared endpoints those of `config` (ids derived from account
/// and URL, so a restart with the same file changes nothing).
pub async fn sync_config(
    catalog: &DynCatalog,
    fetcher: &Fetcher,
    config: &Config,
) -> anyhow::Result<()> {
    let mut endpoints = Vec::with_capacity(config.webhooks.endpoints.len());
    for declared in &config.webhooks.endpoints {
        let url = check_url(fetcher, &declared.url)
            .await
            .context("webhooks.endpoints")?;
        let account = catalog
            .account_by_url_id(&declared.account)
            .await?
            .with_context(|| {
                format!(
                    "webhooks.endpoints: no account has the URL id {:?}",
                    declared.account
                )
            })?;
        let digest = Sha256::digest(format!("{}\n{}", account.id, url).as_bytes());
        endpoints.push(WebhookEndpoint {
            id: format!("wh_cfg_{}", &hex::encode(digest)[..20]),
            account_id: account.id,
            url: url.to_string(),
            events: declared.events.clone(),
            secret: declared.secret.clone(),
            previous_secret: None,
            previous_secret_until_ms: None,
            from_config: true,
            disabled_at_ms: None,
            disabled_reason: None,
            created_at_ms: crate::ids::now_millis(),
        });
    }
    catalog.sync_config_endpoints(&endpoints).await
}
