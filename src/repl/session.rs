//! A learner's session: the current lesson and step, the lab, progress.
//! Input-agnostic — the interactive REPL, a piped script and the tests all
//! feed it lines.

use std::path::PathBuf;

use crate::event::Event;
use crate::lab::{Lab, Outcome};
use crate::lesson::Lesson;
use crate::lesson::progress::Progress;

use super::commands;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Quit,
}

/// A step shown but waiting for the learner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Pending {
    None,
    Try(usize),
    Predict(usize),
}

pub struct Session {
    pub(super) lessons: Vec<Lesson>,
    pub lab: Lab,
    pub(super) progress: Progress,
    progress_path: Option<PathBuf>,
    pub(super) lesson: usize,
    /// The next step to do.
    pub(super) cursor: usize,
    /// Steps whose effects (commands, demos) already happened.
    pub(super) done: Vec<bool>,
    pub(super) pending: Pending,
    /// The step last shown (by next or back): what `hint` and `back` refer to.
    pub(super) shown: Option<usize>,
    pub(super) last: Option<Outcome>,
    /// Lines that were not valid commands (a piped script exits 2 if any).
    pub bad_lines: usize,
}

impl Session {
    pub fn new(lessons: Vec<Lesson>, lab: Lab, progress: Progress, progress_path: Option<PathBuf>) -> Session {
        Session {
            lessons,
            lab,
            progress,
            progress_path,
            lesson: 0,
            cursor: 0,
            done: Vec::new(),
            pending: Pending::None,
            shown: None,
            last: None,
            bad_lines: 0,
        }
    }

    pub fn lessons(&self) -> &[Lesson] {
        &self.lessons
    }

    /// What the waiting step wants typed: the `try` command, or the right
    /// answer's number. (How tests and `next` walk a lesson faithfully.)
    pub fn expected_input(&self) -> Option<String> {
        let step = |i: usize| self.current().and_then(|l| l.steps.get(i));
        match self.pending {
            Pending::Try(i) => match step(i) {
                Some(crate::lesson::Step::Try { line, .. }) => Some(line.clone()),
                _ => None,
            },
            Pending::Predict(i) => match step(i) {
                Some(crate::lesson::Step::Predict { predict, .. }) => Some(predict.answer.to_string()),
                _ => None,
            },
            Pending::None => None,
        }
    }

    /// Every step of the current lesson is done.
    pub fn lesson_finished(&self) -> bool {
        self.current().is_none_or(|l| self.cursor >= l.steps.len())
    }

    pub(super) fn current(&self) -> Option<&Lesson> {
        self.lessons.get(self.lesson)
    }

    /// Where a lesson id, unique id prefix or 1-based number points.
    pub fn find_lesson(&self, key: &str) -> Result<usize, String> {
        find_lesson(&self.lessons, key)
    }

    /// `netlab [7/22 sticky-packets 3/9]> `
    pub fn prompt(&self) -> String {
        match self.current() {
            Some(l) => format!(
                "netlab [{}/{} {} {}/{}]> ",
                self.lesson + 1,
                self.lessons.len(),
                l.id,
                self.cursor.min(l.steps.len()),
                l.steps.len()
            ),
            None => "netlab> ".to_string(),
        }
    }

