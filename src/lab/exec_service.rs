//! Background services in the playground: `relay udp …` and `udp serve
//! time`. Each runs in its own thread (see `service`); here the lab starts
//! them, stops them on `close`, lists them in `sockets`, and turns their
//! reports into events.

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use socket2::{Protocol, Type};

use super::addr::{self, AddrSpec, LOOPBACK_ANY_PORT};
use super::endpoint::Endpoint;
use super::service::faults::{Fate, Faults};
use super::service::{Report, Service, What};
use super::{Entry, Kind, Lab, Outcome, Slot};
use crate::event::{CallResult, Event, SocketRow};
use crate::wire::kernel::KernelEntry;

/// A service with its name.
pub struct NamedService {
    pub name: String,
    pub service: Service,
}

impl Lab {
    pub(super) fn relay(
        &mut self,
        from: &AddrSpec,
        to: &AddrSpec,
        faults: Faults,
        name: Option<&str>,
    ) -> Result<Outcome, String> {
        let from = self.resolve(from)?;
        let to = addr::loopback_for(self.resolve(to)?);
        if !addr::is_loopback(to) {
            return Err(format!("{to} is not a loopback address: the relay only forwards to 127.0.0.0/8 or ::1"));
        }
        if to.port() == 0 {
            return Err("the relay needs a destination with a port: a socket name (e.g. srv) or 127.0.0.1:PORT".into());
        }
        let name = self.claim_name(name, "relay")?;
        let whom = self.describe(to);
        let detail = |local: SocketAddr| {
            format!("relaying {local} → {whom} in a background thread ({}); close {name} stops it", faults.describe())
        };
        self.start_service(&name, from, What::Relay { to, faults }, "relay", detail)
    }

    pub(super) fn udp_serve_time(&mut self, addr: Option<&AddrSpec>, name: Option<&str>) -> Result<Outcome, String> {
        let addr = addr.map_or(Ok(LOOPBACK_ANY_PORT), |a| self.resolve(a))?;
        let name = self.claim_name(name, "time")?;
        let detail = |local: SocketAddr| {
            format!(
                "a time server on {local} in a background thread: send it a strftime format (empty = {}); close {name} stops it",
                crate::proto::time::DEFAULT_FORMAT
            )
        };
        self.start_service(&name, addr, What::TimeServer, "serve time", detail)
    }

    fn start_service(
        &mut self,
        name: &str,
        addr: SocketAddr,
        what: What,
        call: &str,
        detail: impl FnOnce(SocketAddr) -> String,
    ) -> Result<Outcome, String> {
        // A background thread answers whatever reaches it, so it listens on
        // loopback only: a wildcard would let other machines talk to it.
        if !addr::is_loopback(addr) {
            return Err(format!(
                "{} is not loopback: netlab's background services bind 127.0.0.1 or ::1 only (e.g. 127.0.0.1:0)",
                addr.ip()
            ));
        }
        let sock = match self.new_socket(name, addr, Type::DGRAM, Protocol::UDP) {
            Ok(s) => s,
            Err(failed) => return Ok(*failed),
        };
        let local = match self.bind(name, &sock, addr) {
            Ok(local) => local,
            Err(failed) => return Ok(*failed),
        };
        if let What::Relay { to, .. } = what
            && addr::loopback_for(local) == to
        {
            return Err(format!("{name} would relay to itself: give it another socket as the destination"));
        }
        let detail = detail(local);
        let service = match Service::start(name, what, UdpSocket::from(sock), self.reporter.clone()) {
            Ok(s) => s,
            Err(e) => return Ok(self.failed(name, "pthread_create()", &e)),
        };
        self.entries.retain(|e| e.name != name);
        self.services.push(NamedService { name: name.to_string(), service });
        let result = CallResult::ok(detail);
        self.call(name, call, result.clone());
        Ok(Outcome::of(name, result))
    }

    pub(super) fn service(&self, name: &str) -> Option<&Service> {
        self.services.iter().find(|s| s.name == name).map(|s| &s.service)
    }

    /// The relay's decision log: the fate of each datagram it received on
    /// its way to the server, in arrival order.
    pub fn relay_fates(&self, name: &str) -> Option<Vec<Fate>> {
        self.service(name).filter(|s| matches!(s.what, What::Relay { .. })).map(Service::fates)
    }

