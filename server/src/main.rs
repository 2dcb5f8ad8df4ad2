//! The `govrec` command: parses arguments and calls into the library crates.

use std::io::{BufReader, BufWriter};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use govrec_store::{
    export_jsonl, import_jsonl, verify_log, Log, LogConfig, Store, StoreConfig, Verification,
};

/// govrec: the append-only, hash-chained record of party-building-led community governance.
#[derive(Parser)]
#[command(name = "govrec", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check the whole hash chain offline: every event_hash, hash and prev_hash link, and that
    /// seqs have no gap. Exit 0 when intact, 1 naming the first bad seq.
    Verify {
        /// The data directory.
        #[arg(long, default_value = "./govrec-data")]
        data: PathBuf,
        /// First seq to check (its link to the record before it is checked too).
        #[arg(long, default_value_t = 0)]
        from: u64,
        /// Last seq to check (default: the end of the log).
        #[arg(long)]
        to: Option<u64>,
    },
    /// Write the log as JSON Lines, one RECORD a line in seq order, verifiable with
    /// record-format.md alone.
    Export {
        /// The data directory.
        #[arg(long, default_value = "./govrec-data")]
        data: PathBuf,
        /// The output file (default: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Import a JSON Lines file: exported RECORDs are restored exactly (each checked against
    /// the chain before it is written); bare EVENTs are appended as new records through the
    /// same validation as POST /v1/events. Committed in chunks of 1,000 lines; on a rejected
    /// line, exit 1 naming it (the chunks before it stay stored).
    Import {
        /// The JSON Lines file.
        file: PathBuf,
        /// The data directory (created if missing).
        #[arg(long, default_value = "./govrec-data")]
        data: PathBuf,
        /// The actor recorded for bare events (exported records keep their own).
        #[arg(long, default_value = "govrec-import")]
        actor: String,
    },
}

/// What a command found, mapped to the exit codes of api.md.
enum Outcome {
    Success,
    CheckFailed,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match try_main(cli) {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        Ok(Outcome::CheckFailed) => ExitCode::from(1),
        Err(error) => {
            eprintln!("govrec: {error:#}");
            ExitCode::from(1)
        }
    }
}

fn try_main(cli: Cli) -> anyhow::Result<Outcome> {
    match cli.command {
        Command::Verify { data, from, to } => verify(data, from, to),
        Command::Export { data, out } => export(data, out),
        Command::Import { file, data, actor } => import(file, data, &actor),
    }
}

fn open_existing_log(data: &std::path::Path) -> anyhow::Result<Log> {
    anyhow::ensure!(data.join("db").exists(), "no govrec store in {}", data.display());
    Log::open(data, &LogConfig::default()).with_context(|| format!("opening {}", data.display()))
}

fn verify(data: PathBuf, from: u64, to: Option<u64>) -> anyhow::Result<Outcome> {
    let log = open_existing_log(&data)?;
    let started = std::time::Instant::now();
    match verify_log(&log, from, to)? {
        Verification::Intact { checked, head } => {
            let seconds = started.elapsed().as_secs_f64();
            match head {
                Some((seq, hash)) => {
                    println!("ok: {checked} records intact, head seq {seq} hash {hash} ({seconds:.2} s)")
                }
                None => println!("ok: no records in range"),
            }
            Ok(Outcome::Success)
        }
        Verification::Damaged {
            first_bad_seq,
            reason,
        } => {
            println!("DAMAGED: first bad seq {first_bad_seq}: {reason}");
            Ok(Outcome::CheckFailed)
        }
    }
}

fn export(data: PathBuf, out: Option<PathBuf>) -> anyhow::Result<Outcome> {
    let log = open_existing_log(&data)?;
    let count = match out {
        Some(path) => {
            let file =
                std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
            let mut writer = BufWriter::new(file);
            let count = export_jsonl(&log, None, &mut writer)?;
            writer
                .into_inner()
                .map_err(|error| error.into_error())?
                .sync_all()?;
            count
        }
        None => export_jsonl(&log, None, &mut BufWriter::new(std::io::stdout().lock()))?,
    };
    eprintln!("exported {count} records");
    Ok(Outcome::Success)
}

fn import(file: PathBuf, data: PathBuf, actor: &str) -> anyhow::Result<Outcome> {
    let input = std::fs::File::open(&file).with_context(|| format!("opening {}", file.display()))?;
    let store =
        Store::open(&data, StoreConfig::default()).with_context(|| format!("opening {}", data.display()))?;
    match import_jsonl(&store, BufReader::new(input), actor) {
        Ok(report) => {
            let last = report
                .head
                .last_seq()
                .map_or("none".to_owned(), |seq| seq.to_string());
            println!(
                "imported {} lines; head seq {last} hash {}",
                report.lines, report.head.hash
            );
            store.close()?;
            Ok(Outcome::Success)
        }
        Err(error) => {
            println!(
                "REJECTED: {error} ({} lines before it were stored)",
                error.stored_lines
            );
            store.close()?;
            Ok(Outcome::CheckFailed)
        }
    }
}
