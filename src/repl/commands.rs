pub const REPL_WORDS: [&str; 0] = [];
