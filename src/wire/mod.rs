//! Kernel socket state, read the way `ss` and `netstat` do — without privileges.
//!
//! A socket is a kernel object: the bytes waiting in its queues and the TCP
//! state machine (LISTEN, ESTABLISHED, TIME_WAIT, …) live in the kernel, not in
//! your process. Linux exposes that state in two unprivileged ways:
//!
//! * [`kernel`] parses the text tables `/proc/net/{tcp,tcp6,udp,udp6}`, one row
//!   per socket in this network namespace (including sockets that no process
//!   owns any more, such as TIME_WAIT), and matches rows to your own file
//!   descriptors by inode or by address pair.
//! * [`queues`] asks the kernel about one socket you hold, via `ioctl`s:
//!   how many bytes are waiting to be read, and how many are still in flight.
//! * [`listen_queue`] asks a listener for its accept queue and its backlog.
//! * [`sock_diag`] asks after one socket by its addresses, held by any
//!   process (netlink, as `ss` does): a hash lookup, where /proc walks
//!   the whole table.

pub mod kernel;
pub mod listen_queue;
pub mod queues;
pub mod sock_diag;
pub mod unix;

pub use kernel::{KernelEntry, Proto, TcpState};
