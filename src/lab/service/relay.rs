//! The seeded lossy relay: a UDP socket in the middle that damages the
//! datagrams going to the server, the way a bad network would.
//!
//! Datagrams from anyone but the server are requests: number n (in arrival
//! order) gets the fate `faults.fate(n)` — forwarded, dropped, duplicated,
//! or held back. A held datagram goes out right after the next request, so
//! the two arrive swapped. The hold is counted in datagrams, not time, so a
//! learner who takes a minute between two commands sees the same swap as a
//! test that takes a millisecond; a datagram held last waits for the next
//! one, or goes out when the relay is closed — late, never lost. Datagrams
//! from the server are replies and go back, untouched, to the client that
//! sent the latest request. Damage on the way in is enough to show
//! everything a client must cope with: to the client a lost request and a
//! lost reply look the same — no answer before its timeout.

use std::net::SocketAddr;
use std::sync::Mutex;

use super::faults::{Fate, Faults};
use super::{Ctx, Report};
use crate::event::{BYTES_PREVIEW, RelayAction};

struct Held {
    n: u64,
    data: Vec<u8>,
    from: SocketAddr,
}

pub(super) fn run(ctx: &Ctx, to: SocketAddr, faults: Faults, log: &Mutex<Vec<Fate>>) {
    let mut buf = vec![0u8; 65536];
    let mut client: Option<SocketAddr> = None;
    let mut n = 0;
    let mut held: Option<Held> = None;
    let report = |n, from, to, data: &[u8], action| {
        let data = data[..data.len().min(BYTES_PREVIEW)].to_vec();
        ctx.report(Report::Relay { relay: ctx.name.clone(), n, from, to, data, action });
    };
    let release = |h: Held, action| {
        report(Some(h.n), h.from, to, &h.data, action);
        ctx.send(&h.data, to);
    };
    while !ctx.stopped() {
        let Some((len, from)) = ctx.next(&mut buf) else { continue };
        let data = &buf[..len];
        if !crate::lab::addr::is_loopback(from) {
            ctx.trouble(format!("ignored a datagram from {from}: netlab only relays on this machine"));
            continue;
        }
        if from == to {
            match client {
                Some(c) => {
                    report(None, from, c, data, RelayAction::PassedBack);
                    ctx.send(data, c);
                }
                None => ctx.trouble(format!("a datagram from {to} arrived before any client: nobody to pass it to")),
            }
            continue;
        }
        client = Some(from);
        n += 1;
        let fate = faults.fate(n);
        if let Ok(mut log) = log.lock() {
            log.push(fate);
        }
        match fate {
            Fate::Forward => report(Some(n), from, to, data, RelayAction::Forwarded),
            Fate::Drop => report(Some(n), from, to, data, RelayAction::Dropped),
            Fate::Duplicate => report(Some(n), from, to, data, RelayAction::Duplicated),
            Fate::Hold => report(Some(n), from, to, data, RelayAction::HeldBack),
        }
        match fate {
            Fate::Forward => ctx.send(data, to),
            Fate::Drop => {}
            Fate::Duplicate => {
                ctx.send(data, to);
                ctx.send(data, to);
            }
            Fate::Hold => {}
        }
        // Whatever this datagram's fate, it was "the next one" for a
        // datagram held before it.
        if let Some(h) = held.take() {
            release(h, RelayAction::Released);
        }
        if fate == Fate::Hold {
            held = Some(Held { n, data: data.to_vec(), from });
        }
        ctx.counted();
    }
    // Stopping is not a network fault: a datagram still held goes out.
    if let Some(h) = held.take() {
        release(h, RelayAction::ReleasedOnClose);
    }
}
