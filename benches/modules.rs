//! Module graph figures: 3,000 generated addons (realistic manifests) in three addons paths.
//! Run: `cargo bench --bench modules`. Under `cargo test --all-targets` (no `--bench`
//! argument) every case runs once, as a smoke test.

use odooops::odoo::graph;
use odooops::odoo::manifest::Manifest;
use std::path::PathBuf;
use std::time::{Duration, Instant};

const ADDONS: usize = 3000;
const CORE: &[&str] = &[
    "base",
    "mail",
    "sale_management",
    "stock",
    "account",
    "web",
    "portal",
    "website_sale",
    "purchase",
    "mrp",
];

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
        "{label:<58} p50 {:>9.2} ms   max {:>9.2} ms   ({last})",
        p50.as_secs_f64() * 1000.0,
        max.as_secs_f64() * 1000.0
    );
}

/// SplitMix64, so every run generates the same tree.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn manifest(i: usize, rng: &mut Rng) -> String {
    let mut deps: Vec<String> = Vec::new();
    for _ in 0..1 + rng.below(3) {
        deps.push(format!("'{}'", CORE[rng.below(CORE.len())]));
    }
    if i > 0 {
        for _ in 0..rng.below(5) {
            deps.push(format!("\"addon_{:04}\"", rng.below(i)));
        }
    }
    format!(
        r#"# -*- coding: utf-8 -*-
# Copyright 2024 Example
{{
    'name': "Addon {i:04}",
    'summary': 'Generated addon number {i} '
               "for the module graph benchmark",
    'version': '17.0.1.{minor}.0',
    'category': 'Hidden',
    'author': 'Example, Odoo Community Association (OCA)',
    'license': '{license}',
    'depends': [{deps},],  # trailing comma
    'external_dependencies': {{'python': ['requests'], 'bin': []}},
    'data': [
        'security/ir.model.access.csv',
        'views/addon_{i:04}_views.xml',
    ],
    'assets': {{
        'web.assets_backend': [
            'addon_{i:04}/static/src/**/*',
            ('remove', 'web/static/src/legacy/x.scss'),
        ],
    }},
    'installable': True,
    'auto_install': False,
}}
"#,
        minor = rng.below(10),
        license = if rng.below(4) == 0 {
            "AGPL-3"
        } else {
            "LGPL-3"
        },
        deps = deps.join(", "),
    )
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let runs = |n: usize| if bench { n } else { 1 };
    let tmp = tempfile::tempdir().expect("tempdir");
    let paths: Vec<PathBuf> = (0..3)
        .map(|p| tmp.path().join(format!("path{p}")))
        .collect();
    let mut rng = Rng(17);
    let mut bytes = 0usize;
    let mut texts = Vec::with_capacity(ADDONS);
    for i in 0..ADDONS {
        let dir = paths[i % 3].join(format!("addon_{i:04}"));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let text = manifest(i, &mut rng);
        bytes += text.len();
        std::fs::write(dir.join("__manifest__.py"), &text).expect("write");
        texts.push(text);
    }
    println!(
        "{ADDONS} manifests, {:.1} KiB, in 3 addons paths",
        bytes as f64 / 1024.0
    );

    time("parse 3,000 manifests (in memory)", runs(10), || {
        texts
            .iter()
            .filter(|t| Manifest::parse(t, "bench").is_ok())
            .count()
    });
    time(
        "discover + parse 3,000 addons (from disk)",
        runs(10),
        || graph::discover(&paths).expect("discover").addons.len(),
    );
    let index = graph::discover(&paths).expect("discover");
    time(
        "deps of all 3,000 (closure, cycles, licenses)",
        runs(10),
        || {
            graph::deps(&index, &[], "17.0")
                .expect("deps")
                .licenses
                .len()
        },
    );
    let newest = vec![format!("addon_{:04}", ADDONS - 1)];
    time("deps of the newest addon (deep closure)", runs(50), || {
        graph::deps(&index, &newest, "17.0")
            .expect("deps")
            .depends
            .len()
    });
    time("end to end: discover + deps of all 3,000", runs(10), || {
        let idx = graph::discover(&paths).expect("discover");
        graph::deps(&idx, &[], "17.0").expect("deps").depends.len()
    });
}
