//! From a [`Config`] to handlers: one `Protocol` per server, shared by
//! every connection (and every thread or event loop), making one fresh
//! [`Handler`] per connection.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::chat_room::Room;
use super::config::{Config, Model, Proto};
use super::file_root::FileRoot;
use super::handler::{Ctx, Handler};
use crate::proto::json_header::{self, LengthOrder};

/// Everything the handlers of one server share: its settings, and state
/// that outlives a connection (chat's room, file's root).
#[derive(Clone)]
pub struct Protocol {
    proto: Proto,
    config: Arc<Config>,
    shared: Shared,
}

/// Which handler each connection gets, with what its connections share,
/// checked once by `new`: auth cannot exist without its key, so no path
/// can hand out an unauthenticated echo instead.
#[derive(Clone)]
enum Shared {
    Echo,
    Upper,
    Framed,
    Cmd,
    /// Served by the UDP loop, never per connection.
    Time,
    /// auth's key, digest and timeout.
    Auth(super::auth::AuthSettings),
    /// file: the served directory; a fresh one is removed when the last clone goes.
    File(Arc<FileRoot>),
    /// chat: the one room every connection joins.
    Chat(Arc<Room>),
}

impl Protocol {
    /// Check the settings this protocol needs, and that the model can run it.
    pub fn new(config: &Config) -> Result<Self, String> {
        let proto = config.proto;
        if proto == Proto::Chat && config.model == Model::Fork {
            return Err("chat needs one room shared by every client; with --model fork each client lives in its own process (try --model thread or --model epoll)".into());
        }
        if config.is_udp() && proto != Proto::Upper && proto != Proto::Time {
            return Err(format!("{} is a TCP protocol; --udp works with upper and time", proto.name()));
        }
        let shared = match proto {
            Proto::Echo => Shared::Echo,
            Proto::Upper => Shared::Upper,
            Proto::Framed => Shared::Framed,
            Proto::Cmd => Shared::Cmd,
            Proto::Time => Shared::Time,
            Proto::Auth => Shared::Auth(super::auth::AuthSettings::from_config(config)?),
            Proto::File => Shared::File(Arc::new(FileRoot::open(config.root.as_deref())?)),
            Proto::Chat => Shared::Chat(Arc::default()),
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

    /// What a client turned away at the door (`--max-conns`) is told,
    /// where the protocol has a way to say it: a chat line, a framed error
    /// reply. Echo, upper, framed and auth have none — any byte would be
    /// taken for an echo or a challenge — so they get a bare FIN.
    pub fn refusal(&self, why: &str) -> Vec<u8> {
        let text = format!("the server is full: {why}; try again later");
        let mut header = Map::new();
        header.insert("status".into(), Value::from("error"));
        let frame = match &self.shared {
            Shared::Chat(_) => return format!("* {text}\n").into_bytes(),
            Shared::Cmd => json_header::encode(&header, format!("{text}\n").as_bytes(), self.order()),
            Shared::File(_) => {
                header.insert("error".into(), Value::from(text));
                json_header::encode(&header, b"", self.order())
            }
            _ => return Vec::new(),
        };
        // A header of two short fields always frames; if not, the FIN alone says it.
        frame.unwrap_or_default()
    }

    /// A fresh handler for one connection.
    pub fn handler(&self, ctx: Ctx) -> Box<dyn Handler> {
        match &self.shared {
            Shared::Auth(settings) => Box::new(super::auth::Auth::new(ctx, settings.clone())),
            Shared::Chat(room) => Box::new(super::chat::Chat::new(Arc::clone(room), ctx)),
            Shared::File(root) => Box::new(super::file::FileServer::new(root.clone(), self.order(), ctx)),
            Shared::Upper => Box::new(super::upper::Upper),
            Shared::Framed => Box::new(super::framed::Framed::new(ctx, self.order())),
            Shared::Cmd => Box::new(super::cmd::Cmd::new(ctx, self.order())),
            // Time never reaches here: the UDP loop answers it.
            Shared::Echo | Shared::Time => Box::new(super::echo::Echo),
        }
    }
}
