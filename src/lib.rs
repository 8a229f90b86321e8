//! netlab: a learning lab for socket programming.
//!
//! Lessons (YAML) and demos drive a [`lab::Lab`] of real, named kernel
//! sockets; everything that happens becomes an [`event::Event`], and one
//! renderer turns events into text, JSON lines or Markdown.

pub mod bench;
pub mod check;
pub mod cli;
pub mod commands;
pub mod demo;
pub mod event;
pub mod lab;
pub mod lesson;
pub mod proto;
pub mod render;
pub mod repl;
pub mod serve;
pub mod suggest;
pub mod wire;
