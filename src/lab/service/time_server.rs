//! The UDP time server: every datagram is a strftime format, answered
//! with one datagram (see `proto::time`). An iterative server is all UDP
//! needs here: one recvfrom, one sendto, no connection to keep.

use super::{Ctx, Report};

pub(super) fn run(ctx: &Ctx) {
    let mut buf = vec![0u8; 65536];
    while !ctx.stopped() {
        let Some((len, from)) = ctx.next(&mut buf) else { continue };
        if !crate::lab::addr::is_loopback(from) {
            ctx.trouble(format!("ignored a datagram from {from}: netlab only answers this machine"));
            continue;
        }
        let request = buf[..len].to_vec();
        let reply = crate::proto::time::reply(&request);
        ctx.report(Report::Served { server: ctx.name.clone(), from, request, reply: reply.clone() });
        ctx.send(&reply, from);
        ctx.counted();
    }
}
