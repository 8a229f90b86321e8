//! The `sockets` table, aligned like `ss`.

use colored::Colorize;

use crate::event::SocketRow;

pub fn render(rows: &[SocketRow]) -> Vec<String> {
    if rows.is_empty() {
        return vec!["no sockets yet — try: tcp listen as srv".dimmed().to_string()];
    }
    let header = ["NAME", "KIND", "LOCAL", "PEER", "STATE", "RECV-Q", "SEND-Q"];
    let cells: Vec<[String; 7]> = rows
        .iter()
        .map(|r| {
            let q = |v: Option<u64>| v.map_or("-".to_string(), |n| n.to_string());
            [r.name.clone(), r.kind.clone(), r.local.clone(), r.peer.clone(), r.state.clone(), q(r.recv_q), q(r.send_q)]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cols: [&str; 7]| {
        let padded: Vec<String> = cols.iter().zip(widths).map(|(c, w)| format!("{c:<w$}")).collect();
        padded.join("  ").trim_end().to_string()
    };
    let mut out = vec![line(header).bold().to_string()];
    for row in &cells {
        let text = line([&row[0], &row[1], &row[2], &row[3], &row[4], &row[5], &row[6]]);
        // Closed-but-still-in-the-kernel rows are what lessons point at:
        // set them apart without making them faint.
        out.push(if row[1].contains("closed") { text.magenta().to_string() } else { text });
    }
    out
}
