//! Domains (zones) and their records. Records carry no tags: which are ours is the
//! engine's recorded inventory.

use super::normalize::{decode, normalize_record, record_body};
use super::{ok_if_gone, DigitalOcean, LiveRecord, Record};
use crate::provider::error::ProviderError;
use crate::provider::http::Request;
use crate::provider::paginate;
use reqwest::Method;
use serde_json::json;

impl DigitalOcean {
    /// Create the zone if it is missing.
    pub async fn ensure_domain(&self, zone: &str) -> Result<(), ProviderError> {
        match self
            .http
            .send(Request::get(format!("/v2/domains/{zone}")))
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.status == Some(404) => {
                match self
                    .http
                    .send(Request::post("/v2/domains", json!({"name": zone})))
                    .await
                {
                    Ok(_) => Ok(()),
                    // Created meanwhile (or by an earlier attempt whose answer was lost).
                    Err(e) if e.status == Some(422) => Ok(()),
                    Err(e) => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// The records of `zone` that `keep` selects, normalized page by page (a missing zone
    /// has none).
    pub async fn observe_records_where(
        &self,
        zone: &str,
        keep: impl Fn(&LiveRecord) -> bool,
    ) -> Result<Vec<LiveRecord>, ProviderError> {
        match paginate::digitalocean_map(
            &self.http,
            &format!("/v2/domains/{zone}/records"),
            "domain_records",
            &[],
            |v| normalize_record(zone, v).map(|r| keep(&r).then_some(r)),
        )
        .await
        {
            Err(e) if e.status == Some(404) => Ok(Vec::new()),
            other => other,
        }
    }

    /// The records of `zone` with `r`'s type and name, through the API's `type` and `name`
    /// (fully qualified) filters: one small request instead of listing the whole zone.
    pub async fn find_record(
        &self,
        zone: &str,
        r: &Record,
    ) -> Result<Option<LiveRecord>, ProviderError> {
        let fqdn = if r.name == "@" {
            zone.to_string()
        } else {
            format!("{}.{zone}", r.name)
        };
        let query = [("type", r.kind.clone()), ("name", fqdn)];
        match paginate::digitalocean(
            &self.http,
            &format!("/v2/domains/{zone}/records"),
            "domain_records",
            &query,
        )
        .await
        {
            Ok(items) => Ok(items
                .iter()
                .map(|x| normalize_record(zone, x))
                .collect::<Result<Vec<_>, _>>()?
                .into_iter()
                .find(|x| x.record.name == r.name && x.record.kind == r.kind)),
            Err(e) if e.status == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Create a record. It is not retried blindly: after a failure whose outcome is unknown
    /// (and before the first attempt when `look_first`: a retry, or a ledger row a crash
    /// left), look for it by type and name and adopt it — the ledger's pending create is the
    /// mark that such a record is ours. Returns the record and whether it was adopted.
    pub async fn create_record(
        &self,
        zone: &str,
        r: &Record,
        look_first: bool,
    ) -> Result<(LiveRecord, bool), ProviderError> {
        let mut last_err = None;
        for attempt in 0..5 {
            if attempt > 0 || look_first {
                if let Some(existing) = self.find_record(zone, r).await? {
                    return Ok((existing, true));
                }
            }
            let body = record_body(r);
            match self
                .http
                .json(Request::post(format!("/v2/domains/{zone}/records"), body))
                .await
            {
                Ok(v) => {
                    return normalize_record(
                        zone,
                        v.get("domain_record")
                            .ok_or_else(|| decode("answer without domain_record"))?,
                    )
                    .map(|rec| (rec, false))
                }
                Err(e) if e.retryable => last_err = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last_err.unwrap_or_else(|| decode("record create did not converge")))
    }

    pub async fn update_record(
        &self,
        zone: &str,
        id: u64,
        r: &Record,
    ) -> Result<LiveRecord, ProviderError> {
        let body = record_body(r);
        let v = self
            .http
            .json(Request::new(Method::PUT, format!("/v2/domains/{zone}/records/{id}")).json(body))
            .await?;
        normalize_record(
            zone,
            v.get("domain_record")
                .ok_or_else(|| decode("answer without domain_record"))?,
        )
    }

    pub async fn delete_record(&self, zone: &str, id: u64) -> Result<(), ProviderError> {
        ok_if_gone(
            self.http
                .send(Request::new(
                    Method::DELETE,
                    format!("/v2/domains/{zone}/records/{id}"),
                ))
                .await
                .map(|_| ()),
        )
    }
}
