//! Pagination, one helper per provider style. Every page must carry its list: a missing or
//! mistyped list is an error, never an empty result (an empty read must not look like
//! "nothing exists").

use super::error::{Provider, ProviderError};
use super::http::{HttpClient, Request};
use serde_json::Value;

/// Safety stop for runaway pagination (a provider looping its `next` link).
const MAX_PAGES: usize = 10_000;

fn list_ref<'a>(
    provider: Provider,
    page: &'a Value,
    key: &str,
) -> Result<&'a Vec<Value>, ProviderError> {
    let list = if key.is_empty() {
        Some(page)
    } else {
        page.get(key)
    };
    list.and_then(Value::as_array).ok_or_else(|| {
        ProviderError::new(provider, "decode", format!("page without a `{key}` list"))
            .retryable(true)
    })
}

fn list_of(provider: Provider, page: &Value, key: &str) -> Result<Vec<Value>, ProviderError> {
    list_ref(provider, page, key).cloned()
}

/// Pages of a DigitalOcean list fetched at once after the first.
const DO_CONCURRENT_PAGES: usize = 4;

/// DigitalOcean: `page`/`per_page` (200 max). The first page's `meta.total` tells how many
/// pages there are: the rest are fetched concurrently (at most 4 at a time, in order).
/// Without a total, `links.pages.next` is followed until absent.
pub async fn digitalocean(
    client: &HttpClient,
    path: &str,
    key: &str,
    query: &[(&str, String)],
) -> Result<Vec<Value>, ProviderError> {
    digitalocean_map(client, path, key, query, |v| Ok(Some(v.clone()))).await
}

/// [`digitalocean`], mapping each item as its page arrives and keeping only what `map`
/// returns: a page's raw JSON is dropped before the next is read, so a list of thousands
/// of objects is never held as raw JSON all at once.
pub async fn digitalocean_map<T>(
    client: &HttpClient,
    path: &str,
    key: &str,
    query: &[(&str, String)],
    map: impl Fn(&Value) -> Result<Option<T>, ProviderError>,
) -> Result<Vec<T>, ProviderError> {
    const PER_PAGE: u64 = 200;
    let page_req = |n: u64| {
        let mut req = Request::get(path)
            .query("per_page", PER_PAGE)
            .query("page", n);
        for (k, v) in query {
            req = req.query(k, v);
        }
        req
    };
    let mut out = Vec::new();
    let take = |page: &Value, out: &mut Vec<T>| -> Result<(), ProviderError> {
        for item in list_ref(Provider::Digitalocean, page, key)? {
            if let Some(t) = map(item)? {
                out.push(t);
            }
        }
        Ok(())
    };
    let first = client.json(page_req(1)).await?;
    take(&first, &mut out)?;
    let Some(mut next) = first
        .pointer("/links/pages/next")
        .and_then(Value::as_str)
        .map(str::to_string)
    else {
        return Ok(out);
    };
    if let Some(total) = first.pointer("/meta/total").and_then(Value::as_u64) {
        drop(first);
        let pages = total.div_ceil(PER_PAGE);
        if pages as usize > MAX_PAGES {
            return Err(ProviderError::new(
                Provider::Digitalocean,
                "pagination",
                "too many pages",
            ));
        }
        use futures::StreamExt;
        let mut rest = std::pin::pin!(futures::stream::iter(2..=pages)
            .map(|n| client.json(page_req(n)))
            .buffered(DO_CONCURRENT_PAGES));
        while let Some(page) = rest.next().await {
            take(&page?, &mut out)?;
        }
        return Ok(out);
    }
    for _ in 0..MAX_PAGES {
        let page = client.json(Request::get(&next)).await?;
        take(&page, &mut out)?;
        match page.pointer("/links/pages/next").and_then(Value::as_str) {
            Some(n) => next = n.to_string(),
            None => return Ok(out),
        }
    }
    Err(ProviderError::new(
        Provider::Digitalocean,
        "pagination",
        "too many pages",
    ))
}

/// Vercel: `limit`, then `until=<pagination.next>` until `next` is null.
pub async fn vercel(
    client: &HttpClient,
    path: &str,
    key: &str,
    query: &[(&str, String)],
) -> Result<Vec<Value>, ProviderError> {
    let mut out = Vec::new();
    let mut until: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let mut req = Request::get(path).query("limit", 100);
        for (k, v) in query {
            req = req.query(k, v);
        }
        if let Some(u) = &until {
            req = req.query("until", u);
        }
        let page = client.json(req).await?;
        out.extend(list_of(Provider::Vercel, &page, key)?);
        match page.pointer("/pagination/next") {
            Some(Value::Number(n)) => until = Some(n.to_string()),
            Some(Value::String(s)) if !s.is_empty() => until = Some(s.clone()),
            _ => return Ok(out),
        }
    }
    Err(ProviderError::new(
        Provider::Vercel,
        "pagination",
        "too many pages",
    ))
}

/// Plane: `per_page` (≤ 100) and `cursor`, while `next_page_results` is true.
pub async fn plane(
    client: &HttpClient,
    path: &str,
    query: &[(&str, String)],
) -> Result<Vec<Value>, ProviderError> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let mut req = Request::get(path).query("per_page", 100);
        for (k, v) in query {
            req = req.query(k, v);
        }
        if let Some(c) = &cursor {
            req = req.query("cursor", c);
        }
        let page = client.json(req).await?;
        out.extend(list_of(Provider::Plane, &page, "results")?);
        let more = page
            .get("next_page_results")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        match page.get("next_cursor").and_then(Value::as_str) {
            Some(next) if more => cursor = Some(next.to_string()),
            _ => return Ok(out),
        }
    }
    Err(ProviderError::new(
        Provider::Plane,
        "pagination",
        "too many pages",
    ))
}

/// Supabase: most lists are one plain array; the organization project list pages with
/// `offset`/`limit` (≤ 100) and `pagination.count`.
pub async fn supabase(
    client: &HttpClient,
    path: &str,
    key: &str,
) -> Result<Vec<Value>, ProviderError> {
    if key.is_empty() {
        let page = client.json(Request::get(path)).await?;
        return list_of(Provider::Supabase, &page, "");
    }
    let mut out = Vec::new();
    for _ in 0..MAX_PAGES {
        let page = client
            .json(
                Request::get(path)
                    .query("limit", 100)
                    .query("offset", out.len()),
            )
            .await?;
        let items = list_of(Provider::Supabase, &page, key)?;
        let total = page
            .pointer("/pagination/count")
            .and_then(Value::as_u64)
            .unwrap_or(0) as usize;
        let empty = items.is_empty();
        out.extend(items);
        if empty || out.len() >= total {
            return Ok(out);
        }
    }
    Err(ProviderError::new(
        Provider::Supabase,
        "pagination",
        "too many pages",
    ))
}
