//! UDP gives no delivery guarantee: through netlab's seeded lossy relay,
//! requests to a time server are dropped, duplicated and reordered. A naive
//! client loses answers and sees them out of order; a client with request
//! ids, a timeout and retries gets every answer exactly once.
//!
//! Deterministic by construction: the relay's fates are a pure function of
//! the seed and each datagram's arrival number, each `sendto` waits until
//! the relay has taken its datagram (so arrival order is send order), and
//! every verdict is checked against that decision log.

use super::must;
use crate::lab::Lab;
use crate::lab::service::faults::{Fate, Faults, Rate};

/// Requests each client sends.
const REQUESTS: u64 = 8;
const LOSS: &str = "25";
const DUP: &str = "15";
const REORDER: &str = "15";
/// The retrying client's wait for an answer before it sends again: long
/// enough that on a loaded machine a slow reply is never mistaken for a
/// lost one (which would send one more datagram and shift the relay's
/// fates), short enough to keep the demo quick.
const RETRY_MS: u64 = 200;
const MAX_TRIES: u32 = 6;

pub fn run(lab: &mut Lab) -> Result<(), String> {
    let seed = lab.seed();
    lab.heading("(a) a time server behind a lossy relay");
    must(lab, "udp serve time as srv")?;
    must(
        lab,
        &format!("relay udp 127.0.0.1:0 srv --loss {LOSS} --dup {DUP} --reorder {REORDER} --seed {seed} as net"),
    )?;
    must(lab, "udp bind as cli")?;
    lab.say(
        "cli talks to net, net passes datagrams on to srv and srv's replies back. Each request is a\n\
         strftime format with an id in it: \"#3 %T\" comes back as \"#3 16:40:01\". Text outside %\n\
         conversions is copied, so the id rides along for free.",
    );
    naive(lab, seed)?;
    retrying(lab)
}

/// (b) send everything, then read whatever comes back.
fn naive(lab: &mut Lab, seed: u64) -> Result<(), String> {
    lab.heading("(b) a naive client: send all, read what comes");
    for k in 1..=REQUESTS {
        must(lab, &format!("sendto cli net \"#{k} %T\""))?;
    }
    let fates = lab.relay_fates("net").ok_or("the relay is gone")?;
    let count = |f| fates.iter().filter(|&&x| x == f).count();
    let (dropped, duplicated, held) = (count(Fate::Drop), count(Fate::Duplicate), count(Fate::Hold));
    let log: Vec<String> = fates.iter().enumerate().map(|(i, f)| format!("#{} {}", i + 1, fate_word(*f))).collect();
    lab.say(format!("The relay's decision log: {}", log.join(", ")));
    let rate = |r: &str| Rate::parse(r).unwrap_or_default();
    let faults = Faults { loss: rate(LOSS), dup: rate(DUP), reorder: rate(REORDER), seed };
    let recomputed: Vec<Fate> = (1..=REQUESTS).map(|n| faults.fate(n)).collect();
    lab.verdict(
        fates == recomputed,
        format!("the log is a pure function of seed {seed} and arrival order: recomputed, it is the same"),
    );
    let tally =
        format!("seed {seed}: {dropped} dropped, {duplicated} duplicated, {held} held back of {REQUESTS} requests");
    if dropped + duplicated + held > 0 {
        lab.verdict(true, tally);
    } else {
        // A property of the seed, not of UDP: some seeds are lucky.
        lab.say(format!("{tally} — a lucky seed; try another with --seed N to see damage"));
    }

    // Every copy the relay let through is answered: one per forwarded or
    // held request, two per duplicated one — except a request held last,
    // which waits for a next one that the naive client never sends.
    let held_last = usize::from(fates.last() == Some(&Fate::Hold));
    let answers = fates.len() - dropped + duplicated - held_last;
    let mut ids = Vec::new();
    for _ in 0..answers {
        let got = must(lab, "recvfrom cli")?;
        ids.push(reply_id(got.bytes.as_deref().unwrap_or_default()).ok_or("a reply without an id")?);
    }
    let more = lab.run_shown("recvfrom cli --timeout 50");
    lab.verdict(more.errno() == Some("EAGAIN"), "then nothing more comes: no error, no EOF — just silence");
    let shown: Vec<String> = ids.iter().map(|id| format!("#{id}")).collect();
    lab.say(format!("The naive client got: {}", shown.join(" ")));
    let mut distinct = ids.clone();
    distinct.sort_unstable();
    distinct.dedup();
    let still_held = if held_last == 1 { " (the last one is still held at the relay)" } else { "" };
    lab.verdict(
        distinct.len() == REQUESTS as usize - dropped - held_last,
        format!(
            "it asked {REQUESTS} times and got answers to {}{still_held}: a dropped request is never answered, and nobody says so",
            distinct.len()
        ),
    );
    if duplicated > 0 {
        lab.verdict(ids.len() > distinct.len(), "a duplicated request was answered twice: the same id came back twice");
    }
    // A held request goes out right after the next one: the two swap
    // places, visibly so when that next one is not dropped.
    let overtaken = fates.windows(2).any(|w| w[0] == Fate::Hold && matches!(w[1], Fate::Forward | Fate::Duplicate));
    if overtaken {
        lab.verdict(
            ids.windows(2).any(|w| w[0] > w[1]),
            "a held-back request was overtaken: answers arrived out of order",
        );
    }
    Ok(())
}

