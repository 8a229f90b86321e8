//! The iterative model: accept one client, serve it to the end, then the
//! next. Simple, and a slow client makes everyone else wait in the listen
//! queue — the lesson this model exists to show.

use super::{Server, conn};

/// Serve until stopped; returns how many connections were accepted.
pub fn serve(server: &Server) -> usize {
    let mut served = 0;
    while let Some((stream, peer)) = server.next_client() {
        served += 1;
        let ctx = server.ctx(served, peer);
        let mut handler = server.protocol.handler(ctx.clone());
        conn::serve_client(stream, &ctx, handler.as_mut(), server.stop);
    }
    served
}
