//! How notices reach Slack and Plane: the secrets and clients of a notifier, and the one
//! delivery path every notice takes (its ledger row first, then the post).

use super::{Notifications, Outcome};
use crate::provider::http::{Auth, ClientConfig, HttpClient};
use crate::provider::plane::Plane;
use crate::provider::slack::Slack;
use crate::provider::{Provider, ProviderError, SecretValue};
use crate::ssot::{Environment, NotifierSpec, Ssot};
use crate::store::{ActionStatus, ActionUpdate, LedgerInsert, Level, NewAction, StoreError};
use serde_json::{json, Value};
use uuid::Uuid;

impl Notifications<'_> {
    pub(super) fn secret(&self, key: &str, what: &str) -> Result<SecretValue, String> {
        self.secrets.get(key).ok_or_else(|| {
            format!("secret `{key}` ({what}) is not set in the controller's environment")
        })
    }

    pub(super) fn base_of(&self, ssot: &Ssot, env: &Environment, provider: &str) -> String {
        let configured = match provider {
            "slack" => self.config.slack_base.clone(),
            _ => self.config.plane_base.clone(),
        };
        configured
            .or_else(|| {
                ssot.project(&env.spec.project)
                    .and_then(|p| p.spec.providers.base_url(provider))
            })
            .map(|u| {
                // The Slack adapter adds `/api/…` itself.
                if provider == "slack" {
                    u.trim_end_matches('/').trim_end_matches("/api").to_string()
                } else {
                    u
                }
            })
            .unwrap_or_default()
    }

    pub(super) fn client(
        &self,
        provider: Provider,
        base: &str,
        auth: Auth,
    ) -> Result<HttpClient, String> {
        let mut cfg = ClientConfig::new(provider, base, auth);
        cfg.timeout = self.config.timeout;
        HttpClient::with_sleeper(
            cfg,
            self.config.metrics.clone(),
            self.config.sleeper.clone(),
        )
        .map_err(|e| e.to_string())
    }

    pub(super) fn plane_for(
        &self,
        ssot: &Ssot,
        env: &Environment,
        spec: &NotifierSpec,
    ) -> Result<Plane, String> {
        let p = spec
            .plane
            .as_ref()
            .ok_or_else(|| "no plane notifier".to_string())?;
        let key = self.secret(&p.api_key_secret, "Plane API key")?;
        let http = self.client(
            Provider::Plane,
            &self.base_of(ssot, env, "plane"),
            Auth::Header("X-API-Key", key),
        )?;
        Ok(Plane::new(http, &p.workspace, &p.project))
    }

    /// Post `text` through a notifier's Slack settings: the webhook if set, else
    /// `chat.postMessage` with the bot token. Answers `{channel, ts}` (ts: bot posts only).
    pub(super) async fn slack_post(
        &self,
        ssot: &Ssot,
        env: &Environment,
        spec: &NotifierSpec,
        text: &str,
    ) -> Result<Value, String> {
        let s = spec
            .slack
            .as_ref()
            .ok_or_else(|| "no slack notifier".to_string())?;
        let err = |e: ProviderError| e.to_string();
        if let Some(hook) = &s.webhook_secret {
            let url = self.secret(hook, "Slack webhook URL")?;
            let slack = Slack::new(self.client(
                Provider::Slack,
                &self.base_of(ssot, env, "slack"),
                Auth::None,
            )?);
            let mut template = ClientConfig::new(Provider::Slack, "http://localhost", Auth::None);
            template.timeout = self.config.timeout;
            let slack = slack.with_webhook_config(template, self.config.sleeper.clone());
            slack.post_webhook(&url, text, None).await.map_err(err)?;
            return Ok(json!({"channel": s.channel, "via": "webhook"}));
        }
        if let Some(tok) = &s.bot_token_secret {
            let token = self.secret(tok, "Slack bot token")?;
            let slack = Slack::new(self.client(
                Provider::Slack,
                &self.base_of(ssot, env, "slack"),
                Auth::Bearer(token),
            )?);
            let posted = slack.post_message(&s.channel, text).await.map_err(err)?;
            return Ok(json!({"channel": posted.channel, "ts": posted.ts, "via": "bot"}));
        }
        Err("the Slack notifier has neither webhookSecret nor botTokenSecret".into())
    }

    /// One side effect behind its ledger row: sent once, retried while it fails.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn deliver<F, Fut>(
        &self,
        run_id: Uuid,
        corr: &str,
        env: &str,
        key: String,
        op: &str,
        subject: &str,
        request: Value,
        send: F,
    ) -> Result<Outcome, StoreError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<Value, String>>,
    {
        let ins = self
            .store
            .ledger_insert(&NewAction {
                dedupe_key: key.clone(),
                plan_id: None,
                run_id: Some(run_id),
                resource_kind: "notification".into(),
                resource_name: subject.to_string(),
                operation: op.to_string(),
                request_summary: Some(request),
                resource_key: None,
            })
            .await?;
        let row = match ins {
            LedgerInsert::Existing(a) if a.status == ActionStatus::Succeeded.as_str() => {
                return Ok(Outcome::Already)
            }
            other => other.action().clone(),
        };
        self.store
            .ledger_update(
                row.id,
                &ActionUpdate {
                    status: Some(ActionStatus::InFlight),
                    bump_attempts: true,
                    ..Default::default()
                },
            )
            .await?;
        match send().await {
            Ok(response) => {
                self.store
                    .ledger_update(
                        row.id,
                        &ActionUpdate {
                            status: Some(ActionStatus::Succeeded),
                            response_summary: Some(response),
                            ..Default::default()
                        },
                    )
                    .await?;
                self.event(
                    run_id,
                    corr,
                    Level::Info,
                    Some(env),
                    format!("notified ({op}): {subject}"),
                    json!({"dedupe_key": key}),
                )
                .await;
                Ok(Outcome::Sent)
            }
            Err(e) => {
                self.store
                    .ledger_update(
                        row.id,
                        &ActionUpdate {
                            status: Some(ActionStatus::Failed),
                            error: Some(e.clone()),
                            ..Default::default()
                        },
                    )
                    .await?;
                self.event(
                    run_id,
                    corr,
                    Level::Warn,
                    Some(env),
                    format!("notification failed ({op}), retried next cycle: {subject}: {e}"),
                    json!({"dedupe_key": key}),
                )
                .await;
                Ok(Outcome::Failed)
            }
        }
    }
}
