//! A real S3-compatible server on loopback for artifact and backup storage tests: moto's
//! server mode (`moto_server`, from PyPI; `.ci/run` installs it). Without it a test prints a
//! note and returns — unless `CI=true`, where a missing server is a failure.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct S3 {
    pub endpoint: String,
    child: Child,
}

impl Drop for S3 {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl S3 {
    /// Start `moto_server` on a free loopback port with bucket `bucket` created.
    pub async fn start(test: &str, bucket: &str) -> Option<S3> {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let child = match Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
        {
            Ok(c) => c,
            Err(e) => {
                if std::env::var("CI").is_ok_and(|v| v == "true") {
                    panic!("{test}: moto_server is not installed and CI=true: S3 storage tests must run in CI ({e})");
                }
                eprintln!("note: {test} skipped: install moto's server (`pip install 'moto[server]'`) to run it");
                return None;
            }
        };
        let s3 = S3 {
            endpoint: format!("http://127.0.0.1:{port}"),
            child,
        };
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = client.put(format!("{}/{bucket}", s3.endpoint)).send().await {
                assert!(r.status().is_success(), "create bucket: {}", r.status());
                return Some(s3);
            }
            assert!(
                Instant::now() < deadline,
                "{test}: moto_server did not start"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The keys of the objects in `bucket` (one ListObjectsV2 page is enough for tests).
    pub async fn keys(&self, bucket: &str) -> Vec<String> {
        let text = reqwest::Client::new()
            .get(format!(
                "{}/{bucket}?list-type=2&max-keys=1000",
                self.endpoint
            ))
            .send()
            .await
            .expect("list")
            .text()
            .await
            .expect("body");
        text.split("<Key>")
            .skip(1)
            .filter_map(|s| s.split("</Key>").next())
            .map(str::to_string)
            .collect()
    }
}
