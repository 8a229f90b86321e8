//! Moving around a lesson the way learners do: back, hint, Ctrl-C,
//! stray numbers, short lesson names.

use netlab::event::{Event, Recorder};
use netlab::lab::Lab;
use netlab::lesson::Step;
use netlab::lesson::load;
use netlab::lesson::progress::Progress;
use netlab::repl::Session;

fn session() -> (Session, Recorder) {
    let lessons = load::load(None).expect("embedded lessons load");
    let rec = Recorder::new();
    let s = Session::new(lessons, Lab::new(Box::new(rec.clone())), Progress::default(), None);
    (s, rec)
}

fn count(rec: &Recorder) -> usize {
    rec.events().len()
}

/// Events emitted since `from`.
fn since(rec: &Recorder, from: usize) -> Vec<Event> {
    rec.events().split_off(from)
}

/// Walk the lesson as a learner who gets everything right until the
/// waiting step's expected input satisfies `stop`; returns that input.
fn until(s: &mut Session, stop: impl Fn(&str) -> bool) -> String {
    for _ in 0..100 {
        if let Some(input) = s.expected_input().filter(|i| stop(i)) {
            return input;
        }
        let input = s.expected_input().unwrap_or_default();
        s.handle(&input);
    }
    panic!("the step waited for never came");
}

/// Until a try step waits; returns its index and command.
fn until_try(s: &mut Session) -> (usize, String) {
    let input = until(s, |i| i.parse::<usize>().is_err());
    let i = s.lessons()[0].steps.iter().position(|st| matches!(st, Step::Try { line, .. } if *line == input));
    (i.expect("the try is in the lesson"), input)
}

#[test]
fn back_from_a_waiting_step_shows_the_step_before_it() {
    let (mut s, rec) = session();
    s.open_lesson(0, 0);
    let (i, _) = until_try(&mut s);
    let before = s.lessons()[0].steps[i - 1].clone();
    let from = count(&rec);
    s.handle("back");
    let shown = since(&rec, from);
    let expected = match &before {
        Step::Say(text) => Event::say(text.clone()),
        Step::Run { line, .. } => Event::Command { line: line.clone() },
        other => panic!("lesson 1 has a say or run before its first try, not {other:?}"),
    };
    assert!(shown.contains(&expected), "back shows step {} ({expected:?}); got {shown:?}", i - 1);
    let from = count(&rec);
    s.handle("");
    assert!(
        since(&rec, from).iter().any(|e| matches!(e, Event::YourTurn { .. })),
        "Enter after back comes to the try again, skipping nothing"
    );
}

#[test]
fn hint_after_ctrl_c_is_about_the_cancelled_step() {
    let (mut s, rec) = session();
    s.open_lesson(0, 0);
    let (i, line) = until_try(&mut s);
    s.interrupt();
    let from = count(&rec);
    s.handle("hint");
    let want = s.lessons()[0].steps[i].hint().map_or(format!("type: {line}"), str::to_string);
    assert_eq!(since(&rec, from), vec![Event::Hint { text: want }]);
}

#[test]
fn a_number_with_no_question_waiting_says_so() {
    let (mut s, rec) = session();
    s.open_lesson(0, 0);
    let from = count(&rec);
    s.handle("2");
    assert_eq!(since(&rec, from), vec![Event::error("no question is waiting: numbers answer a predict step")]);
}

#[test]
fn a_unique_prefix_opens_a_lesson_and_open_sockets_are_announced_closed() {
    let (mut s, rec) = session();
    s.open_lesson(0, 0);
    s.handle("tcp listen as mine");
    let from = count(&rec);
    s.handle("lesson sticky");
    let events = since(&rec, from);
    assert!(events.iter().any(|e| matches!(e, Event::Notice { text } if text.contains("were closed"))), "{events:?}");
    assert!(s.prompt().contains("sticky-packets"), "{}", s.prompt());
    assert!(s.lab.names().is_empty());
}

#[test]
fn enter_on_a_question_asks_again_and_skip_reveals_the_answer() {
    let (mut s, rec) = session();
    s.open_lesson(0, 0);
    until(&mut s, |i| i.parse::<usize>().is_ok());
    let answer = s.expected_input();
    let from = count(&rec);
    s.handle("");
    assert_eq!(s.expected_input(), answer, "Enter does not give the answer away");
    let asked = since(&rec, from);
    assert!(asked.iter().any(|e| matches!(e, Event::Question { .. })), "Enter asks again: {asked:?}");
    assert_eq!(s.bad_lines, 0, "Enter is not a mistake");
    let from = count(&rec);
    s.handle("maybe");
    assert!(
        since(&rec, from).iter().any(|e| matches!(e, Event::Error { text } if text.contains("answer with a number")))
    );
    let from = count(&rec);
    s.handle("skip");
    assert!(since(&rec, from).iter().any(|e| matches!(e, Event::Say { text } if text.starts_with("the answer is"))));
    assert_ne!(s.expected_input(), answer, "skip moved on");
}
