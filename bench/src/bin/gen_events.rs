//! Writes the replay benchmark's generated province (every event kind, valid by construction,
//! deterministic) as a `govrec import` file of bare events, one JSON object a line: the input
//! of `scripts/command-bench.sh`, which times the whole commands an admin runs.
//!
//! `cargo run --release -p govrec-bench --bin gen-events -- EVENTS FILE`

use std::io::Write;

#[path = "replay_bench/generator.rs"]
mod generator;

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let events: u64 = args
        .next()
        .and_then(|text| text.parse().ok())
        .expect("usage: gen-events EVENTS FILE");
    let path = args.next().expect("usage: gen-events EVENTS FILE");
    let mut out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&path)?);
    let mut written = 0u64;
    let mut failure = None;
    let province = generator::generate(events, 0, &mut |batch| {
        for new in batch {
            let json = govrec_store::new_event_to_json(&new);
            if let Err(error) = writeln!(out, "{json}") {
                failure.get_or_insert(error);
            }
            written += 1;
        }
    });
    if let Some(error) = failure {
        return Err(error);
    }
    out.flush()?;
    println!(
        "{written} events, {} counties, {} areas, in {path}",
        province.counties.len(),
        province.areas
    );
    Ok(())
}
