//! The REPL: rustyline when a person is typing, line by line when stdin is
//! a pipe (so the playground is scriptable). Both feed a [`Session`].

pub mod commands;
mod completion;
mod session;
mod steps;

use std::io::{BufRead, IsTerminal};
use std::path::Path;

use rustyline::error::ReadlineError;
use rustyline::history::FileHistory;
use rustyline::{Config, Editor};

pub use session::{Flow, Session};

use crate::commands::{Failure, load_lessons, load_progress};
use crate::event::Event;
use crate::lab::{Lab, cancel};
use crate::lesson::progress;
use crate::render::{Format, Renderer};
use completion::NetlabHelper;

/// `netlab` / `netlab lesson X`: open the session and read commands.
pub fn start(dir: Option<&Path>, lesson: Option<&str>) -> Result<(), Failure> {
    let lessons = load_lessons(dir)?;
    let mut renderer = Renderer::stdout(Format::Text);
    let (progress, progress_path) = load_progress(&mut renderer);
    let (index, step) = match lesson {
        Some(key) => (session::find_lesson(&lessons, key).map_err(Failure::Usage)?, 0),
        None => progress
            .lesson
            .as_deref()
            .and_then(|id| lessons.iter().position(|l| l.id == id))
            .map_or((0, 0), |i| (i, progress.step)),
    };
    let mut session = Session::new(lessons, Lab::new(Box::new(renderer)), progress, progress_path);
    session.open_lesson(index, step);
    if std::io::stdin().is_terminal() {
        interactive(&mut session);
        Ok(())
    } else {
        piped(&mut session)
    }
}

fn piped(session: &mut Session) -> Result<(), Failure> {
    let mut input = std::io::stdin().lock();
    let mut raw = Vec::new();
    loop {
        raw.clear();
        match input.read_until(b'\n', &mut raw) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        // A stray invalid byte in a script should not end it.
        let line = String::from_utf8_lossy(&raw);
        // Echo the script's commands so its transcript reads like a session.
        if !line.trim().is_empty() {
            session.lab.emit(Event::Command { line: format!("netlab> {}", line.trim()) });
        }
        if session.handle(&line) == Flow::Quit {
            return exit_for(session);
        }
    }
    session.quit();
    exit_for(session)
}

fn exit_for(session: &Session) -> Result<(), Failure> {
    match session.bad_lines {
        0 => Ok(()),
        n => Err(Failure::Usage(format!("{n} line(s) of the script were not valid commands"))),
    }
}

fn interactive(session: &mut Session) {
    let config = Config::builder().auto_add_history(false).max_history_size(2000).map(|b| b.build());
    let editor = config.and_then(Editor::<NetlabHelper, FileHistory>::with_config);
    let mut rl = match editor {
        Ok(rl) => rl,
        Err(e) => {
            session.lab.emit(Event::error(format!("cannot start the line editor ({e}); reading plain lines")));
            let _ = piped(session);
            return;
        }
    };
    let history = progress::data_dir().map(|d| d.join("history"));
    if let Some(path) = &history {
        let _ = std::fs::create_dir_all(path.parent().unwrap_or(path));
        let _ = rl.load_history(path);
    }
    let demos = crate::demo::names().into_iter().map(String::from).collect();
    let lessons = session.lessons().iter().map(|l| l.id.clone()).collect();
    rl.set_helper(Some(NetlabHelper { sockets: Vec::new(), lessons, demos }));
    if let Err(e) = cancel::install_sigint_handler() {
        session.lab.emit(Event::error(format!("Ctrl-C cannot be caught ({e}): it will end netlab")));
    }
    loop {
        if let Some(h) = rl.helper_mut() {
            h.sockets = session.lab.names();
        }
        // A Ctrl-C that cancelled the last command is spent; one pressed
        // from here on belongs to the next command.
        cancel::reset();
        match rl.readline(&session.prompt()) {
            Ok(text) => {
                if run_lines(&mut rl, history.as_deref(), session, &text) == Flow::Quit {
                    break;
                }
            }
            Err(ReadlineError::Interrupted) => session.interrupt(),
            Err(ReadlineError::Eof) => {
                session.quit();
                break;
            }
            Err(e) => {
                session.lab.emit(Event::error(format!("input error: {e}")));
                session.quit();
                break;
            }
        }
    }
    if let Some(path) = &history
        && let Err(e) = rl.append_history(path)
    {
        session.lab.emit(Event::error(format!("cannot save history to {}: {e}", path.display())));
    }
}

/// One line typed, or several pasted at once: a paste of commands copied
/// from the book comes back from readline as one text with newlines in
/// it, and each line is a command of its own, run in order.
fn run_lines(
    rl: &mut Editor<NetlabHelper, FileHistory>,
    history: Option<&Path>,
    session: &mut Session,
    text: &str,
) -> Flow {
    let lines: Vec<&str> = text.split('\n').map(|l| l.trim_end_matches('\r')).collect();
    // A lone Enter steps a lesson; empty lines inside a paste do not.
    let pasted = lines.len() > 1;
    for line in lines {
        if pasted && line.trim().is_empty() {
            continue;
        }
        if !line.trim().is_empty() {
            let _ = rl.add_history_entry(line);
            // Append now, so a killed terminal loses nothing.
            if let Some(path) = history {
                let _ = rl.append_history(path);
            }
        }
        if session.handle(line) == Flow::Quit {
            return Flow::Quit;
        }
    }
    Flow::Continue
}
