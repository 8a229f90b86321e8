//! Finding where things are in a lesson file, for `file:line:col` messages.
//!
//! serde gives positions only for syntax errors, so semantic errors (a bad
//! command in step 7) are located by scanning the text: the `steps:` list
//! items and the keys inside each item. Lines and columns are 1-based.

pub struct Locator<'a> {
    lines: Vec<&'a str>,
    /// 0-based line index where each step's `- ` item starts.
    step_starts: Vec<usize>,
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

fn is_blank_or_comment(line: &str) -> bool {
    let t = line.trim_start();
    t.is_empty() || t.starts_with('#')
}

impl<'a> Locator<'a> {
    pub fn new(text: &'a str) -> Self {
        let lines: Vec<&str> = text.lines().collect();
        let mut step_starts = Vec::new();
        if let Some(start) = lines.iter().position(|l| l.trim_end().starts_with("steps:") && indent(l) == 0) {
            let mut item_indent = None;
            for (i, line) in lines.iter().enumerate().skip(start + 1) {
                if is_blank_or_comment(line) {
                    continue;
                }
                if indent(line) == 0 && !line.starts_with('-') {
                    break; // the next top-level key
                }
                let is_item = line.trim_start().starts_with("- ") || line.trim() == "-";
                match item_indent {
                    None if is_item => {
                        item_indent = Some(indent(line));
                        step_starts.push(i);
                    }
                    Some(n) if is_item && indent(line) == n => step_starts.push(i),
                    _ => {}
                }
            }
        }
        Locator { lines, step_starts }
    }

    /// Where a top-level key's value starts, or line 1.
    pub fn top_key(&self, key: &str) -> (usize, usize) {
        let prefix = format!("{key}:");
        self.lines
            .iter()
            .position(|l| l.starts_with(&prefix))
            .map_or((1, 1), |i| (i + 1, value_col(self.lines[i], 0, &prefix)))
    }

    /// Where `key` is inside step `index` (0-based); the step's dash when
    /// the key is empty or not found.
    pub fn step_key(&self, index: usize, key: &str) -> (usize, usize) {
        let Some(&start) = self.step_starts.get(index) else {
            return self.top_key("steps");
        };
        let end = self.step_starts.get(index + 1).copied().unwrap_or(self.lines.len());
        let dash = (start + 1, indent(self.lines[start]) + 1);
        if key.is_empty() {
            return dash;
        }
        let prefix = format!("{key}:");
        for i in start..end {
            let line = self.lines[i];
            let body = line.trim_start().trim_start_matches("- ").trim_start();
            if body.starts_with(&prefix) {
                let from = line.len() - body.len();
                return (i + 1, value_col(line, from, &prefix));
            }
        }
        dash
    }
}

/// 1-based column of the value after `prefix` (at byte `from` of `line`).
fn value_col(line: &str, from: usize, prefix: &str) -> usize {
    let after = from + prefix.len();
    let rest = &line[after.min(line.len())..];
    let spaces = rest.len() - rest.trim_start().len();
    line[..(after + spaces).min(line.len())].chars().count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "format: 1\nid: x\nsteps:\n  - say: hi\n  - run: tcp listen\n    expect: { ok: true }\n  -\n    try: send\nrequires: []\n";

    #[test]
    fn finds_steps_and_keys() {
        let l = Locator::new(TEXT);
        assert_eq!(l.top_key("id"), (2, 5));
        assert_eq!(l.step_key(0, "say"), (4, 10));
        assert_eq!(l.step_key(1, "run"), (5, 10));
        assert_eq!(l.step_key(1, "expect"), (6, 13));
        assert_eq!(l.step_key(2, "try"), (8, 10));
        assert_eq!(l.step_key(2, ""), (7, 3));
        assert_eq!(l.top_key("requires"), (9, 11));
    }
}
