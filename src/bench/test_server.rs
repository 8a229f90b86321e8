//! Tiny in-process servers for the bench's unit tests: a listener on
//! 127.0.0.1, port 0 (loopback only, never a fixed port), each accepted
//! connection handed to a function of the test's choosing.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// How the server treats its connections.
#[derive(Clone, Copy)]
pub enum Serve {
    /// A thread per connection running the function.
    Each(fn(TcpStream, usize)),
    /// One connection at a time, like the iterative model.
    InTurn(fn(TcpStream, usize)),
}

/// A running test server; dropping it stops accepting and joins every
/// thread (the connection functions end when their client closes).
pub struct TestServer {
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    acceptor: Option<JoinHandle<()>>,
}

impl TestServer {
    pub fn start(serve: Serve) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let acceptor = std::thread::spawn(move || {
            let mut handles = Vec::new();
            let mut n = 0;
            while !flag.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((s, _)) => {
                        s.set_nonblocking(false).unwrap();
                        s.set_nodelay(true).unwrap();
                        match serve {
                            Serve::Each(f) => handles.push(std::thread::spawn(move || f(s, n))),
                            Serve::InTurn(f) => f(s, n),
                        }
                        n += 1;
                    }
                    // Wait for the next client, looking at the stop flag
                    // every 20 ms.
                    Err(_) => {
                        let _ = crate::lab::cancel::wait_fd(
                            listener.as_fd(),
                            nix::poll::PollFlags::POLLIN,
                            Duration::from_millis(20),
                        );
                    }
                }
            }
            handles.into_iter().for_each(|h| h.join().unwrap());
        });
        TestServer { addr, stop, acceptor: Some(acceptor) }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.acceptor.take() {
            let _ = t.join();
        }
    }
}

/// Echo everything until EOF.
pub fn echo(mut s: TcpStream, _n: usize) {
    let mut buf = [0u8; 512];
    while let Ok(n @ 1..) = s.read(&mut buf) {
        if s.write_all(&buf[..n]).is_err() {
            break;
        }
    }
}

/// Read and discard until EOF; never reply.
pub fn swallow(mut s: TcpStream, _n: usize) {
    let mut buf = [0u8; 512];
    while let Ok(1..) = s.read(&mut buf) {}
}
