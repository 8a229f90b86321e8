//! From a [`Config`] to handlers: one `Protocol` per server, shared by
//! every connection (and every thread or event loop), making one fresh
//! [`Handler`] per connection.

use std::sync::Arc;

use super::config::{Config, Proto};
use super::handler::{Ctx, Handler};

/// Everything the handlers of one server share: its settings, and state
/// that outlives a connection (chat's room, file's root).
#[derive(Clone)]
pub struct Protocol {
    proto: Proto,
    #[allow(dead_code)] // read by the handlers that need settings beyond the proto
    config: Arc<Config>,
}

impl Protocol {
    /// Check the settings this protocol needs, and that the model can run it.
    pub fn new(config: &Config) -> Result<Self, String> {
        let proto = config.proto;
        match proto {
            Proto::Echo | Proto::Upper | Proto::Framed | Proto::Cmd => {}
            other => return Err(format!("{}: not built yet", other.name())),
        }
        if config.is_udp() && proto != Proto::Upper && proto != Proto::Time {
            return Err(format!("{} is a TCP protocol; --udp works with upper and time", proto.name()));
        }
        Ok(Protocol { proto, config: Arc::new(config.clone()) })
    }

    pub fn proto(&self) -> Proto {
        self.proto
    }

    /// A fresh handler for one connection.
    pub fn handler(&self, ctx: Ctx) -> Box<dyn Handler> {
        let order = super::framed::order(self.config.native_endian);
        match self.proto {
            Proto::Echo => Box::new(super::echo::Echo),
            Proto::Upper => Box::new(super::upper::Upper),
            Proto::Framed => Box::new(super::framed::Framed::new(ctx, order)),
            Proto::Cmd => Box::new(super::cmd::Cmd::new(ctx, order)),
            // Refused by `new` until they are built.
            Proto::Time | Proto::Auth | Proto::File | Proto::Chat => Box::new(super::echo::Echo),
        }
    }
}
