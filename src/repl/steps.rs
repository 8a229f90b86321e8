//! Moving through a lesson: next, back, hint, reset, answers and tries.

use crate::event::Event;
use crate::lab::{Command, Outcome};
use crate::lesson::Step;
use crate::lesson::expect;
use crate::lesson::model::Expect;

use super::session::{Pending, Session};

impl Session {
    /// Go to lesson `index`, with its first `at_step` steps already done:
    /// their commands are replayed quietly on fresh sockets, so a resumed
    /// lesson has the sockets its next step needs.
    pub fn open_lesson(&mut self, index: usize, at_step: usize) {
        let Some(lesson) = self.lessons.get(index).cloned() else { return };
        let had_sockets = !self.lab.names().is_empty();
        self.shown = at_step.checked_sub(1);
        self.lesson = index;
        self.pending = Pending::None;
        self.last = None;
        let at_step = at_step.min(lesson.steps.len());
        self.done = vec![false; lesson.steps.len()];
        self.cursor = 0;
        let replay_failed = self.replay(at_step);
        self.done[..at_step].fill(true);
        self.cursor = at_step;
        if had_sockets {
            self.lab.emit(Event::notice("(the sockets you had open were closed: each lesson starts fresh)"));
        }
        self.lab.heading(format!("lesson {}/{}: {}", index + 1, self.lessons.len(), lesson.title));
        if !lesson.summary.is_empty() {
            self.lab.say(lesson.summary.clone());
        }
        let missing: Vec<&str> =
            lesson.requires.iter().filter(|r| !self.progress.is_completed(r)).map(String::as_str).collect();
        if !missing.is_empty() {
            self.lab.emit(Event::notice(format!("this lesson builds on: {}", missing.join(", "))));
        }
        if at_step > 0 {
            self.lab.emit(Event::notice(format!(
                "resuming after step {}/{} — the earlier steps' commands were replayed on fresh sockets{}",
                at_step,
                lesson.steps.len(),
                if replay_failed { " (some failed: `reset` starts the lesson over)" } else { "" }
            )));
        }
        self.lab.emit(Event::notice("press Enter (or type next) for each step · hint · list · help · quit"));
        self.save();
    }

    /// Rebuild the sockets the current lesson's first `upto` steps made:
    /// close everything and quietly run their commands again. True if a
    /// command failed to replay.
    fn replay(&mut self, upto: usize) -> bool {
        let Some(lesson) = self.current().cloned() else { return false };
        self.lab.close_all();
        self.lab.muted(|lab| {
            let mut failed = false;
            for step in &lesson.steps[..upto.min(lesson.steps.len())] {
                if let Step::Run { line, .. } | Step::Try { line, .. } = step {
                    // A check opens its own connections and leaves nothing
                    // behind, and takes seconds: nothing to rebuild.
                    if matches!(crate::lab::Command::parse(line), Ok(crate::lab::Command::Check(_))) {
                        continue;
                    }
                    failed |= lab.run_line(line).usage_error.is_some();
                }
            }
            failed
        })
    }

    pub(super) fn next(&mut self) {
        let Some(lesson) = self.current().cloned() else {
            self.lab.emit(Event::notice("no lessons loaded; the playground commands still work (help)"));
            return;
        };
        match self.pending {
            Pending::Try(i) => {
                self.pending = Pending::None;
                if let Step::Try { line, expect, .. } = &lesson.steps[i] {
                    self.lab.emit(Event::notice("netlab runs it for you:"));
                    self.run_step(i, line, expect.as_ref());
                }
                return self.advance(i + 1);
            }
            Pending::Predict(i) => {
                // Enter is how people move on; a prediction is worth a guess.
                if let Step::Predict { predict, .. } = &lesson.steps[i] {
                    self.lab.emit(Event::Question { ask: predict.ask.clone(), choices: predict.choices.clone() });
                    self.lab.emit(Event::notice("make a guess with its number — or `skip` to see the answer"));
                }
                return;
            }
            Pending::None => {}
        }
        if self.cursor >= lesson.steps.len() {
            if self.lesson + 1 < self.lessons.len() {
                self.open_lesson(self.lesson + 1, 0);
            } else {
                self.lab.emit(Event::notice(
                    "that was the last lesson — `list` shows them all, `lesson N` opens one, `demo` lists the demos",
                ));
            }
            return;
        }
        let i = self.cursor;
        self.shown = Some(i);
        match &lesson.steps[i] {
            Step::Say(text) => self.lab.say(text.clone()),
            Step::Hint(text) => self.lab.emit(Event::Note { text: text.clone() }),
            Step::Run { line, expect, .. } if !self.done[i] => self.run_step(i, line, expect.as_ref()),
            Step::Run { line, .. } => self.already(line),
            Step::Expect(e) => self.check(e),
            Step::Demo(name) => self.demo_step(i, name),
            Step::Try { line, .. } if self.done[i] => self.already(line),
            Step::Try { line, .. } => {
                self.lab.emit(Event::YourTurn { command: line.clone() });
                self.pending = Pending::Try(i);
                return;
            }
            Step::Predict { predict, .. } => {
                self.lab.emit(Event::Question { ask: predict.ask.clone(), choices: predict.choices.clone() });
                self.pending = Pending::Predict(i);
                return;
            }
        }
        self.advance(i + 1);
    }

