//! The one-shot subcommands: lessons, demo, serve, lint, book, progress.

use std::path::Path;
use std::process::ExitCode;

use crate::event::{DemoRow, Event, LessonRow, Sink};
use crate::lab::Lab;
use crate::lesson::Lesson;
use crate::lesson::lint::Diagnostic;
use crate::lesson::load::{self, LoadError};
use crate::lesson::progress::{self, Progress};
use crate::render::{Format, Renderer};

/// Why a command did not succeed, and so its exit status.
#[derive(Debug)]
pub enum Failure {
    /// Bad usage or input: exit 2.
    Usage(String),
    /// Lesson files with problems: the diagnostics, exit 2.
    Invalid(Vec<Diagnostic>),
    /// A check did not hold (a demo's verdict, a stale book): exit 1.
    CheckFailed(String),
}

impl Failure {
    pub fn report(self) -> ExitCode {
        let mut err = Renderer::new(std::io::stderr(), Format::Text);
        match self {
            Failure::Usage(text) => {
                err.emit(&Event::error(text));
                ExitCode::from(2)
            }
            Failure::Invalid(diags) => {
                for d in diags {
                    err.emit(&Event::Diagnostic { file: d.file, line: d.line, col: d.col, message: d.message });
                }
                ExitCode::from(2)
            }
            Failure::CheckFailed(text) => {
                err.emit(&Event::error(text));
                ExitCode::from(1)
            }
        }
    }
}

pub fn load_lessons(dir: Option<&Path>) -> Result<Vec<Lesson>, Failure> {
    load::load(dir).map_err(|e| match e {
        LoadError::Io(text) => Failure::Usage(text),
        LoadError::Invalid(diags) => Failure::Invalid(diags),
    })
}

/// Progress from its file, and where to save it. A damaged file is
/// reported and left alone (no path to save to), so nothing is lost.
pub fn load_progress(sink: &mut dyn Sink) -> (Progress, Option<std::path::PathBuf>) {
    let Some(path) = progress::default_path() else {
        sink.emit(&Event::notice("no HOME or XDG_STATE_HOME: progress will not be saved"));
        return (Progress::default(), None);
    };
    match Progress::load(&path) {
        Ok(p) => (p, Some(path)),
        Err(e) => {
            sink.emit(&Event::error(format!("{e} — until then, progress is not saved")));
            (Progress::default(), None)
        }
    }
}

pub fn lesson_rows(lessons: &[Lesson], progress: &Progress) -> Vec<LessonRow> {
    lessons
        .iter()
        .enumerate()
        .map(|(i, l)| LessonRow {
            number: i + 1,
            id: l.id.clone(),
            title: l.title.clone(),
            summary: l.summary.clone(),
            status: if progress.is_completed(&l.id) {
                "done"
            } else if progress.lesson.as_deref() == Some(&l.id) {
                "current"
            } else {
                "todo"
            }
            .into(),
        })
        .collect()
}

pub fn lessons(dir: Option<&Path>, format: Format) -> Result<(), Failure> {
    let lessons = load_lessons(dir)?;
    let mut out = Renderer::stdout(format);
    let (progress, _) = load_progress(&mut out);
    out.emit(&Event::Lessons { rows: lesson_rows(&lessons, &progress) });
    Ok(())
}

pub fn demo_rows() -> Vec<DemoRow> {
    crate::demo::DEMOS
        .iter()
        .map(|d| DemoRow { name: d.name.into(), title: d.title.into(), lesson: d.lesson.into() })
        .collect()
}

pub fn demo_list(format: Format) -> Result<(), Failure> {
    Renderer::stdout(format).emit(&Event::Demos { rows: demo_rows() });
    Ok(())
}

pub fn demo(name: &str, format: Format, seed: Option<u64>) -> Result<(), Failure> {
    let Some(info) = crate::demo::find(name) else {
        return Err(Failure::Usage(crate::demo::unknown(name)));
    };
    let renderer = Renderer::stdout(format).with_timestamps(true);
    let mut lab = Lab::new(Box::new(renderer));
    if let Some(seed) = seed {
        lab.set_seed(seed);
    }
    // Ctrl-C stops the demo at its next step, and the lab still closes its
    // sockets, joins its threads and removes its socket files on the way out.
    // Without the handler, the default action would end the process first.
    let _ = crate::lab::cancel::install_sigint_handler();
    let held = crate::demo::run(info, &mut lab);
    if crate::lab::cancel::is_cancelled() {
        return Err(Failure::CheckFailed(format!("demo {name}: cancelled with Ctrl-C")));
    }
    if held {
        Ok(())
    } else {
        Err(Failure::CheckFailed(format!("demo {name}: an expected effect did not happen (see ✗ above)")))
    }
}

pub fn serve(config: &crate::serve::Config) -> Result<(), Failure> {
    let renderer = Renderer::stdout(config.format).with_timestamps(true);
    let log = crate::serve::Log::new(Box::new(renderer));
    crate::serve::run(config, &log).map_err(|e| Failure::Usage(format!("serve: {e}")))
}