/// (c) one request at a time: wait a bounded time, retry, match ids.
fn retrying(lab: &mut Lab) -> Result<(), String> {
    lab.heading("(c) a client that copes: ids, a timeout, retries");
    lab.say(format!(
        "For each id: send, wait up to {RETRY_MS} ms; no answer → send again (up to {MAX_TRIES} tries). An answer\n\
         with another id is a duplicate or a late one: ignore it and keep waiting."
    ));
    let before = lab.relay_fates("net").map_or(0, |f| f.len());
    let mut answered = Vec::new();
    let mut retries = 0;
    let mut stale = 0;
    for k in 1..=REQUESTS {
        let mut done = false;
        for attempt in 1..=MAX_TRIES {
            if attempt > 1 {
                retries += 1;
                lab.say(format!("no answer to #{k} in {RETRY_MS} ms: send it again (try {attempt})"));
            }
            must(lab, &format!("sendto cli net \"#{k} %T\""))?;
            loop {
                let got = lab.run_shown(&format!("recvfrom cli --timeout {RETRY_MS}"));
                if got.errno() == Some("EAGAIN") {
                    break;
                }
                let bytes = got.bytes.ok_or("recvfrom failed")?;
                match reply_id(&bytes) {
                    Some(id) if id == k => {
                        answered.push(k);
                        done = true;
                        break;
                    }
                    other => {
                        stale += 1;
                        let id = other.map_or("no id".to_string(), |id| format!("#{id}"));
                        lab.say(format!("{id} is not #{k}: a duplicate or late answer — ignored"));
                    }
                }
            }
            if done {
                break;
            }
        }
        if !done {
            lab.verdict(false, format!("#{k} got no answer in {MAX_TRIES} tries"));
        }
    }
    lab.verdict(
        answered == (1..=REQUESTS).collect::<Vec<_>>(),
        format!("every one of the {REQUESTS} requests was answered, in order, each exactly once"),
    );
    let fates = lab.relay_fates("net").ok_or("the relay is gone")?;
    let damaged = fates[before..].iter().filter(|f| matches!(f, Fate::Drop | Fate::Hold)).count();
    lab.verdict(
        damaged == 0 || retries > 0,
        format!(
            "the relay dropped or held {damaged} of its {} datagrams; {retries} retries and {stale} ignored strays made up for it",
            fates.len() - before
        ),
    );
    Ok(())
}

fn fate_word(f: Fate) -> &'static str {
    match f {
        Fate::Forward => "forwarded",
        Fate::Drop => "DROPPED",
        Fate::Duplicate => "DUPLICATED",
        Fate::Hold => "HELD",
    }
}

/// The id in a reply like `#3 16:40:01`.
fn reply_id(reply: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(reply).ok()?;
    text.strip_prefix('#')?.split(' ').next()?.parse().ok()
}