    /// After a sendto to one of our services: wait (briefly) until its
    /// thread has taken the datagram and reported it, so its report shows
    /// right after the send — and the next command's datagram arrives after
    /// this one, by construction. Returns what to add to the sendto's detail.
    pub(super) fn await_service(&self, target: SocketAddr, seen_before: Option<u64>) -> Option<String> {
        let before = seen_before?;
        let s = self.services.iter().find(|s| addr::loopback_for(s.service.local) == target)?;
        let took = super::cancel::wait_until(Duration::from_secs(1), || (s.service.seen() > before).then_some(()));
        Some(match took {
            Ok(()) => format!(", taken by {} ({})", s.name, s.service.what.label()),
            Err(_) => format!(" — {} has not picked it up yet", s.name),
        })
    }

    /// How many datagrams the service bound to `target` has taken so far.
    pub(super) fn service_seen(&self, target: SocketAddr) -> Option<u64> {
        self.services.iter().find(|s| addr::loopback_for(s.service.local) == target).map(|s| s.service.seen())
    }

    /// Emit every report the service threads made since the last drain.
    pub(super) fn drain_reports(&mut self) {
        while let Ok(report) = self.reports.try_recv() {
            let event = match report {
                Report::Relay { relay, n, from, to, data, action } => {
                    let (from, to, len) = (self.describe(from), self.describe(to), data.len());
                    Event::Relay { relay, n, from, to, len, data, action }
                }
                Report::Served { server, from, request, reply } => {
                    let who = self.describe(from);
                    let req = crate::render::hexdump::quote_text(&request);
                    let detail = format!("{} bytes from {who}: {req}", request.len());
                    self.call(&server, "recvfrom(65536)", CallResult::ok(detail));
                    let detail = format!("replied {}", crate::render::hexdump::quote_text(&reply));
                    Event::Call {
                        sock: server,
                        call: format!("sendto({who}, {})", reply.len()),
                        result: CallResult::ok(detail),
                    }
                }
                Report::Trouble { service, text } => Event::notice(format!("{service}: {text}")),
            };
            self.emit(event);
        }
    }

    /// Stop the service `name` and keep its address known, like a closed socket.
    pub(super) fn close_service(&mut self, name: &str) -> Option<Outcome> {
        let i = self.services.iter().position(|s| s.name == name)?;
        let NamedService { name, mut service } = self.services.remove(i);
        service.stop();
        self.drain_reports();
        let detail = match service.what {
            What::Relay { .. } => {
                let fates = service.fates();
                let count = |f| fates.iter().filter(|&&x| x == f).count();
                format!(
                    "relay stopped (thread joined): {} datagrams toward the server — {} forwarded, {} dropped, {} duplicated, {} held back",
                    fates.len(),
                    count(Fate::Forward),
                    count(Fate::Drop),
                    count(Fate::Duplicate),
                    count(Fate::Hold)
                )
            }
            What::TimeServer => format!("time server stopped (thread joined) after {} requests", service.seen()),
        };
        let local = service.local;
        drop(service);
        self.entries.push(Entry {
            name: name.clone(),
            slot: Slot::Closed { kind: Kind::Udp, local: Endpoint::Inet(local), peer: None },
        });
        let result = CallResult::ok(detail);
        self.call(&name, "close()", result.clone());
        Some(Outcome::of(&name, result))
    }

    /// Stop every service (a demo's, when it ends), reporting what is left.
    pub(super) fn stop_services(&mut self) {
        for s in &self.services {
            s.service.signal_stop();
        }
        for s in &mut self.services {
            s.service.stop();
        }
        self.drain_reports();
        self.services.clear();
    }

    pub(super) fn service_rows(&self, udp: Option<&[KernelEntry]>) -> Vec<SocketRow> {
        self.services
            .iter()
            .map(|NamedService { name, service }| {
                let k = udp.zip(service.inode).and_then(|(t, inode)| crate::wire::kernel::find_by_inode(t, inode));
                let peer = match service.what {
                    What::Relay { to, .. } => to.to_string(),
                    What::TimeServer => "-".into(),
                };
                SocketRow {
                    name: name.clone(),
                    kind: service.what.label().into(),
                    local: service.local.to_string(),
                    peer,
                    state: if udp.is_some() { "RUNNING".into() } else { "?".into() },
                    recv_q: k.map(|k| k.rx_queue.into()),
                    send_q: k.map(|k| k.tx_queue.into()),
                }
            })
            .collect()
    }
}
