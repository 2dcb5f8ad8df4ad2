//! The `govrec` command: parses arguments and calls into the library crates.

mod audit_client;
mod backup;

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
    /// Run the HTTP server on the embedded store in DIR.
    Serve {
        /// The data directory (created if missing).
        #[arg(long, default_value = "./govrec-data")]
        data: PathBuf,
        /// The address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: std::net::SocketAddr,
        /// Write logs as JSON lines instead of text.
        #[arg(long)]
        log_json: bool,
        /// Load the demo data set first when the store is empty, create an admin token and
        /// print it with the URL.
        #[arg(long)]
        demo: bool,
        /// Connections open at once (kept below the open-file limit; default 16384). When
        /// every one is taken, a new connection closes the oldest that has sent no request.
        #[arg(long)]
        connections_max: Option<usize>,
        /// Mark the web page's session cookie Secure (HTTPS only), for a deployment behind a
        /// TLS proxy.
        #[arg(long)]
        secure_cookies: bool,
    },
    /// Load the demo data set (four Datong counties, a year of records matching the figures
    /// of the source article) into an empty store in DIR.
    Demo {
        /// The data directory (created if missing; must hold no records).
        #[arg(long, default_value = "./govrec-data")]
        data: PathBuf,
    },
    /// Rebuild every read model from the log, with a progress bar, and save them as the
    /// snapshot the server starts from.
    Replay {
        /// The data directory.
        #[arg(long, default_value = "./govrec-data")]
        data: PathBuf,
    },
    /// The auditor's client: checkpoints, proofs, offline checks of an export.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Manage bearer tokens (stored only as hashes in DIR/tokens.json).
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
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
    /// Bring a backup file up to a running server's log, over HTTP: append the records after
    /// the file's last one, each checked (seq, link, hashes, redaction markers), and rewrite
    /// the earlier lines that new Redacted records erased. The file is an export (restore it
    /// with `import`). Exit 1 when the server's log does not extend the file.
    Backup {
        #[command(flatten)]
        server: ServerArgs,
        /// The backup file (created if missing).
        #[arg(long)]
        out: PathBuf,
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

#[derive(Subcommand)]
enum AuditCommand {
    /// Print the verifier key of the store's checkpoints (name+keyid+base64key).
    Key {
        /// The data directory.
        #[arg(long, default_value = "./govrec-data")]
        data: PathBuf,
    },
    /// Fetch the server's checkpoint, verify its signature and its consistency with the last
    /// trusted checkpoint in the state file, then trust it. Exit 1 on a bad signature, a fork
    /// or a rollback.
    Checkpoint {
        #[command(flatten)]
        server: ServerArgs,
        /// The auditor's state: the pinned key and the last trusted checkpoint.
        #[arg(long, default_value = "./govrec-audit.json")]
        state: PathBuf,
        /// The verifier key to pin (default: the one in the state file; with neither, the
        /// server's key is trusted on first use).
        #[arg(long)]
        key: Option<String>,
    },
    /// Fetch record SEQ and its inclusion proof against the server's latest checkpoint;
    /// recompute the record's hashes and verify the proof and the checkpoint's signature.
    Prove {
        seq: u64,
        #[command(flatten)]
        server: ServerArgs,
        /// The verifier key (default: the one pinned in the state file).
        #[arg(long)]
        key: Option<String>,
        /// The state file of `audit checkpoint`, for its pinned key.
        #[arg(long, default_value = "./govrec-audit.json")]
        state: PathBuf,
    },
    /// Offline: verify an export's chain and that its Merkle root at the checkpoint's size is
    /// the root of the signed checkpoint.
    VerifyExport {
        /// The export (JSON Lines, one RECORD a line).
        file: PathBuf,
        /// The signed checkpoint (a file holding the note).
        #[arg(long)]
        checkpoint: PathBuf,
        /// The verifier key.
        #[arg(long)]
        key: String,
    },
}

#[derive(clap::Args)]
struct ServerArgs {
    /// The server's base URL, e.g. http://127.0.0.1:8080.
    #[arg(long)]
    url: String,
    /// An auditor (or admin) token. Or set GOVREC_TOKEN instead, which keeps it out of the
    /// process list and the shell history.
    #[arg(long, env = "GOVREC_TOKEN", hide_env_values = true)]
    token: String,
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create a token and print it once; only its hash is stored.
    Create {
        /// admin (everything), recorder (append and read the log), office (read models),
        /// auditor (whole log, history, verification).
        #[arg(long, value_enum)]
        role: govrec_server::auth::Role,
        /// `*` or a comma-separated list of county ids.
        #[arg(long, default_value = "*")]
        scope: String,
        /// The principal's name, recorded as the actor of what it appends (default: the role
        /// and a short random suffix).
        #[arg(long)]
        name: Option<String>,
        /// The data directory.
        #[arg(long, default_value = "./govrec-data")]
        data: PathBuf,
    },
}

/// What a command found, mapped to the exit codes of api.md.
enum Outcome {
    Success,
    CheckFailed,
}

govrec_alloc::use_jemalloc!();

fn main() -> ExitCode {
    // Everything this process writes holds personal data or guards it: private to its user.
    govrec_server::file_modes::private_umask();
    // sled panics on some damaged files; the store catches those panics and reports the
    // damage as an error, so their backtraces would only bury that message.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let in_sled = info
            .location()
            .is_some_and(|location| location.file().contains("/sled-"));
        if !in_sled {
            default_hook(info);
        }
    }));
    let cli = Cli::parse();
    match try_main(cli) {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        Ok(Outcome::CheckFailed) => ExitCode::from(1),
        Err(error) if error.downcast_ref::<audit_client::AuditFailure>().is_some() => {
            eprintln!("govrec: FAILED: {}", describe(&error));
            ExitCode::from(1)
        }
        Err(error) if error.downcast_ref::<UsageError>().is_some() => {
            eprintln!("govrec: {}", describe(&error));
            ExitCode::from(2)
        }
        Err(error) => {
            eprintln!("govrec: {}", describe(&error));
            ExitCode::from(1)
        }
    }
}

