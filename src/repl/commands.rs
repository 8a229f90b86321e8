//! The REPL's own commands (lesson navigation), and `help`.

use crate::event::Event;
use crate::lab::command::{COMMANDS, PAYLOAD_HELP};

/// First words the REPL handles itself, before the playground.
pub const REPL_WORDS: [&str; 18] = [
    "next", "n", "back", "b", "hint", "h", "list", "l", "lessons", "lesson", "demo", "help", "?", "reset", "skip",
    "quit", "q", "exit",
];

const REPL_HELP: [(&str, &str); 11] = [
    ("next | n | Enter", "the next step of the lesson (runs a `try` for you if you are stuck)"),
    ("skip", "see a prediction's answer without guessing"),
    ("back | b", "show the previous step again"),
    ("hint | h", "a hint for the current step"),
    ("list | l", "the lessons, with your progress"),
    ("lesson ID|N", "go to a lesson (by id or number)"),
    ("demo [NAME]", "run a live demo (no name: list them)"),
    ("reset", "close every socket and restart this lesson"),
    ("help [COMMAND]", "this list, or one command's usage"),
    ("quit | q | Ctrl-D", "save progress, close every socket, leave"),
    ("Ctrl-C", "cancel the current step or a waiting call"),
];

pub fn help(topic: Option<&str>) -> Vec<Event> {
    let Some(topic) = topic else {
        let mut text = String::from("lesson commands:\n");
        for (usage, about) in REPL_HELP {
            text.push_str(&format!("  {usage:<20} {about}\n"));
        }
        text.push_str("socket playground (the same commands lessons use):\n");
        for c in COMMANDS {
            text.push_str(&format!("  {:<20} {}\n", c.name, c.about));
        }
        text.push_str("`help COMMAND` shows its full usage, e.g. help send");
        return vec![Event::say(text)];
    };
    let matches: Vec<_> =
        COMMANDS.iter().filter(|c| c.name == topic || c.name.split(' ').next() == Some(topic)).collect();
    if matches.is_empty() {
        if let Some((usage, about)) =
            REPL_HELP.iter().find(|(u, _)| u.split(" | ").any(|w| w.split(' ').next() == Some(topic)))
        {
            return vec![Event::say(format!("{usage}\n  {about}"))];
        }
        return vec![Event::error(format!("no command '{topic}': `help` lists them all"))];
    }
    let mut text = String::new();
    for c in matches {
        text.push_str(&format!("{}\n  {}\n", c.usage, c.about));
        if c.usage.contains("PAYLOAD") {
            text.push_str(&format!("  {PAYLOAD_HELP}\n"));
        }
    }
    vec![Event::say(text)]
}
