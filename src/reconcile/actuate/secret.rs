//! Secret presence in Supabase and Vercel: the value is read at apply time from the
//! registry's source and goes straight to the provider through the secret-sync path;
//! nothing of it is returned, logged or stored.

use super::{bad, Act, ActCx, Actuator, Done};
use crate::provider::{secret_sync, Provider, ProviderError};
use crate::reconcile::diff::ObjectKind;
use crate::reconcile::plan::Action;
use crate::reconcile::secrets;
use serde_json::{json, Value};

pub struct SecretActuator;

fn which(a: &Action) -> Provider {
    if a.diff.key.kind == ObjectKind::SupabaseSecret {
        Provider::Supabase
    } else {
        Provider::Vercel
    }
}

fn unconfigured(p: Provider, project: &str) -> ProviderError {
    ProviderError::new(
        p,
        "not_configured",
        format!(
            "no {} client for project `{project}`'s secret objects",
            p.as_str()
        ),
    )
}

fn parts(a: &Action) -> Result<(String, String), ProviderError> {
    secrets::parts(
        a.diff
            .after
            .as_ref()
            .or(a.diff.before.as_ref())
            .unwrap_or(&Value::Null),
    )
    .ok_or_else(|| bad("secret object without destination or name"))
}

async fn push(cx: &ActCx<'_>, a: &Action) -> Result<Done, ProviderError> {
    let (dest, name) = parts(a)?;
    let p = which(a);
    let value = cx.secrets.get(&name).ok_or_else(|| {
        ProviderError::new(
            p,
            "secret_missing",
            format!("secret `{name}` is not set in the controller's environment; set it and reconcile again"),
        )
    })?;
    let batch = vec![(name.clone(), value)];
    let report = if p == Provider::Supabase {
        let sb = cx
            .secret_providers
            .supabase_for(cx.project)
            .ok_or_else(|| unconfigured(p, cx.project))?;
        secret_sync::push_supabase(sb, &dest, batch, false).await
    } else {
        let http = cx
            .secret_providers
            .vercel_for(cx.project)
            .ok_or_else(|| unconfigured(p, cx.project))?;
        let vercel = secrets::vercel_for(cx.ssot, http, &dest);
        secret_sync::push_vercel(&vercel, batch, false).await
    };
    if let Some(e) = report.error {
        return Err(e);
    }
    Ok(Done::new(
        false,
        json!({"destination": dest, "name": name, "pushed": report.pushed, "unchanged": report.unchanged}),
    ))
}

impl Actuator for SecretActuator {
    fn create<'a>(&'a self, cx: &'a ActCx<'a>, a: &'a Action) -> Act<'a> {
        Box::pin(push(cx, a))
    }

    fn update<'a>(&'a self, cx: &'a ActCx<'a>, a: &'a Action) -> Act<'a> {
        Box::pin(push(cx, a))
    }

    fn replace<'a>(&'a self, cx: &'a ActCx<'a>, a: &'a Action) -> Act<'a> {
        Box::pin(push(cx, a))
    }

    fn delete<'a>(&'a self, cx: &'a ActCx<'a>, a: &'a Action) -> Act<'a> {
        Box::pin(async move {
            let (dest, name) = parts(a)?;
            let p = which(a);
            if p == Provider::Supabase {
                let sb = cx
                    .secret_providers
                    .supabase_for(cx.project)
                    .ok_or_else(|| unconfigured(p, cx.project))?;
                sb.delete_secrets(&dest, std::slice::from_ref(&name))
                    .await?;
            } else {
                let http = cx
                    .secret_providers
                    .vercel_for(cx.project)
                    .ok_or_else(|| unconfigured(p, cx.project))?;
                let vercel = secrets::vercel_for(cx.ssot, http, &dest);
                let ids = a.diff.live_id.clone().unwrap_or_default();
                for id in ids.split(',').filter(|i| !i.is_empty()) {
                    vercel.delete_env(id).await?;
                }
            }
            Ok(Done::new(false, json!({"destination": dest, "name": name})))
        })
    }
}