    pub fn handle(&mut self, line: &str) -> Flow {
        let line = line.trim();
        let (word, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        let rest = rest.trim();
        if let Pending::Predict(i) = self.pending
            && let Ok(n) = line.parse::<usize>()
        {
            self.answer(i, n);
            return Flow::Continue;
        }
        if line.parse::<usize>().is_ok() {
            self.usage("no question is waiting: numbers answer a predict step".into());
            return Flow::Continue;
        }
        if let Pending::Predict(i) = self.pending
            && !word.is_empty()
            && !is_command_word(word)
        {
            let n = self.current().and_then(|l| l.steps.get(i)).map_or(0, |s| match s {
                crate::lesson::Step::Predict { predict, .. } => predict.choices.len(),
                _ => 0,
            });
            self.usage(format!("answer with a number from 1 to {n} — or `skip` to see the answer"));
            return Flow::Continue;
        }
        match (word, rest) {
            ("" | "next" | "n", "") => self.next(),
            ("back" | "b", "") => self.back(),
            ("hint" | "h", "") => self.hint(),
            ("list" | "l" | "lessons", "") => self.list(),
            ("lesson", "") => self.lab.emit(Event::error("which lesson? e.g. `lesson sticky-packets` or `lesson 2`")),
            ("lesson", key) => match self.find_lesson(key) {
                Ok(i) => self.open_lesson(i, 0),
                Err(e) => self.usage(e),
            },
            ("demo", "") => self.lab.emit(Event::Demos { rows: crate::commands::demo_rows() }),
            ("demo", name) => self.demo(name),
            ("help" | "?", topic) => {
                for e in commands::help((!topic.is_empty()).then_some(topic)) {
                    self.lab.emit(e);
                }
            }
            ("reset", "") => self.reset(),
            ("skip", "") => self.skip(),
            ("quit" | "q" | "exit", "") => {
                self.quit();
                return Flow::Quit;
            }
            (
                "next" | "n" | "back" | "b" | "hint" | "h" | "list" | "l" | "reset" | "skip" | "quit" | "q" | "exit",
                _,
            ) => {
                self.usage(format!("{word} takes no arguments"));
            }
            _ => self.playground(line),
        }
        Flow::Continue
    }

    fn playground(&mut self, line: &str) {
        let first = line.split_whitespace().next().unwrap_or_default();
        if !is_command_word(first) {
            let playground = crate::lab::command::command_words();
            let mut words = playground;
            words.extend(commands::REPL_WORDS);
            return self.usage(crate::lab::command::unknown_command(first, &words));
        }
        let outcome = self.lab.run_line(line);
        if outcome.usage_error.is_some() {
            self.bad_lines += 1;
        }
        if let Pending::Try(i) = self.pending {
            self.check_try(i, line, &outcome);
        }
        self.last = Some(outcome);
    }

    pub(super) fn usage(&mut self, text: String) {
        self.bad_lines += 1;
        self.lab.emit(Event::error(text));
    }

    fn demo(&mut self, name: &str) {
        match crate::demo::find(name) {
            Some(info) => {
                crate::demo::run(info, &mut self.lab);
            }
            None => {
                self.usage(crate::demo::unknown(name));
            }
        }
    }

    fn list(&mut self) {
        let mut progress = self.progress.clone();
        progress.lesson = self.current().map(|l| l.id.clone());
        let rows = crate::commands::lesson_rows(&self.lessons, &progress);
        self.lab.emit(Event::Lessons { rows });
    }

    /// Ctrl-C at the prompt: cancel a waiting step, never leave.
    pub fn interrupt(&mut self) {
        let text = if self.pending != Pending::None {
            self.pending = Pending::None;
            "step cancelled — Enter shows it again; quit or Ctrl-D leaves"
        } else {
            "(Ctrl-C) type quit or press Ctrl-D to leave"
        };
        self.lab.emit(Event::notice(text));
    }

    pub fn quit(&mut self) {
        self.save();
        self.lab.close_all();
        let saved = if self.progress_path.is_some() { "progress saved" } else { "progress NOT saved" };
        self.lab.emit(Event::notice(format!("{saved}, every socket closed. Bye!")));
    }

    pub(super) fn save(&mut self) {
        self.progress.lesson = self.current().map(|l| l.id.clone());
        self.progress.step = self.cursor;
        if let Some(path) = &self.progress_path
            && let Err(e) = self.progress.save(path)
        {
            // Say it once, not after every step.
            self.lab.emit(Event::error(format!("{e} — progress will not be saved this session")));
            self.progress_path = None;
        }
    }
}

/// A word that starts a playground or REPL command.
fn is_command_word(word: &str) -> bool {
    crate::lab::command::command_words().contains(&word) || commands::REPL_WORDS.contains(&word)
}

/// Where a lesson id, unique id prefix or 1-based number points in `lessons`.
pub fn find_lesson(lessons: &[Lesson], key: &str) -> Result<usize, String> {
    if let Ok(n) = key.parse::<usize>() {
        return (1..=lessons.len())
            .contains(&n)
            .then(|| n - 1)
            .ok_or_else(|| format!("there is no lesson {n}: lessons are 1..{}", lessons.len()));
    }
    if let Some(i) = lessons.iter().position(|l| l.id == key) {
        return Ok(i);
    }
    let prefixed: Vec<usize> = (0..lessons.len()).filter(|&i| lessons[i].id.starts_with(key)).collect();
    if let [only] = prefixed.as_slice() {
        return Ok(*only);
    }
    let ids: Vec<&str> = lessons.iter().map(|l| l.id.as_str()).collect();
    match crate::suggest::closest(key, &ids) {
        Some(s) => Err(format!("no lesson '{key}' — did you mean '{s}'?")),
        None => Err(format!("no lesson '{key}' — lessons are 1..{} or an id: {}", ids.len(), ids.join(", "))),
    }
}
