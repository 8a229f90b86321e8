//! `cargo bench --bench serve [-- --quick]`: `netlab bench` on the
//! optimised binary cargo just built (the servers are that binary too,
//! through NETLAB_BIN). The numbers are printed, never asserted.

use std::process::Command;

fn main() {
    let bin = env!("CARGO_BIN_EXE_netlab");
    let quick = std::env::args().any(|a| a == "--quick");
    let mut cmd = Command::new(bin);
    cmd.arg("bench").env("NETLAB_BIN", bin);
    if quick {
        cmd.arg("--quick");
    }
    match cmd.status() {
        Ok(s) if s.success() => {}
        Ok(s) => eprintln!("netlab bench: {s}"),
        Err(e) => eprintln!("cannot run {bin}: {e}"),
    }
}