/// An error and its causes, `: `-separated like `{:#}`, without repeating a cause its
/// wrapper already quotes (`StoreError::Io` says "I/O error: {its source}").
fn describe(error: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in error.chain() {
        let part = cause.to_string();
        if text.ends_with(&part) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&part);
    }
    text
}

fn try_main(cli: Cli) -> anyhow::Result<Outcome> {
    match cli.command {
        Command::Serve {
            data,
            addr,
            log_json,
            demo,
            connections_max,
            secure_cookies,
        } => serve(data, addr, log_json, demo, connections_max, secure_cookies),
        Command::Demo { data } => demo(data),
        Command::Replay { data } => replay(data),
        Command::Token {
            command:
                TokenCommand::Create {
                    role,
                    scope,
                    name,
                    data,
                },
        } => token_create(data, role, &scope, name),
        Command::Audit { command } => audit(command),
        Command::Verify { data, from, to } => verify(data, from, to),
        Command::Export { data, out } => export(data, out),
        Command::Backup { server, out } => {
            let client = audit_client::Server::new(&server.url, &server.token);
            let started = std::time::Instant::now();
            let report = backup::backup(&client, &out)?;
            if report.torn_bytes > 0 {
                eprintln!(
                    "cut {} bytes of a last line an interrupted backup left unfinished",
                    report.torn_bytes
                );
            }
            let head = match report.head {
                Some((seq, hash)) => format!("head seq {seq} hash {hash}"),
                None => "the log is empty".to_owned(),
            };
            println!(
                "ok: {} records appended, {} earlier lines redacted; {head} ({:.2} s)",
                report.appended,
                report.redacted,
                started.elapsed().as_secs_f64()
            );
            Ok(Outcome::Success)
        }
        Command::Import { file, data, actor } => import(file, data, &actor),
    }
}

/// Bad usage found after parsing (exit 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct UsageError(String);

fn audit(command: AuditCommand) -> anyhow::Result<Outcome> {
    let message = match command {
        AuditCommand::Key { data } => {
            if !data.join(govrec_store::SIGNING_KEY_FILE).exists() {
                return Err(UsageError(format!("no checkpoint key in {}", data.display())).into());
            }
            govrec_store::CheckpointSigner::load_or_create(&data, None)?.verifier_key()
        }
        AuditCommand::Checkpoint { server, state, key } => audit_client::checkpoint(
            &audit_client::Server::new(&server.url, &server.token),
            &state,
            key.as_deref(),
        )?,
        AuditCommand::Prove {
            seq,
            server,
            key,
            state,
        } => {
            let key = match key {
                Some(key) => key,
                None => match std::fs::read_to_string(&state) {
                    Ok(text) => {
                        serde_json::from_str::<audit_client::TrustedState>(&text)
                            .with_context(|| format!("{} is not a govrec audit state file", state.display()))?
                            .verifier_key
                    }
                    Err(_) => {
                        return Err(UsageError(format!(
                            "no --key and no state file {}: pin a key first",
                            state.display()
                        ))
                        .into())
                    }
                },
            };
            audit_client::prove(&audit_client::Server::new(&server.url, &server.token), seq, &key)?
        }
        AuditCommand::VerifyExport {
            file,
            checkpoint,
            key,
        } => {
            let note = std::fs::read_to_string(&checkpoint)
                .with_context(|| format!("reading {}", checkpoint.display()))?;
            audit_client::verify_export(&file, &note, &key)?
        }
    };
    println!("{message}");
    Ok(Outcome::Success)
}

