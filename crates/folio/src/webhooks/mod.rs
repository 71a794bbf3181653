//! Account webhook events and the other outbound calls that must survive a restart
//! (webhooks.md; spec §3.9 for extensions and their `webhookUrl` callbacks).
//!
//! ```text
//! change ─► outbox rows (same transaction) ─► worker claims due rows ─► signed POST ─► outcome
//! ```
//!
//! [`outbox`] renders what a change writes; the backends insert it inside the change's
//! transaction, so an event exists exactly when its change committed, crash or not. Every
//! instance runs a [`worker`]: it claims due rows with a lease (PostgreSQL: `FOR UPDATE SKIP
//! LOCKED`), attempts them concurrently, and records each outcome: delivered, retried later
//! (exponential back-off with jitter, for up to `webhooks.max_age_secs`) or failed. A row whose
//! instance died mid-attempt is due again when its lease ends: delivery is at least once, with
//! the same `webhook-id` every time. [`sign`] makes the headers receivers verify.

pub mod endpoints;
pub mod outbox;
pub mod sign;
mod worker;

pub use worker::spawn;

use tokio::sync::Notify;

/// Wakes this instance's worker when a change here wrote to the outbox, so a new event goes
/// out at once instead of at the next poll.
#[derive(Debug, Default)]
pub struct Bell(Notify);

impl Bell {
    pub fn ring(&self) {
        self.0.notify_one();
    }

    async fn wait(&self) {
        self.0.notified().await
    }
}

/// Writes an event that reports no catalog change (a transformation's outcome) and wakes the
/// worker. A failure is logged: the outcome it reports has happened either way.
pub async fn report(state: &crate::state::AppState, event: Option<crate::store::OutboxRow>) {
    let Some(event) = event else {
        return;
    };
    match state.catalog.enqueue(std::slice::from_ref(&event)).await {
        Ok(()) => state.webhook_bell.ring(),
        Err(e) => {
            tracing::warn!(error = %e, event = %event.event_type, "recording an event failed")
        }
    }
}

/// Refuses event names that are not in [`outbox::EVENT_TYPES`].
pub fn check_events(events: &[String]) -> anyhow::Result<()> {
    for event in events {
        if !outbox::EVENT_TYPES.contains(&event.as_str()) {
            anyhow::bail!(
                "unknown event type {event:?}; the event types are {}",
                outbox::EVENT_TYPES.join(", ")
            );
        }
    }
    Ok(())
}

/// A secret chosen by the operator (config file) must be long enough to be one.
pub fn check_secret(secret: &str) -> anyhow::Result<()> {
    if secret.chars().count() < 24 || secret.chars().any(|c| c.is_whitespace() || c.is_control()) {
        anyhow::bail!("a webhook secret needs at least 24 characters and no spaces");
    }
    Ok(())
}

/// A fresh secret: `whsec_` and the base64 of 24 random bytes (192 bits).
pub fn new_secret() -> String {
    use base64::Engine;
    let bytes: [u8; 24] = rand::random();
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_names_are_checked() {
        assert!(check_events(&["file.created".into(), "file-version.deleted".into()]).is_ok());
        let err = check_events(&["file.create".into()]).expect_err("unknown");
        assert!(err.to_string().contains("\"file.create\""), "{err}");
        assert!(check_events(&[]).is_ok());
    }

    #[test]
    fn secrets_are_long_and_fresh() {
        let a = new_secret();
        assert!(a.starts_with("whsec_") && a.len() == 6 + 32, "{a}");
        assert_ne!(a, new_secret());
        assert!(check_secret(&a).is_ok());
        assert!(check_secret("short").is_err());
        assert!(check_secret("a secret with spaces in it, long").is_err());
    }
}
