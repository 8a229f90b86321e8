//! TIME_WAIT and SO_REUSEADDR, shown from the kernel's own table.
//!
//! Deterministic without waiting out the 60 s: the demo waits for the
//! kernel to report TIME_WAIT, then binds the same port twice — once
//! without SO_REUSEADDR (EADDRINUSE), once with it (success).

use super::must;
use crate::lab::Lab;

pub fn run(lab: &mut Lab) -> Result<(), String> {
    lab.heading("a connection, closed by the server first");
    lab.say("netlab's `tcp listen` sets SO_REUSEADDR, like Rust's std and most servers.");
    must(lab, "tcp listen as srv")?;
    must(lab, "tcp connect srv as cli")?;
    must(lab, "accept srv as conn")?;
    let port = lab.local_addr("srv").map_or(0, |a| a.port());
    lab.say("The server's side closes first (主动关闭方, the active closer): it sends FIN.");
    must(lab, "close conn")?;
    let eof = must(lab, "recv cli")?;
    lab.verdict(eof.bytes.as_deref() == Some(&[][..]), "the client reads 0 bytes: EOF, the peer closed");
    must(lab, "close cli")?;
    let waited = lab.run_shown("wait conn state TIME_WAIT");
    lab.verdict(
        waited.is_ok(),
        "the side that closed FIRST (the server's conn) is in TIME_WAIT — its program closed it, the kernel keeps it",
    );
    must(lab, "sockets")?;
    lab.say("Now stop the server: close the listener too. Only the TIME_WAIT entry holds the port.");
    must(lab, "close srv")?;

    lab.heading(format!("restart the server on port {port}"));
    let plain = lab.run_shown("tcp listen srv --no-reuseaddr as again");
    lab.verdict(
        plain.errno() == Some("EADDRINUSE"),
        format!(
            "without SO_REUSEADDR, bind to port {port} fails with {}",
            plain.errno().unwrap_or("no error (unexpected)")
        ),
    );
    let reuse = lab.run_shown("tcp listen srv as again");
    lab.verdict(reuse.is_ok(), format!("with SO_REUSEADDR the new listener binds port {port}, TIME_WAIT or not"));
    lab.say(
        "It works because BOTH sockets allow reuse: the new listener, and the TIME_WAIT connection,\n\
         which kept the option of the listener it came from. So a server sets SO_REUSEADDR every\n\
         time it starts, before bind(). Sysctl folklore is no fix: tcp_tw_recycle was removed in\n\
         Linux 4.12, tcp_fin_timeout governs FIN_WAIT_2 (not TIME_WAIT, fixed at 60 s), and\n\
         tcp_tw_reuse only affects outgoing connections.",
    );
    Ok(())
}
