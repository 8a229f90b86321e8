//! The one place that turns events into something a person reads.
//!
//! Text (colored when the output is a terminal and `NO_COLOR` is unset),
//! JSON lines (one event per line, for scripts), and Markdown for the book.

mod bench_table;
mod check;
pub mod hexdump;
pub mod markdown;
mod table;
mod text;

use std::io::{IsTerminal, Write};
use std::time::Instant;

use crate::event::{Event, Sink};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    #[default]
    Text,
    Json,
}

/// Decide once, at start-up, whether to color, and tell `colored`.
///
/// Color only when asked for implicitly by a terminal: `--no-color`, a
/// non-empty `NO_COLOR` (no-color.org) or a pipe all turn it off.
pub fn init_color(no_color_flag: bool) -> bool {
    let no_color_env = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let on = !no_color_flag && !no_color_env && std::io::stdout().is_terminal();
    colored::control::set_override(on);
    on
}

/// Writes events to a stream as text or JSON lines.
pub struct Renderer<W: Write + Send> {
    out: W,
    format: Format,
    start: Instant,
    /// Prefix each socket event with the time since start (demo timelines).
    stamps: bool,
}

impl<W: Write + Send> Renderer<W> {
    pub fn new(out: W, format: Format) -> Self {
        Renderer { out, format, start: Instant::now(), stamps: false }
    }

    pub fn with_timestamps(mut self, on: bool) -> Self {
        self.stamps = on;
        self
    }
}

impl Renderer<std::io::Stdout> {
    pub fn stdout(format: Format) -> Self {
        Renderer::new(std::io::stdout(), format)
    }
}

impl<W: Write + Send> Sink for Renderer<W> {
    fn emit(&mut self, event: &Event) {
        let elapsed = self.start.elapsed();
        let result = match self.format {
            Format::Json => write_json(&mut self.out, event, elapsed.as_secs_f64() * 1000.0),
            Format::Text => {
                let stamp = self.stamps.then_some(elapsed);
                let lines = text::render(event, stamp);
                lines.iter().try_for_each(|l| writeln!(self.out, "{l}"))
            }
        };
        // A closed stdout (`netlab demo sticky | head`) is not worth a panic.
        let _ = result.and_then(|()| self.out.flush());
    }
}

fn write_json(out: &mut impl Write, event: &Event, t_ms: f64) -> std::io::Result<()> {
    let mut value = serde_json::to_value(event).map_err(std::io::Error::other)?;
    if let Some(map) = value.as_object_mut() {
        let rounded = (t_ms * 1000.0).round() / 1000.0;
        map.insert("t_ms".into(), serde_json::json!(rounded));
    }
    writeln!(out, "{value}")
}
