//! Splitting a command line into words, keeping quoted payloads intact.
//!
//! `send cli repeat:3:"a b" u32be:5` is three words after `send`: quotes
//! group spaces, and the quotes stay in the word so the payload parser can
//! tell text (`"5"`) from syntax (`u32be:5`).

/// Split on whitespace outside quotes. Quotes and escapes are kept verbatim.
pub fn split(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(_), '\\') => {
                word.push(c);
                match chars.next() {
                    Some(next) => word.push(next),
                    None => return Err("a backslash ends the line: finish the escape, e.g. \\n".into()),
                }
            }
            (Some(q), c) if c == q => {
                word.push(c);
                quote = None;
            }
            (Some(_), c) => word.push(c),
            (None, '"' | '\'') => {
                word.push(c);
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if let Some(q) = quote {
        return Err(format!("unterminated quote: add a closing {q}"));
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

/// Words of one command, with `as NAME` and `--flags` picked out.
#[derive(Debug, Default)]
pub struct Args {
    pub positional: Vec<String>,
    pub name: Option<String>,
    flags: Vec<(String, Option<String>)>,
}

impl Args {
    /// `value_flags` are the flags that take a value (`--timeout 500`).
    pub fn parse(words: &[String], value_flags: &[&str], bool_flags: &[&str]) -> Result<Args, String> {
        let mut args = Args::default();
        let mut i = 0;
        while i < words.len() {
            let w = &words[i];
            if w == "as" {
                let name = words.get(i + 1).ok_or("`as` needs a name after it, e.g. `as srv`")?;
                check_name(name)?;
                if args.name.is_some() {
                    return Err("`as NAME` given twice: give one name".into());
                }
                args.name = Some(name.clone());
                i += 2;
            } else if let Some(flag) = w.strip_prefix("--") {
                if args.has(flag) {
                    return Err(format!("--{flag} given twice: give it once"));
                }
                if value_flags.contains(&flag) {
                    let v = words.get(i + 1).ok_or_else(|| format!("--{flag} needs a value"))?;
                    args.flags.push((flag.to_string(), Some(v.clone())));
                    i += 2;
                } else if bool_flags.contains(&flag) {
                    args.flags.push((flag.to_string(), None));
                    i += 1;
                } else {
                    let known: Vec<String> = value_flags.iter().chain(bool_flags).map(|f| format!("--{f}")).collect();
                    return Err(if known.is_empty() {
                        format!("unknown option --{flag}: this command takes none")
                    } else {
                        format!("unknown option --{flag}: this command takes {}", known.join(", "))
                    });
                }
            } else if w.len() > 1 && w.starts_with('-') && w[1..].starts_with(|c: char| c.is_ascii_alphabetic()) {
                return Err(format!("unknown option {w}: options start with two dashes, e.g. -{w}"));
            } else {
                args.positional.push(w.clone());
                i += 1;
            }
        }
        Ok(args)
    }

    pub fn has(&self, flag: &str) -> bool {
        self.flags.iter().any(|(f, _)| f == flag)
    }

    pub fn value(&self, flag: &str) -> Option<&str> {
        self.flags.iter().find(|(f, _)| f == flag).and_then(|(_, v)| v.as_deref())
    }

    /// A numeric flag value, with an error that names the flag.
    pub fn number<T: std::str::FromStr>(&self, flag: &str) -> Result<Option<T>, String> {
        self.value(flag).map(|v| v.parse().map_err(|_| format!("--{flag} wants a whole number, not '{v}'"))).transpose()
    }
}

/// Socket names: short identifiers, so they never look like addresses.
pub fn check_name(name: &str) -> Result<(), String> {
    if name.chars().count() > 24 {
        return Err(format!("socket names are at most 24 characters; '{name}' is {}", name.chars().count()));
    }
    if name == "as" {
        return Err("'as' introduces a name, so it cannot be one: try `as srv`".into());
    }
    let mut chars = name.chars();
    let ok_start = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    let ok_rest = chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ok_start && ok_rest {
        Ok(())
    } else {
        Err(format!("'{name}' is not a usable socket name: start with a letter, then letters, digits, _ or -"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_group_words_and_stay_in_them() {
        let w = split(r#"send cli "hello world" repeat:2:'a b' u32be:5"#).unwrap();
        assert_eq!(w, vec!["send", "cli", "\"hello world\"", "repeat:2:'a b'", "u32be:5"]);
    }

    #[test]
    fn escaped_quote_does_not_close() {
        let w = split(r#"send cli "say \"hi\"""#).unwrap();
        assert_eq!(w[2], r#""say \"hi\"""#);
    }

    #[test]
    fn unterminated_quote_is_an_error() {
        assert!(split("send cli \"oops").unwrap_err().contains("unterminated"));
    }

    #[test]
    fn flags_and_names_anywhere() {
        let words = split("tcp listen --backlog 5 as srv 127.0.0.1:0 --no-reuseaddr").unwrap();
        let a = Args::parse(&words, &["backlog"], &["no-reuseaddr"]).unwrap();
        assert_eq!(a.positional, vec!["tcp", "listen", "127.0.0.1:0"]);
        assert_eq!(a.name.as_deref(), Some("srv"));
        assert!(a.has("no-reuseaddr"));
        assert_eq!(a.number::<i32>("backlog").unwrap(), Some(5));
    }

    #[test]
    fn repeated_flags_and_bad_names_are_errors() {
        let parse = |l: &str| Args::parse(&split(l).unwrap(), &["timeout"], &["peek"]);
        assert!(parse("recv c --timeout 1 --timeout 2").unwrap_err().contains("twice"));
        assert!(parse("tcp listen as a as b").unwrap_err().contains("twice"));
        assert!(parse("tcp listen as as").unwrap_err().contains("cannot be one"));
        assert!(check_name(&"x".repeat(30)).unwrap_err().contains("at most 24"));
        assert!(parse("recv c 4 -as u32be").unwrap_err().contains("e.g. --as"));
    }

    #[test]
    fn unknown_flag_names_the_known_ones() {
        let words = split("recv conn --peak").unwrap();
        let e = Args::parse(&words, &["timeout"], &["peek"]).unwrap_err();
        assert!(e.contains("--peak") && e.contains("--peek"), "{e}");
    }
}
