//! From a [`Config`] to handlers: one `Protocol` per server, shared by
//! every connection (and every thread or event loop), making one fresh
//! [`Handler`] per connection.

use std::sync::Arc;

use super::config::{Config, Proto};
use super::file_root::FileRoot;
use super::handler::{Ctx, Handler};
use crate::proto::json_header::LengthOrder;

/// Everything the handlers of one server share: its settings, and state
/// that outlives a connection (chat's room, file's root).
#[derive(Clone)]
pub struct Protocol {
    proto: Proto,
    config: Arc<Config>,
    shared: Shared,
}

/// What one protocol's connections share, checked once by `new`.
#[derive(Clone)]
enum Shared {
    Nothing,
    /// auth's key, digest and timeout.
    Auth(super::auth::AuthSettings),
    /// file: the served directory; a fresh one is removed when the last clone goes.
    File(Arc<FileRoot>),
}

impl Protocol {
    /// Check the settings this protocol needs, and that the model can run it.
    pub fn new(config: &Config) -> Result<Self, String> {
        let proto = config.proto;
        if config.is_udp() && proto != Proto::Upper && proto != Proto::Time {
            return Err(format!("{} is a TCP protocol; --udp works with upper and time", proto.name()));
        }
        let shared = match proto {
            Proto::Echo | Proto::Upper | Proto::Time | Proto::Framed | Proto::Cmd => Shared::Nothing,
            Proto::Auth => Shared::Auth(super::auth::AuthSettings::from_config(config)?),
            Proto::File => Shared::File(Arc::new(FileRoot::open(config.root.as_deref())?)),
            other => return Err(format!("{}: not built yet", other.name())),
        };
        Ok(Protocol { proto, config: Arc::new(config.clone()), shared })
    }

    /// What the server should announce when it starts, beyond its address.
    pub fn notes(&self) -> Vec<String> {
        match &self.shared {
            Shared::File(root) => {
                let fate = if root.is_temporary() { "a fresh private directory, removed on exit" } else { "--root" };
                vec![format!("serving files in {} ({fate})", root.path().display())]
            }
            _ => Vec::new(),
        }
    }

    fn order(&self) -> LengthOrder {
        if self.config.native_endian { LengthOrder::LittleEndian } else { LengthOrder::BigEndian }
    }

    pub fn proto(&self) -> Proto {
        self.proto
    }

    /// A fresh handler for one connection.
    pub fn handler(&self, ctx: Ctx) -> Box<dyn Handler> {
        match (self.proto, &self.shared) {
            (Proto::Auth, Shared::Auth(settings)) => Box::new(super::auth::Auth::new(ctx, settings.clone())),
            (Proto::File, Shared::File(root)) => {
                Box::new(super::file::FileServer::new(root.clone(), self.order(), ctx))
            }
            (Proto::Upper, _) => Box::new(super::upper::Upper),
            (Proto::Framed, _) => Box::new(super::framed::Framed::new(ctx, self.order())),
            (Proto::Cmd, _) => Box::new(super::cmd::Cmd::new(ctx, self.order())),
            // Time is served by the UDP loop, never per connection; the
            // rest are refused by `new` until they are built.
            (Proto::Echo | Proto::Time | Proto::Auth | Proto::File | Proto::Chat, _) => Box::new(super::echo::Echo),
        }
    }
}
