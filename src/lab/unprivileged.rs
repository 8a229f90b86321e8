//! Running one call the way an ordinary user would, while netlab runs as root.
//!
//! Root passes every file-permission check because it holds
//! CAP_DAC_OVERRIDE (and CAP_DAC_READ_SEARCH for directories). On Linux
//! capabilities belong to each thread, so a short-lived thread can drop
//! them from its effective set, make its calls, and end: the rest of the
//! process keeps its privileges. For a user without those capabilities the
//! drop changes nothing, which is the point.

use std::io;

use nix::libc;

/// `_LINUX_CAPABILITY_VERSION_3`: two 32-bit words per set.
const CAP_VERSION_3: u32 = 0x2008_0522;
const CAP_DAC_OVERRIDE: u32 = 1;
const CAP_DAC_READ_SEARCH: u32 = 2;

/// `struct __user_cap_header_struct` (linux/capability.h).
#[repr(C)]
struct CapHeader {
    version: u32,
    /// 0: the calling thread.
    pid: libc::c_int,
}

/// `struct __user_cap_data_struct`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// Drop CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH from the calling thread's
/// effective set. Call it only on a thread that ends soon after.
fn drop_file_capabilities() -> io::Result<()> {
    let mut header = CapHeader { version: CAP_VERSION_3, pid: 0 };
    let mut data = [CapData::default(); 2];
    // SAFETY: capget reads `header` and writes two CapData structs, the
    // layout version 3 defines; both pointers are to live locals of those
    // exact #[repr(C)] types.
    if unsafe { libc::syscall(libc::SYS_capget, &mut header as *mut CapHeader, data.as_mut_ptr()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    data[0].effective &= !((1 << CAP_DAC_OVERRIDE) | (1 << CAP_DAC_READ_SEARCH));
    // SAFETY: as above; capset only reads through both pointers, and it
    // changes the credentials of this thread alone (pid 0).
    if unsafe { libc::syscall(libc::SYS_capset, &mut header as *mut CapHeader, data.as_ptr()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Run `f` on a new thread without the capabilities that bypass file
/// permissions, and return what it returned.
pub fn without_file_capabilities<T: Send>(f: impl FnOnce() -> io::Result<T> + Send) -> io::Result<T> {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                drop_file_capabilities()?;
                f()
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
        let refused = without_file_capabilities(|| std::fs::read(&file));
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(refused.unwrap_err().raw_os_error(), Some(libc::EACCES));
    }
}
