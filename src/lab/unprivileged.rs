//! Running one call the way an ordinary user would, while netlab runs as root.
//!
//! Root passes every file-permission check because it holds
//! CAP_DAC_OVERRIDE (and CAP_DAC_READ_SEARCH for directories). On Linux
//! capabilities belong to each thread, so a short-lived thread can drop
//! them from its effective set, make its calls, and end: the rest of the
//! process keeps its privileges. For a user without those capabilities the
//! drop changes nothing, which is the point.

use std::io;

/// Bit numbers from linux/capability.h.
const CAP_DAC_OVERRIDE: u32 = 1;
const CAP_DAC_READ_SEARCH: u32 = 2;

/// Run `f` on a new thread without the capabilities that bypass file
/// permissions. `Err`: the capabilities could not be dropped, and `f` never
/// ran; `Ok`: what `f` returned.
pub fn without_file_capabilities<T: Send>(f: impl FnOnce() -> T + Send) -> io::Result<T> {
    // A scoped thread: joined before this returns, so it never outlives the call.
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                super::privileged::drop_effective((1 << CAP_DAC_OVERRIDE) | (1 << CAP_DAC_READ_SEARCH))?;
                Ok(f())
            })
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the unprivileged thread panicked")))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_mode_000_file_is_refused_without_the_capability() {
        let dir = std::env::temp_dir().join(format!("netlab-captest-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("locked");
        std::fs::write(&file, b"x").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o000)).unwrap();
        let refused = without_file_capabilities(|| std::fs::read(&file)).expect("capabilities dropped");
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(refused.unwrap_err().raw_os_error(), Some(nix::libc::EACCES));
    }
}
