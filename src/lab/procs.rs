//! What /proc says about a process and its children: the state letter
//! (R running, S sleeping, Z zombie…) and the thread count — how `procs`
//! shows fork's children and their zombies, and epoll's single thread.

use std::fs;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proc {
    pub pid: u32,
    pub ppid: u32,
    pub comm: String,
    pub state: char,
    pub threads: u32,
}

impl Proc {
    pub fn read(pid: u32) -> Option<Proc> {
        let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let mut proc = parse_stat(&stat)?;
        // A zombie's status still has a Threads line (1); a vanished process has none.
        proc.threads = fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|s| s.lines().find_map(|l| l.strip_prefix("Threads:").map(|n| n.trim().parse().ok()))?)
            .unwrap_or(1);
        Some(proc)
    }

    pub fn state_meaning(&self) -> &'static str {
        match self.state {
            'R' => "running",
            'S' => "sleeping (waiting for an event)",
            'D' => "in an uninterruptible wait",
            'Z' => "ZOMBIE: exited, not yet reaped by its parent's wait()",
            'T' | 't' => "stopped",
            'X' => "dead",
            _ => "other",
        }
    }
}

/// `/proc/PID/stat`: `pid (comm) state ppid …`; comm may hold spaces and parentheses.
fn parse_stat(stat: &str) -> Option<Proc> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let pid = stat[..open].trim().parse().ok()?;
    let comm = stat.get(open + 1..close)?.to_string();
    let mut rest = stat.get(close + 1..)?.split_whitespace();
    let state = rest.next()?.chars().next()?;
    let ppid = rest.next()?.parse().ok()?;
    Some(Proc { pid, ppid, comm, state, threads: 1 })
}

/// The direct children of `pid`, by pid.
pub fn children(pid: u32) -> Vec<Proc> {
    let Ok(dir) = fs::read_dir("/proc") else { return Vec::new() };
    let mut kids: Vec<Proc> = dir
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(Proc::read)
        .filter(|p| p.ppid == pid)
        .collect();
    kids.sort_by_key(|p| p.pid);
    kids
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_parse_even_with_odd_names() {
        let p = parse_stat("4242 (net lab (x)) Z 17 4242 4242 0 -1").unwrap();
        assert_eq!((p.pid, p.comm.as_str(), p.state, p.ppid), (4242, "net lab (x)", 'Z', 17));
        assert!(parse_stat("garbage").is_none());
    }

    #[test]
    fn this_process_is_read_and_a_child_is_found() {
        let me = Proc::read(std::process::id()).unwrap();
        assert!(me.threads >= 1);
        let mut child = std::process::Command::new("sleep").arg("5").spawn().unwrap();
        let found = children(std::process::id()).iter().any(|p| p.pid == child.id());
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(found);
    }
}
