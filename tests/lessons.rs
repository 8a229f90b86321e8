//! Every shipped lesson loads, lints clean, and runs start to finish on
//! real sockets with every `expect` holding — also when resumed mid-way.

use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use netlab::event::{Event, Recorder};
use netlab::lab::Lab;
use netlab::lesson::load;
use netlab::lesson::progress::Progress;
use netlab::repl::Session;

/// Lessons that come back to an address they closed (connect to a port
/// for ECONNREFUSED, bind it again after TIME_WAIT, reuse a fixed
/// abstract unix name). Any other socket in the machine may take it
/// meanwhile — including the same lesson run by the other test; a
/// learner's machine rarely does, but lessons running side by side here
/// open hundreds. So these run alone: a writer's lock on `PORTS`, while
/// every other lesson takes a reader's.
const REUSES_A_CLOSED_ADDRESS: &[&str] =
    &["addresses-ports", "timewait-reuseaddr", "errors", "udp-loss-order", "unix-sockets"];
static PORTS: RwLock<()> = RwLock::new(());

enum PortsGuard {
    Shared(#[allow(dead_code)] RwLockReadGuard<'static, ()>),
    Alone(#[allow(dead_code)] RwLockWriteGuard<'static, ()>),
}

/// The lock a run of lesson `id` holds: alone if it reuses a closed address.
fn ports_for(id: &str) -> PortsGuard {
    // A lesson that panicked while holding it poisoned nothing we read.
    if REUSES_A_CLOSED_ADDRESS.contains(&id) {
        PortsGuard::Alone(PORTS.write().unwrap_or_else(|p| p.into_inner()))
    } else {
        PortsGuard::Shared(PORTS.read().unwrap_or_else(|p| p.into_inner()))
    }
}

fn session() -> (Session, Recorder) {
    let lessons = load::load(None).expect("embedded lessons load");
    let rec = Recorder::new();
    let lab = Lab::new(Box::new(rec.clone()));
    (Session::new(lessons, lab, Progress::default(), None), rec)
}

/// Walk the current lesson as a diligent learner: Enter for each step,
/// the `try` command when asked, the right answer to each prediction.
fn finish_lesson(s: &mut Session) {
    for _ in 0..500 {
        if s.lesson_finished() {
            return;
        }
        let input = s.expected_input().unwrap_or_default();
        s.handle(&input);
    }
    panic!("lesson did not finish in 500 inputs");
}

fn problems(rec: &Recorder) -> Vec<String> {
    rec.events()
        .into_iter()
        .filter_map(|e| match e {
            Event::Verdict { ok: false, text } => Some(format!("failed: {text}")),
            Event::Error { text } => Some(format!("error: {text}")),
            _ => None,
        })
        .collect()
}

#[test]
fn the_embedded_lessons_load_and_lint_clean() {
    let sources = load::embedded_sources();
    assert!(sources.len() >= 5, "expected at least the five launch lessons");
    let (lessons, diags) = netlab::lesson::lint::check_sources(&sources);
    assert!(diags.is_empty(), "{diags:#?}");
    let ids: Vec<&str> = lessons.iter().map(|l| l.id.as_str()).collect();
    for id in ["hello-echo", "byte-order", "timewait-reuseaddr", "sticky-packets", "udp-boundaries"] {
        assert!(ids.contains(&id), "missing lesson {id}");
    }
}

#[test]
fn every_lesson_runs_to_the_end_with_every_expectation_holding() {
    let (mut s, rec) = session();
    let count = s.lessons().len();
    for round in 0..3 {
        for i in 0..count {
            let id = s.lessons()[i].id.clone();
            let ports = ports_for(&id);
            s.open_lesson(i, 0);
            finish_lesson(&mut s);
            drop(ports);
            assert_eq!(problems(&rec), Vec::<String>::new(), "lesson {id}, round {round}");
        }
    }
    let verdicts = rec.verdicts();
    assert!(verdicts.len() > 20, "lessons should check their effects, saw {}", verdicts.len());
}

/// Resumed at each step in turn, the lesson still finishes with every
/// expectation holding. Lessons run side by side: each has its own session
/// and sockets, and most of the time goes to waiting on the kernel.
#[test]
fn every_lesson_can_be_resumed_at_every_step() {
    let count = session().0.lessons().len();
    std::thread::scope(|scope| {
        for i in 0..count {
            scope.spawn(move || {
                let (mut s, rec) = session();
                let (id, steps) = (s.lessons()[i].id.clone(), s.lessons()[i].steps.len());
                for at in 0..=steps {
                    let ports = ports_for(&id);
                    s.open_lesson(i, at);
                    finish_lesson(&mut s);
                    drop(ports);
                    assert_eq!(problems(&rec), Vec::<String>::new(), "lesson {id} resumed at step {at}");
                }
            });
        }
    });
}

#[test]
fn a_wrong_try_is_not_accepted_and_next_runs_the_real_one() {
    let (mut s, rec) = session();
    let sticky = s.lessons().iter().position(|l| l.id == "sticky-packets").expect("sticky lesson");
    s.open_lesson(sticky, 0);
    while s.expected_input().is_none_or(|i| i.parse::<usize>().is_ok()) {
        let input = s.expected_input().unwrap_or_default();
        s.handle(&input);
        assert!(!s.lesson_finished(), "the sticky lesson has a try step");
    }
    let wanted = s.expected_input().expect("a try step waits");
    s.handle("sockets");
    assert_eq!(s.expected_input().as_deref(), Some(wanted.as_str()), "a different command is not the try");
    let said =
        rec.events().into_iter().any(|e| matches!(e, Event::Notice { text } if text.contains("this step asks for")));
    assert!(said, "the learner is told what the step wants");
    s.handle("");
    assert_ne!(s.expected_input().as_deref(), Some(wanted.as_str()), "Enter runs the try for the learner");
}
