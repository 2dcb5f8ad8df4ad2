//! The child of the crash test: appends under concurrency until it is killed, and records
//! every acknowledged append in a side file *after* the store acknowledged it.
//!
//! Usage: `crash-child DATA_DIR ACK_FILE ROUND`. Each line of ACK_FILE is `seq id hash`.

use std::io::Write;
use std::sync::{Arc, Mutex};

use govrec_core::event::AreaKind;
use govrec_store::{NewEvent, Store, StoreConfig};
use govrec_tests::{area, complaint, county_and_town, redaction, uuid_of};

const APPENDERS: u64 = 8;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, data, ack_path, round] = args.as_slice() else {
        eprintln!("usage: crash-child DATA_DIR ACK_FILE ROUND");
        std::process::exit(2);
    };
    let round: u64 = round.parse().expect("round is a number");
    let store = Arc::new(Store::open(data.as_ref(), StoreConfig::default()).expect("open store"));
    let acks = Arc::new(Mutex::new(
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(ack_path)
            .expect("open ack file"),
    ));
    let threads: Vec<_> = (0..APPENDERS)
        .map(|appender| {
            let store = store.clone();
            let acks = acks.clone();
            std::thread::spawn(move || {
                for n in 0u64.. {
                    // Unique ids per round, appender and iteration.
                    let key = (round << 40) | (appender << 32) | (n << 3);
                    let mut batch = county_and_town(uuid_of(key), uuid_of(key | 1), "压测");
                    // Half the appenders also file a complaint (personal fields, kept in
                    // personal.dat); one of them then redacts it in a separate commit.
                    if appender % 2 == 1 {
                        batch.push(NewEvent::new(area(
                            uuid_of(key | 2),
                            AreaKind::Community,
                            "社区",
                            Some(uuid_of(key | 1)),
                        )));
                        batch.push(NewEvent::new(area(
                            uuid_of(key | 3),
                            AreaKind::Compound,
                            "小区",
                            Some(uuid_of(key | 2)),
                        )));
                        let summary = format!("投诉摘要 {round}-{appender}-{n}");
                        batch.push(NewEvent::new(complaint(
                            uuid_of(key | 4),
                            uuid_of(key | 3),
                            &summary,
                            "居民甲",
                        )));
                    }
                    let appended = store.append("crash-test", batch).expect("append");
                    if appender == 1 {
                        let complaint_seq = appended.receipts.last().expect("receipts").seq;
                        let redacted = store
                            .append(
                                "admin",
                                vec![NewEvent::new(redaction(complaint_seq, &["summary"]))],
                            )
                            .expect("append redaction");
                        let mut lines = String::new();
                        for receipt in appended.receipts.iter().chain(&redacted.receipts) {
                            lines.push_str(&format!("{} {} {}\n", receipt.seq, receipt.id, receipt.hash));
                        }
                        acks.lock()
                            .expect("ack lock")
                            .write_all(lines.as_bytes())
                            .expect("write ack");
                        continue;
                    }
                    let mut lines = String::new();
                    for receipt in &appended.receipts {
                        lines.push_str(&format!("{} {} {}\n", receipt.seq, receipt.id, receipt.hash));
                    }
                    acks.lock()
                        .expect("ack lock")
                        .write_all(lines.as_bytes())
                        .expect("write ack");
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("appender");
    }
}
