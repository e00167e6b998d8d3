//! Render time of the embedded manifests (values resolution, tera, YAML parse-back, validation against
//! the Kubernetes types, ordering). Run: `cargo bench --bench render`. Prints median and p95.

#![allow(clippy::print_stdout, clippy::unwrap_used)] // a benchmark reports on stdout

use std::time::{Duration, Instant};

use meshctl::manifests::{self, Profile, RenderOptions, ValuesInput};

fn measure(label: &str, runs: usize, input: &ValuesInput, profile: Profile) {
    let options = RenderOptions::new(profile);
    for _ in 0..20 {
        manifests::build(input, &options).unwrap();
    }
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            let docs = manifests::build(input, &options).unwrap();
            let yaml = manifests::to_yaml_stream(&docs).unwrap();
            std::hint::black_box(yaml);
            start.elapsed()
        })
        .collect();
    times.sort();
    let median = times[runs / 2];
    let p95 = times[runs * 95 / 100];
    let docs = manifests::build(input, &options).unwrap().len();
    println!("{label:<48} {docs:>3} objects  median {median:>10.2?}  p95 {p95:>10.2?}");
}

fn main() {
    let runs = 300;
    measure(
        "mgmt profile, default values",
        runs,
        &ValuesInput::default(),
        Profile::Mgmt,
    );
    let all = ValuesInput {
        set: vec![
            "redis.enabled=true".into(),
            "prometheus.enabled=true".into(),
        ],
        ..Default::default()
    };
    measure(
        "single-cluster, redis + prometheus",
        runs,
        &all,
        Profile::SingleCluster,
    );
}
