//! SSOT loading figures: a realistic large tree and the hostile inputs the budgets refuse.
//! Run: `cargo bench --bench ssot`

use odooops::ssot::{self, Limits};
use std::path::Path;
use std::time::{Duration, Instant};

fn time<F: FnMut() -> usize>(label: &str, runs: usize, mut f: F) {
    let mut samples: Vec<Duration> = Vec::with_capacity(runs);
    let mut last = 0;
    for _ in 0..runs {
        let t = Instant::now();
        last = f();
        samples.push(t.elapsed());
    }
    samples.sort();
    let p50 = samples[runs / 2];
    let max = samples[runs - 1];
    println!(
        "{label:<48} p50 {:>9.2} ms   max {:>9.2} ms   ({last} diagnostics/resources)",
        ms(p50),
        ms(max)
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    // `cargo bench` passes --bench; under `cargo test --all-targets` each case runs once.
    let full = std::env::args().any(|a| a == "--bench");
    let runs = |n: usize| if full { n } else { 1 };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let limits = Limits::default();
    time("validate examples/agency (305 resources)", runs(20), || {
        ssot::load(&root.join("examples/agency"), &limits)
            .entries
            .len()
    });
    time("validate ssot/ (14 resources)", runs(50), || {
        ssot::load(&root.join("ssot"), &limits).entries.len()
    });

    let dir = tempfile::tempdir().expect("tempdir");
    let mut bomb = String::from("a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..10u8 {
        let (name, prev) = ((b'a' + i) as char, (b'a' + i - 1) as char);
        bomb.push_str(&format!(
            "{name}: &{name} [{}]\n",
            vec![format!("*{prev}"); 10].join(", ")
        ));
    }
    while bomb.len() < 1024 * 1024 {
        bomb.push_str("# padding padding padding padding padding padding padding padding\n");
    }
    bomb.push_str("z: [*j, *j, *j, *j, *j, *j, *j, *j, *j, *j]\n");
    let bomb_dir = dir.path().join("bomb");
    std::fs::create_dir_all(&bomb_dir).expect("mkdir");
    std::fs::write(bomb_dir.join("bomb.yaml"), bomb).expect("write");
    time("refuse a 1 MB billion-laughs file", runs(10), || {
        ssot::load(&bomb_dir, &limits).diagnostics.len()
    });

    let deep_dir = dir.path().join("deep");
    std::fs::create_dir_all(&deep_dir).expect("mkdir");
    std::fs::write(
        deep_dir.join("deep.yaml"),
        format!("{}x\n", "- ".repeat(10_000)),
    )
    .expect("write");
    time("refuse a 10,000-level nested file", runs(10), || {
        ssot::load(&deep_dir, &limits).diagnostics.len()
    });
}
