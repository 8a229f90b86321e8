//! The iterative model: accept one client, serve it to the end, then the
//! next. Simple, and a slow client makes everyone else wait in the listen
//! queue — the lesson this model exists to show.

use std::net::TcpListener;

use super::{Log, Proto, conn, handler, next_client};

/// Serve until shutdown; returns how many connections were accepted.
pub fn serve(listener: &TcpListener, proto: Proto, log: &Log) -> usize {
    let mut served = 0;
    while let Some((stream, peer)) = next_client(listener, log) {
        served += 1;
        let mut handler = handler::for_proto(proto);
        conn::serve_client(stream, peer, &format!("conn#{served}"), handler.as_mut(), log);
    }
    served
}
