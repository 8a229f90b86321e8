pub fn run(_lab: &mut crate::lab::Lab) -> Result<(), String> {
    Err("todo".into())
}
