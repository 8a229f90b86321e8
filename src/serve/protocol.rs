//! From a [`Config`] to handlers: one `Protocol` per server, shared by
//! every connection (and every thread or event loop), making one fresh
//! [`Handler`] per connection.

use std::sync::Arc;

use super::config::{Config, Model, Proto};
use super::handler::{Ctx, Handler};

/// Everything the handlers of one server share: its settings, and state
/// that outlives a connection (chat's room, file's root).
#[derive(Clone)]
pub struct Protocol {
    proto: Proto,
    /// auth's key, digest and timeout, checked once by `new`.
    auth: Option<super::auth::AuthSettings>,
    #[allow(dead_code)] // read by the handlers that need settings beyond the proto
    config: Arc<Config>,
}

impl Protocol {
    /// Check the settings this protocol needs, and that the model can run it.
    pub fn new(config: &Config) -> Result<Self, String> {
        let proto = config.proto;
        if proto == Proto::Chat && config.model == Model::Fork {
            return Err("chat needs one room shared by every client; with --model fork each client lives in its own process (try --model thread or --model epoll)".into());
        }
        match proto {
            Proto::Echo | Proto::Upper | Proto::Time | Proto::Auth => {}
            other => return Err(format!("{}: not built yet", other.name())),
        }
        if config.is_udp() && proto != Proto::Upper && proto != Proto::Time {
            return Err(format!("{} is a TCP protocol; --udp works with upper and time", proto.name()));
        }
        let auth = if proto == Proto::Auth { Some(super::auth::AuthSettings::from_config(config)?) } else { None };
        Ok(Protocol { proto, auth, config: Arc::new(config.clone()) })
    }

    pub fn proto(&self) -> Proto {
        self.proto
    }

    /// A fresh handler for one connection.
    pub fn handler(&self, ctx: Ctx) -> Box<dyn Handler> {
        match self.proto {
            Proto::Echo => Box::new(super::echo::Echo),
            Proto::Upper => Box::new(super::upper::Upper),
            Proto::Auth => super::auth::Auth::boxed(ctx, self.auth.as_ref()),
            // Time is served by the UDP loop, never per connection; the
            // rest are refused by `new` until they are built.
            Proto::Time | Proto::Framed | Proto::Cmd | Proto::File | Proto::Chat => Box::new(super::echo::Echo),
        }
    }
}
