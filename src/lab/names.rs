//! Socket names: finding a socket by the name the learner gave it, turning
//! a name into an address, and picking fresh names.

use std::net::SocketAddr;

use super::addr::AddrSpec;
use super::endpoint::Endpoint;
use super::{Entry, Lab, LabSocket, Slot};

impl Lab {
    /// Names of open sockets, in creation order, then running services
    /// (for completion).
    pub fn names(&self) -> Vec<String> {
        let sockets = self.entries.iter().filter(|e| matches!(e.slot, Slot::Open(_))).map(|e| e.name.clone());
        sockets
            .chain(self.services.iter().map(|s| s.name.clone()))
            .chain(self.servers.iter().map(|s| s.name.clone()))
            .collect()
    }

    pub(super) fn open(&self, name: &str) -> Result<&LabSocket, String> {
        if self.server(name).is_some() {
            return Err(format!(
                "'{name}' is a server process started with serve: connect to it (tcp connect {name} as cli), or procs {name}, close {name}"
            ));
        }
        if let Some(s) = self.service(name) {
            return Err(format!(
                "'{name}' is a {} that netlab runs in a background thread: send datagrams to it (sendto SOCK {name} …); close {name} stops it",
                s.what.label()
            ));
        }
        match self.entries.iter().find(|e| e.name == name) {
            Some(Entry { slot: Slot::Open(s), .. }) => Ok(s),
            Some(_) => Err(format!("'{name}' is closed: open a new socket (sockets shows what is left)")),
            None => Err(self.unknown(name)),
        }
    }

    pub(super) fn unknown(&self, name: &str) -> String {
        let names = self.names();
        if names.is_empty() {
            return format!("no socket named '{name}': there are no sockets yet — try: tcp listen as srv");
        }
        format!("no socket named '{name}': open ones are {}", names.join(", "))
    }

    /// The local address of an internet socket, open or closed.
    pub fn local_addr(&self, name: &str) -> Option<SocketAddr> {
        if let Some(s) = self.service(name) {
            return Some(s.local);
        }
        if let Some(s) = self.server(name) {
            return Some(s.local());
        }
        self.local_endpoint(name)?.inet()
    }

    /// The local address of a socket of either family, open or closed.
    pub(super) fn local_endpoint(&self, name: &str) -> Option<&Endpoint> {
        self.entries.iter().find(|e| e.name == name).map(|e| match &e.slot {
            Slot::Open(s) => &s.local,
            Slot::Closed { local, .. } => local,
        })
    }

    pub(super) fn resolve(&self, spec: &AddrSpec) -> Result<SocketAddr, String> {
        let not_inet = |what: String| {
            format!("{what} is a unix-domain address: tcp and udp want 127.0.0.1:PORT or a tcp/udp socket's name")
        };
        match spec {
            AddrSpec::Addr(a) => Ok(*a),
            AddrSpec::Name(n) if self.service(n).is_some() || self.server(n).is_some() => {
                self.local_addr(n).ok_or_else(|| self.unknown(n))
            }
            AddrSpec::Name(n) => match self.local_endpoint(n) {
                Some(Endpoint::Inet(a)) => Ok(*a),
                Some(Endpoint::Unix(_)) => Err(not_inet(format!("'{n}'"))),
                None => Err(self.unknown(n)),
            },
            AddrSpec::Unix(u) => Err(not_inet(u.to_string())),
        }
    }

    /// A fresh name: the one asked for, or `base`, `base2`, `base3`…
    pub(super) fn claim_name(&self, asked: Option<&str>, base: &str) -> Result<String, String> {
        let taken = |n: &str| {
            self.entries.iter().any(|e| e.name == n && matches!(e.slot, Slot::Open(_)))
                || self.service(n).is_some()
                || self.server(n).is_some()
        };
        if let Some(name) = asked {
            if taken(name) {
                return Err(format!("the name '{name}' is taken: close {name} first or pick another name"));
            }
            return Ok(name.to_string());
        }
        let exists =
            |n: &str| self.entries.iter().any(|e| e.name == n) || self.service(n).is_some() || self.server(n).is_some();
        (1..)
            .map(|i| if i == 1 { base.to_string() } else { format!("{base}{i}") })
            .find(|n| !exists(n))
            .ok_or_else(|| "no free socket name".to_string())
    }
}
