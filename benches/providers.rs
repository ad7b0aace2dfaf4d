//! Provider layer figures: listing 5,000 droplets through the adapter from the simulator,
//! and the simulator's own throughput on loopback.
//! Run: `cargo bench --bench providers`

use odooops::provider::digitalocean::DigitalOcean;
use odooops::provider::http::{Auth, ClientConfig, HttpClient, Metrics, Request};
use odooops::provider::{Provider, SecretValue};
use odooops::sim::{self, faults::FaultConfig};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // `cargo bench` passes --bench; `cargo test --all-targets` runs this binary without it.
    if !std::env::args().any(|a| a == "--bench") {
        println!("providers benchmark: run it with `cargo bench --bench providers`");
        return;
    }
    let sim = sim::start("127.0.0.1:0", FaultConfig::default())
        .await
        .expect("sim");
    let metrics = Arc::new(Metrics::default());
    let mut cfg = ClientConfig::new(
        Provider::Digitalocean,
        &sim.provider_url(Provider::Digitalocean),
        Auth::Bearer(SecretValue::new("test-token-bench")),
    );
    cfg.rates = vec![]; // measure the adapter, not the client-side limiter
    let http = HttpClient::new(cfg, metrics.clone()).expect("client");
    for batch in 0..25 {
        let names: Vec<String> = (0..200).map(|i| format!("bench-{batch}-{i}")).collect();
        http.json(Request::post("/v2/droplets", json!({"names": names, "size": "s-1vcpu-1gb", "image": "ubuntu-24-04-x64", "region": "fra1", "tags": ["bench"]})))
            .await
            .expect("seed");
    }
    let dig = DigitalOcean::new(http);
    let mut samples = Vec::new();
    let mut requests = 0;
    for _ in 0..10 {
        let before = sim.state.request_count("GET /digitalocean/v2/droplets");
        let t = Instant::now();
        let all = dig.observe_droplets("bench").await.expect("observe");
        samples.push(t.elapsed());
        requests = sim.state.request_count("GET /digitalocean/v2/droplets") - before;
        assert_eq!(all.len(), 5000);
    }
    samples.sort();
    println!(
        "list 5,000 droplets through the adapter: {requests} requests (ceil(5000/200) = 25), p50 {:.1} ms, max {:.1} ms",
        ms(samples[5]),
        ms(samples[9])
    );

    // Simulator throughput: 32 concurrent loopback clients for 3 seconds, no client limiter.
    let url = format!("{}/v2/account", sim.provider_url(Provider::Digitalocean));
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(3);
    let t = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let (client, url) = (client.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            while Instant::now() < deadline {
                if let Ok(r) = client
                    .get(&url)
                    .bearer_auth("test-token-bench")
                    .send()
                    .await
                {
                    if r.status().is_success() && r.bytes().await.is_ok() {
                        n += 1;
                    }
                }
            }
            n
        }));
    }
    let mut total = 0;
    for task in tasks {
        total += task.await.unwrap_or(0);
    }
    println!("simulator throughput: {:.0} requests/s ({total} in {:.2} s, 32 concurrent loopback clients, load generator in the same process)", total as f64 / t.elapsed().as_secs_f64(), t.elapsed().as_secs_f64());
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