    fn already(&mut self, line: &str) {
        self.lab.emit(Event::Command { line: line.to_string() });
        self.lab.emit(Event::notice("(already done — type it to run it again)"));
    }

    fn demo_step(&mut self, i: usize, name: &str) {
        match crate::demo::find(name) {
            Some(info) => {
                crate::demo::run(info, &mut self.lab);
                self.done[i] = true;
            }
            None => self.lab.emit(Event::error(format!("this lesson names an unknown demo '{name}'"))),
        }
    }

    fn run_step(&mut self, i: usize, line: &str, expect: Option<&Expect>) {
        let outcome = self.lab.run_shown(line);
        self.done[i] = true;
        if let Some(e) = expect {
            self.verdicts(e, &outcome);
        }
        self.last = Some(outcome);
    }

    fn check(&mut self, e: &Expect) {
        match self.last.clone() {
            Some(outcome) => {
                self.verdicts(e, &outcome);
            }
            None => self.lab.emit(Event::notice("(nothing ran yet to check)")),
        }
    }

    fn verdicts(&mut self, e: &Expect, outcome: &Outcome) -> bool {
        let mut all = true;
        for (held, text) in expect::check(e, outcome, &self.lab) {
            all &= self.lab.verdict(held, text);
        }
        all
    }

    /// Move the cursor on; finishing the last step completes the lesson.
    fn advance(&mut self, to: usize) {
        let Some(lesson) = self.current() else { return };
        let (id, len) = (lesson.id.clone(), lesson.steps.len());
        self.cursor = to;
        if to == len {
            self.progress.complete(&id);
            self.lab.verdict(true, format!("lesson {id} complete"));
            let next = self.lessons.get(self.lesson + 1).map(|l| l.id.clone());
            let text = match next {
                Some(n) => format!("press Enter for the next lesson, {n}"),
                None => "that was the last lesson — well done".into(),
            };
            self.lab.emit(Event::notice(text));
        }
        self.save();
    }

    pub(super) fn back(&mut self) {
        self.pending = Pending::None;
        let Some(target) = self.shown.and_then(|s| s.checked_sub(1)) else {
            self.lab.emit(Event::notice("this is the first step (Enter shows it)"));
            return;
        };
        let Some(step) = self.current().and_then(|l| l.steps.get(target)).cloned() else { return };
        match &step {
            Step::Say(text) => self.lab.say(text.clone()),
            Step::Hint(text) => self.lab.emit(Event::Note { text: text.clone() }),
            Step::Run { line, .. } | Step::Try { line, .. } => self.already(line),
            Step::Predict { predict, .. } => {
                self.lab.emit(Event::Question { ask: predict.ask.clone(), choices: predict.choices.clone() });
                self.reveal(predict, None);
            }
            Step::Expect(_) => self.lab.emit(Event::notice("(a check of the step before)")),
            Step::Demo(name) => self.lab.emit(Event::notice(format!("(demo {name} — `demo {name}` runs it again)"))),
        }
        self.cursor = target + 1;
        self.shown = Some(target);
        self.save();
    }

    pub(super) fn hint(&mut self) {
        let index = match self.pending {
            Pending::Try(i) | Pending::Predict(i) => Some(i),
            Pending::None => self.shown,
        };
        let step = index.and_then(|i| self.current().and_then(|l| l.steps.get(i)));
        let text = match step {
            Some(s @ Step::Try { line, .. }) => Some(s.hint().map_or(format!("type: {line}"), str::to_string)),
            Some(s) => s.hint().map(str::to_string),
            None => None,
        };
        let text = text.unwrap_or_else(|| "no hint here — press Enter for the next step".into());
        self.lab.emit(Event::Hint { text });
    }