fn open_existing_log(data: &std::path::Path) -> anyhow::Result<Log> {
    anyhow::ensure!(data.join("db").exists(), "no govrec store in {}", data.display());
    Log::open(data, &LogConfig::default()).with_context(|| format!("opening {}", data.display()))
}

fn verify(data: PathBuf, from: u64, to: Option<u64>) -> anyhow::Result<Outcome> {
    anyhow::ensure!(data.join("db").exists(), "no govrec store in {}", data.display());
    let started = std::time::Instant::now();
    let verified = Log::open(&data, &LogConfig::default()).and_then(|log| {
        let verification = verify_log(&log, from, to)?;
        if let (Verification::Intact { head, .. }, None) = (&verification, to) {
            // Fewer records than were known durable, or another log than this directory held
            // (an empty range past the end says nothing of the log's length).
            if let Some(records) = head.as_ref().map(|(seq, _)| seq + 1).or((from == 0).then_some(0)) {
                govrec_store::check_known_durable(&data, &log, records)?;
            }
        }
        Ok(verification)
    });
    let verification = match verified {
        Ok(verification) => verification,
        Err(govrec_store::StoreError::Damaged { reason }) => {
            println!("DAMAGED: the log's files: {reason}. Restore from a backup (docs/storage.md)");
            return Ok(Outcome::CheckFailed);
        }
        Err(error) => return Err(anyhow::Error::new(error).context(format!("verifying {}", data.display()))),
    };
    match verification {
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

/// Makes the data directory private (0700, files 0600), warning when it was not.
fn make_private(data: &std::path::Path) -> anyhow::Result<()> {
    let changed = govrec_server::file_modes::tighten(data)
        .with_context(|| format!("making {} private", data.display()))?;
    if !changed.is_empty() {
        eprintln!(
            "govrec: warning: {} paths of {} were readable by other users; made them private (0700/0600)",
            changed.len(),
            data.display()
        );
    }
    Ok(())
}

/// Opens the store in a data directory made private first.
fn open_private(data: &std::path::Path) -> anyhow::Result<Store> {
    make_private(data)?;
    Store::open(data, StoreConfig::default()).with_context(|| format!("opening {}", data.display()))
}

fn import(file: PathBuf, data: PathBuf, actor: &str) -> anyhow::Result<Outcome> {
    let input = std::fs::File::open(&file).with_context(|| format!("opening {}", file.display()))?;
    let store = open_private(&data)?;
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

fn token_create(
    data: PathBuf,
    role: govrec_server::auth::Role,
    scope: &str,
    name: Option<String>,
) -> anyhow::Result<Outcome> {
    let scope = govrec_server::auth::Scope::parse(scope).map_err(anyhow::Error::msg)?;
    let name = name.unwrap_or_else(|| {
        format!(
            "{}-{}",
            role.as_str(),
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        )
    });
    let token = govrec_server::auth::create_token(&data, role, scope, &name)?;
    eprintln!(
        "created token {name:?} ({}); it is shown only now:",
        role.as_str()
    );
    println!("{token}");
    Ok(Outcome::Success)
}

fn demo(data: PathBuf) -> anyhow::Result<Outcome> {
    let store = open_private(&data)?;
    let loaded = govrec_demo::load_demo(&store, govrec_demo::DEMO_ACTOR);
    store.close()?;
    println!(
        "{}",
        loaded.with_context(|| format!("loading the demo into {}", data.display()))?
    );
    Ok(Outcome::Success)
}

/// `serve --demo`: loads the demo into an empty store and creates an admin token (named
/// `demo-admin`, or with a suffix when that name is taken). Returns the token.
fn prepare_demo(store: &Store, data: &std::path::Path) -> anyhow::Result<String> {
    if store.head().next_seq == 0 {
        eprintln!("loading the demo data set into {} ...", data.display());
        let summary = govrec_demo::load_demo(store, govrec_demo::DEMO_ACTOR)?;
        eprintln!("{summary}");
    } else {
        eprintln!(
            "{} already holds {} records; not loading the demo",
            data.display(),
            store.head().next_seq
        );
    }
    let role = govrec_server::auth::Role::Admin;
    let create =
        |name: &str| govrec_server::auth::create_token(data, role, govrec_server::auth::Scope::All, name);
    let token = match create("demo-admin") {
        Ok(token) => token,
        Err(govrec_server::auth::TokenError::InvalidName(_)) => {
            let suffix = &uuid::Uuid::new_v4().simple().to_string()[..8];
            create(&format!("demo-admin-{suffix}"))?
        }
        Err(error) => return Err(error.into()),
    };
    Ok(token)
}

fn serve(
    data: PathBuf,
    addr: std::net::SocketAddr,
    log_json: bool,
    demo: bool,
    connections_max: Option<usize>,
    secure_cookies: bool,
) -> anyhow::Result<Outcome> {
    init_logging(log_json);
    make_private(&data)?;
    let started = std::time::Instant::now();
    let (store, opened) = Store::open_with_report(&data, StoreConfig::default())
        .with_context(|| format!("opening {}", data.display()))?;
    tracing::info!(
        records = opened.records,
        from_saved_state = opened.saved_records,
        tail_checked = opened.tail_checked,
        seconds = started.elapsed().as_secs_f64(),
        "store opened"
    );
    let demo_token = if demo {
        Some(prepare_demo(&store, &data)?)
    } else {
        None
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let store = std::sync::Arc::new(store);
        let mut limits = govrec_server::Limits::default();
        if let Some(connections_max) = connections_max {
            limits.connections_max = connections_max.max(1);
        }
        limits.secure_cookies = secure_cookies;
        let state = govrec_server::state_for(store.clone(), &data, limits)?;
        let shutting_down = state.shutting_down.clone();
        let follower = govrec_server::spawn_model_follower(state.clone());
        govrec_server::spawn_as_of_warmup(state.clone());
        // The page's audit state: verify the chain once in the background now, so the first
        // page load only checks what was appended since.
        let watcher = state.clone();
        tokio::task::spawn_blocking(move || {
            if let Err(error) = watcher.chain_watch.check(&watcher.store) {
                tracing::error!(%error, "verifying the chain for the audit state failed");
            }
        });
        let models_state = state.clone();
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("listening on {addr}"))?;
        let addr = listener.local_addr().unwrap_or(addr);
        tracing::info!(%addr, data = %data.display(), head = ?store.head().last_seq(), "govrec serving");
        eprintln!("govrec serving on http://{addr} (data {})", data.display());
        if let Some(token) = demo_token {
            println!("demo: http://{addr}/");
            println!("admin token (shown only now): {token}");
            println!("try: curl -H 'Authorization: Bearer {token}' http://{addr}/v1/coverage");
        }
        let signal = async move {
            shutdown_signal().await;
            tracing::info!("shutdown requested: ending live feeds, finishing requests");
            shutting_down.send_replace(true);
        };
        let fd_limit = govrec_server::listen::raise_fd_limit();
        let limits = &state.limits;
        let connections = govrec_server::listen::ConnectionLimits {
            connections_max: govrec_server::listen::connections_for(fd_limit, limits.connections_max),
            header_read_timeout: std::time::Duration::from_millis(limits.header_read_timeout_ms),
        };
        tracing::info!(
            fd_limit,
            connections_max = connections.connections_max,
            "connection limits"
        );
        govrec_server::listen::serve(listener, govrec_server::router(state), connections, signal).await;
        tracing::info!("shutting down: finishing in-flight commits");
        store.shutdown()?;
        let _ = follower.await;
        if let Err(error) = models_state.models.save_snapshot() {
            tracing::error!(%error, "could not save the read models' snapshot; the next start replays more");
        }
        Ok(Outcome::Success)
    })
}

fn init_logging(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("GOVREC_LOG").unwrap_or_else(|_| "info".into());
    // Logs go to stderr, so stdout carries only what a command prints for the user (a token).
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// Resolves on SIGTERM or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

fn replay(data: PathBuf) -> anyhow::Result<Outcome> {
    anyhow::ensure!(data.join("db").exists(), "no govrec store in {}", data.display());
    let store = open_private(&data)?;
    let total = store.head().next_seq;
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} records  {per_sec}  eta {eta}")
            .expect("a valid template"),
    );
    let report = govrec_projections::replay_into_snapshots(
        &store,
        &data.join(govrec_server::MODELS_DIR),
        &govrec_projections::HostConfig::default(),
        |progress| bar.set_position(progress.records_done),
    )?;
    bar.finish_and_clear();
    println!("{report}");
    store.close()?;
    Ok(Outcome::Success)
}
