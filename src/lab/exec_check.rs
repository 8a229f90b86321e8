//! `check PROTO SERVER`: run `netlab check`'s suite from the playground,
//! against a server started with `serve`, a listener's address, or a
//! program netlab starts itself. The results are the check's own events,
//! shown among the learner's commands.

use super::command::CheckSpec;
use super::command_check::check_args;
use super::{Lab, Outcome};
use crate::event::{CallResult, Event};

impl Lab {
    pub(super) fn check(&mut self, spec: &CheckSpec) -> Result<Outcome, String> {
        let mut args = check_args(&spec.args)?;
        if args.list {
            crate::check::list(&args, &mut *self.sink);
            return Ok(Outcome::default());
        }
        // A name from `serve … as srv` (or a playground listener) stands
        // for its address.
        let named = args.addr.as_deref().and_then(|name| {
            let served = self.servers.iter().find(|s| s.name == name).map(|s| s.local());
            served.or_else(|| self.local_of(name))
        });
        match (named, args.addr.as_deref()) {
            (Some(addr), _) => args.addr = Some(addr.to_string()),
            (None, Some(name)) if name.chars().all(|c| c.is_ascii_alphabetic() || c == '_') => {
                return Err(format!(
                    "check: no server or listener named {name}: start one with `serve PROTO as {name}`, or give \
                     an address such as 127.0.0.1:5000"
                ));
            }
            _ => {}
        }
        self.drain_servers();
        let summary = crate::check::run(&args, &mut *self.sink).map_err(|e| format!("check: {e}"))?;
        // A served server logs every connection of the suite: hundreds of
        // lines that would bury the results. They are kept for `wait … log`.
        let hidden = self.drain_servers_quietly();
        if hidden > 0 {
            self.emit(Event::notice(format!("(the server logged {hidden} lines during the check; not shown)")));
        }
        let result = if summary.failed + summary.not_run == 0 {
            CallResult::ok(format!("{} passed", summary.passed))
        } else {
            CallResult::Failed { why: format!("failed: {}", summary.failed_tests.join(", ")) }
        };
        Ok(Outcome { result: Some(result), value: Some(summary.failed_tests.join(", ")), ..Outcome::default() })
    }

    /// The address a playground listener or UDP socket is bound to.
    fn local_of(&self, name: &str) -> Option<std::net::SocketAddr> {
        match super::find_open(&self.entries, name).map(|s| (&s.kind, &s.local)) {
            Some((super::Kind::Listener | super::Kind::Udp, super::Endpoint::Inet(addr))) => Some(*addr),
            _ => None,
        }
    }
}