    pub(super) fn reset(&mut self) {
        self.lab.close_all();
        self.lab.emit(Event::notice("every socket closed; the lesson starts over"));
        self.open_lesson(self.lesson, 0);
    }

    /// `skip`: reveal a prediction's answer, or let netlab do a `try`.
    pub(super) fn skip(&mut self) {
        let Some(lesson) = self.current().cloned() else { return };
        match self.pending {
            Pending::Predict(i) => {
                self.pending = Pending::None;
                if let Step::Predict { predict, .. } = &lesson.steps[i] {
                    self.reveal(predict, None);
                }
                self.advance(i + 1);
            }
            Pending::Try(_) => self.next(),
            Pending::None => self.lab.emit(Event::notice("nothing to skip — Enter shows the next step")),
        }
    }

    pub(super) fn answer(&mut self, i: usize, n: usize) {
        let Some(Step::Predict { predict, .. }) = self.current().and_then(|l| l.steps.get(i)).cloned() else { return };
        if !(1..=predict.choices.len()).contains(&n) {
            return self.usage(format!("answer with a number from 1 to {}", predict.choices.len()));
        }
        self.pending = Pending::None;
        self.reveal(&predict, Some(n));
        self.advance(i + 1);
    }

    fn reveal(&mut self, predict: &crate::lesson::model::Predict, given: Option<usize>) {
        let right = predict.choices.get(predict.answer.saturating_sub(1)).cloned().unwrap_or_default();
        let mut text = match given {
            Some(n) if n == predict.answer => format!("right: {right}"),
            Some(_) => format!("not quite — the answer is {}: {right}", predict.answer),
            None => format!("the answer is {}: {right}", predict.answer),
        };
        if let Some(explain) = &predict.explain {
            text.push_str(&format!("\n{}", explain.trim_end()));
        }
        match given {
            Some(n) => {
                self.lab.verdict(n == predict.answer, text);
            }
            None => self.lab.say(text),
        }
    }

    /// The learner typed a command while a `try` step waits.
    pub(super) fn check_try(&mut self, i: usize, typed: &str, outcome: &Outcome) {
        let Some(Step::Try { command, expect, line, .. }) = self.current().and_then(|l| l.steps.get(i)).cloned() else {
            return;
        };
        let Ok(typed) = Command::parse(typed) else {
            self.lab.emit(Event::notice(format!("nothing ran (see the error); this step asks for: {line}")));
            return;
        };
        let changed = typed.changes_state();
        let same = typed == command || same_but_auto_named(&typed, &command, outcome);
        let achieved = expect.as_ref().is_some_and(|e| expect::check(e, outcome, &self.lab).iter().all(|(ok, _)| *ok));
        if same || achieved {
            if let Some(e) = &expect {
                self.verdicts(e, outcome);
            }
            self.done[i] = true;
            self.pending = Pending::None;
            self.lab.verdict(true, "that's it");
            self.advance(i + 1);
        } else if changed {
            // The command really ran, and may have used up bytes the lesson
            // needs: put the sockets back as the lesson had them.
            self.replay(i);
            self.lab.emit(Event::notice(format!(
                "that ran, but this step asks for: {line} — your sockets are back as the lesson had them (fresh ports); try again, hint, or Enter to let netlab run it"
            )));
        } else {
            self.lab.emit(Event::notice(format!(
                "that ran, but this step asks for: {line}  (hint, or Enter to let netlab run it)"
            )));
        }
    }
}

/// `tcp connect srv` when the step says `tcp connect srv as cli`, and the
/// auto-chosen name happened to be `cli`.
fn same_but_auto_named(typed: &Command, wanted: &Command, outcome: &Outcome) -> bool {
    let wanted_name = wanted.subject();
    if typed.subject().is_some() || wanted_name.is_none() || outcome.sock.as_deref() != wanted_name {
        return false;
    }
    let mut unnamed = wanted.clone();
    match &mut unnamed {
        Command::TcpListen { name, .. }
        | Command::TcpConnect { name, .. }
        | Command::Accept { name, .. }
        | Command::UdpBind { name, .. } => *name = None,
        _ => return false,
    }
    unnamed == *typed
}
