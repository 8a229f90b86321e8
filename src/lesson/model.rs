//! Lesson files as written (serde), and lessons as run.

use serde::{Deserialize, Deserializer};

use crate::lab::Command;

/// The lesson file format this netlab reads (`format: 1`).
pub const FORMAT: u32 = 1;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LessonFile {
    pub format: u32,
    pub id: String,
    pub title: String,
    #[serde(default)]
    pub summary: String,
    #[serde(default)]
    pub requires: Vec<String>,
    pub steps: Vec<StepFile>,
}

/// A step as written: a map whose keys say what kind of step it is.
/// (serde_yaml reads externally tagged enums as `!tags`, so the kind is
/// worked out from which keys are present — see `Step::from_file`.)
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct StepFile {
    pub say: Option<String>,
    pub run: Option<String>,
    #[serde(rename = "try")]
    pub try_: Option<String>,
    pub predict: Option<Predict>,
    pub expect: Option<Expect>,
    pub demo: Option<String>,
    pub hint: Option<String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Predict {
    pub ask: String,
    pub choices: Vec<String>,
    /// 1-based index into `choices`.
    pub answer: usize,
    #[serde(default)]
    pub explain: Option<String>,
}

/// Assertions on the last command's outcome; every key given must hold.
#[derive(Debug, Clone, Deserialize, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    pub ok: Option<bool>,
    pub error: Option<String>,
    pub bytes: Option<String>,
    pub hex: Option<String>,
    pub len: Option<usize>,
    pub min_len: Option<usize>,
    pub max_len: Option<usize>,
    pub truncated: Option<bool>,
    pub real_len: Option<usize>,
    pub state: Option<String>,
    pub sock: Option<String>,
    #[serde(default, deserialize_with = "scalar_string")]
    pub value: Option<String>,
}

impl Expect {
    pub fn is_empty(&self) -> bool {
        *self == Expect::default()
    }
}

/// `value: 1` and `value: "1"` mean the same to a lesson author.
fn scalar_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let v = serde_yaml::Value::deserialize(d)?;
    match v {
        serde_yaml::Value::Null => Ok(None),
        serde_yaml::Value::String(s) => Ok(Some(s)),
        serde_yaml::Value::Number(n) => Ok(Some(n.to_string())),
        serde_yaml::Value::Bool(b) => Ok(Some(b.to_string())),
        _ => Err(serde::de::Error::custom("value must be a string or a number")),
    }
}

#[derive(Debug, Clone)]
pub struct Lesson {
    pub id: String,
    pub title: String,
    pub summary: String,
    pub requires: Vec<String>,
    pub steps: Vec<Step>,
    /// The file it came from, for messages.
    pub file: String,
}

#[derive(Debug, Clone)]
pub enum Step {
    Say(String),
    Run { line: String, command: Command, expect: Option<Expect>, hint: Option<String> },
    Try { line: String, command: Command, expect: Option<Expect>, hint: Option<String> },
    Predict { predict: Predict, hint: Option<String> },
    Expect(Expect),
    Demo(String),
    Hint(String),
}

impl Step {
    pub fn hint(&self) -> Option<&str> {
        match self {
            Step::Run { hint, .. } | Step::Try { hint, .. } | Step::Predict { hint, .. } => hint.as_deref(),
            Step::Hint(h) => Some(h),
            _ => None,
        }
    }

    /// Build a runnable step, or say (for lint) what is wrong with it.
    /// Errors carry the key they are about, to point at its line.
    pub fn from_file(f: StepFile) -> Result<Step, (&'static str, String)> {
        let kinds: Vec<&'static str> = [
            ("say", f.say.is_some()),
            ("run", f.run.is_some()),
            ("try", f.try_.is_some()),
            ("predict", f.predict.is_some()),
            ("demo", f.demo.is_some()),
        ]
        .into_iter()
        .filter_map(|(k, present)| present.then_some(k))
        .collect();
        let parse =
            |key: &'static str, line: &str| Command::parse(line).map_err(|e| (key, format!("bad command: {e}")));
        match (kinds.as_slice(), f) {
            ([], StepFile { expect: Some(e), hint: None, .. }) => Ok(Step::Expect(e)),
            ([], StepFile { hint: Some(h), expect: None, .. }) => Ok(Step::Hint(h)),
            ([], StepFile { expect: Some(_), hint: Some(_), .. }) => {
                Err(("hint", "a standalone expect step cannot carry a hint".into()))
            }
            ([], _) => Err(("", "step has no kind: give it one of say, run, try, predict, expect, demo, hint".into())),
            ([_, second, ..], _) => {
                Err((second, format!("step has two kinds ({}): one kind per step", kinds.join(", "))))
            }
            (["say"], StepFile { say: Some(s), expect: None, hint: None, .. }) => Ok(Step::Say(s)),
            (["demo"], StepFile { demo: Some(d), expect: None, hint: None, .. }) => Ok(Step::Demo(d)),
            (["say" | "demo"], StepFile { expect: Some(_), .. }) => {
                Err(("expect", "expect belongs on a run or try step".into()))
            }
            (["say" | "demo"], _) => Err(("hint", "hint belongs on a run, try or predict step, or on its own".into())),
            (["run"], StepFile { run: Some(line), expect, hint, .. }) => {
                Ok(Step::Run { command: parse("run", &line)?, line, expect, hint })
            }
            (["try"], StepFile { try_: Some(line), expect, hint, .. }) => {
                Ok(Step::Try { command: parse("try", &line)?, line, expect, hint })
            }
            (["predict"], StepFile { expect: Some(_), .. }) => {
                Err(("expect", "a predict step checks the answer; put expect on a run step".into()))
            }
            (["predict"], StepFile { predict: Some(predict), hint, .. }) => Ok(Step::Predict { predict, hint }),
            _ => Err(("", "unrecognised step".into())),
        }
    }
}
