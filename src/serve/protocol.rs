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
    /// file: the served directory; a fresh one is removed when the last clone goes.
    file_root: Option<Arc<FileRoot>>,
}

impl Protocol {
    /// Check the settings this protocol needs, and that the model can run it.
    pub fn new(config: &Config) -> Result<Self, String> {
        let proto = config.proto;
        let mut file_root = None;
        match proto {
            Proto::Echo | Proto::Upper => {}
            Proto::File => file_root = Some(Arc::new(FileRoot::open(config.root.as_deref())?)),
            other => return Err(format!("{}: not built yet", other.name())),
        }
        if config.is_udp() && proto != Proto::Upper && proto != Proto::Time {
            return Err(format!("{} is a TCP protocol; --udp works with upper and time", proto.name()));
        }
        Ok(Protocol { proto, config: Arc::new(config.clone()), file_root })
    }

    /// What the server should announce when it starts, beyond its address.
    pub fn notes(&self) -> Vec<String> {
        let mut notes = Vec::new();
        if let Some(root) = &self.file_root {
            let fate = if root.is_temporary() { "a fresh private directory, removed on exit" } else { "--root" };
            notes.push(format!("serving files in {} ({fate})", root.path().display()));
        }
        notes
    }

    fn order(&self) -> LengthOrder {
        if self.config.native_endian { LengthOrder::LittleEndian } else { LengthOrder::BigEndian }
    }

    pub fn proto(&self) -> Proto {
        self.proto
    }

    /// A fresh handler for one connection.
    pub fn handler(&self, ctx: Ctx) -> Box<dyn Handler> {
        match (self.proto, &self.file_root) {
            (Proto::Echo, _) => Box::new(super::echo::Echo),
            (Proto::Upper, _) => Box::new(super::upper::Upper),
            (Proto::File, Some(root)) => Box::new(super::file::FileServer::new(root.clone(), self.order(), ctx)),
            // Refused by `new` until they are built (and file always has its root).
            (Proto::Time | Proto::Framed | Proto::Cmd | Proto::Auth | Proto::File | Proto::Chat, _) => {
                Box::new(super::echo::Echo)
            }
        }
    }
}
