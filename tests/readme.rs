//! The README's tables name every lesson and every demo, so a new one
//! cannot ship undocumented.

fn readme() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap_or_default()
}

#[test]
fn the_readme_lists_every_lesson_and_every_demo() {
    let readme = readme();
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/lessons");
    let mut ids = Vec::new();
    for entry in std::fs::read_dir(dir).expect("lessons/") {
        let text = std::fs::read_to_string(entry.expect("an entry").path()).expect("a lesson file");
        let id = text.lines().find_map(|l| l.strip_prefix("id:")).expect("an id line").trim().to_string();
        ids.push(id);
    }
    assert!(ids.len() >= 15, "lessons found: {ids:?}");
    for id in ids {
        assert!(readme.contains(&format!("| `{id}` |")), "README.md's lesson table lacks {id}");
    }
    for name in netlab::demo::names() {
        assert!(readme.contains(&format!("| `{name}` |")), "README.md's demo table lacks {name}");
    }
}