pub fn check(args: &crate::check::CheckArgs) -> Result<(), Failure> {
    let mut out = Renderer::stdout(args.format);
    if args.list {
        crate::check::list(args, &mut out);
        return Ok(());
    }
    // Ctrl-C ends the test under way at its next wait; a program netlab
    // started is still stopped and reaped.
    let _ = crate::lab::cancel::install_sigint_handler();
    let summary = crate::check::run(args, &mut out).map_err(|e| Failure::Usage(format!("check: {e}")))?;
    if crate::lab::cancel::is_cancelled() {
        return Err(Failure::CheckFailed("check: cancelled with Ctrl-C".into()));
    }
    if summary.failed + summary.not_run > 0 {
        return Err(Failure::CheckFailed(format!(
            "check: {} of {} tests failed",
            summary.failed + summary.not_run,
            summary.passed + summary.failed + summary.not_run
        )));
    }
    Ok(())
}

pub fn bench(
    quick: bool,
    models: Vec<crate::serve::Model>,
    conns: Option<usize>,
    format: Format,
) -> Result<(), Failure> {
    if conns == Some(0) {
        return Err(Failure::Usage("bench: --conns must be at least 1".into()));
    }
    let models = if models.is_empty() { crate::serve::Model::ALL.to_vec() } else { models };
    // Ctrl-C ends the section under way at its next check; the servers
    // started so far are stopped and reaped on the way out.
    let _ = crate::lab::cancel::install_sigint_handler();
    let mut out = Renderer::stdout(format);
    let report = crate::bench::run(&crate::bench::Options { quick, models, conns }, &mut out);
    let cancelled = report.cancelled;
    out.emit(&Event::Bench { report: Box::new(report) });
    if cancelled { Err(Failure::CheckFailed("bench: cancelled with Ctrl-C".into())) } else { Ok(()) }
}

pub fn lint(dir: Option<&Path>) -> Result<(), Failure> {
    let sources = match dir {
        Some(d) => load::dir_sources(d).map_err(Failure::Usage)?,
        None => load::embedded_sources(),
    };
    let (lessons, diags) = crate::lesson::lint::check_sources(&sources);
    if !diags.is_empty() {
        return Err(Failure::Invalid(diags));
    }
    let where_ = dir.map_or("built-in lessons".to_string(), |d| d.display().to_string());
    Renderer::stdout(Format::Text).emit(&Event::notice(format!("{}: {} lessons, no problems", where_, lessons.len())));
    Ok(())
}

pub fn book(dir: Option<&Path>, out: &Path, check: bool) -> Result<(), Failure> {
    let lessons = load_lessons(dir)?;
    let files = crate::render::markdown::book_files(&lessons);
    let mut stale = Vec::new();
    let mut written = 0;
    for (rel, text) in &files {
        let path = out.join(rel);
        let current = std::fs::read_to_string(&path).ok();
        if current.as_deref() == Some(text.as_str()) {
            continue;
        }
        if check {
            stale.push(path.display().to_string());
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| Failure::Usage(format!("cannot create {}: {e}", parent.display())))?;
        }
        std::fs::write(&path, text).map_err(|e| Failure::Usage(format!("cannot write {}: {e}", path.display())))?;
        written += 1;
    }
    let mut r = Renderer::stdout(Format::Text);
    if !stale.is_empty() {
        return Err(Failure::CheckFailed(format!(
            "the book is out of date with the lessons: {} — run `netlab book`",
            stale.join(", ")
        )));
    }
    let text = if check {
        format!("{} book files in {} are up to date with the lessons", files.len(), out.display())
    } else {
        format!("{written} of {} book files written to {} (the rest were current)", files.len(), out.display())
    };
    r.emit(&Event::notice(text));
    Ok(())
}

pub fn progress(reset: bool) -> Result<(), Failure> {
    let path = progress::default_path()
        .ok_or_else(|| Failure::Usage("cannot find a state directory: set HOME or XDG_STATE_HOME".into()))?;
    let mut out = Renderer::stdout(Format::Text);
    if reset {
        match std::fs::remove_file(&path) {
            Ok(()) => out.emit(&Event::notice(format!("progress reset ({} removed)", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => out.emit(&Event::notice("no progress to reset")),
            Err(e) => return Err(Failure::Usage(format!("cannot remove {}: {e}", path.display()))),
        }
        return Ok(());
    }
    let p = Progress::load(&path).map_err(Failure::Usage)?;
    out.emit(&Event::notice(format!("progress file: {}", path.display())));
    let lesson = p.lesson.as_deref().unwrap_or("none yet");
    out.emit(&Event::say(format!(
        "current lesson: {lesson} (step {})\ncompleted: {}",
        p.step,
        if p.completed.is_empty() { "none yet".into() } else { p.completed.join(", ") }
    )));
    Ok(())
}
