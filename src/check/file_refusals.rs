//! What a file server must refuse: an upload whose sha256 does not match
//! its bytes (and then store nothing), and any name that leaves its
//! directory — `../../…/etc/passwd`, `/etc/passwd`, a put to `/tmp/…`.
//! The classic server does `open(os.path.join(root, name))`: `..` climbs
//! out, and an absolute name replaces the root altogether.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;

use super::Test;
use super::dialect::Frame;
use super::file::{FileProto, ask, list_names, sha256_hex, status};
use super::framing::{random_tag, reason};
use super::report::Failure;
use super::stream::{self, reframe};

pub fn bad_sha256(d: Arc<FileProto>) -> Test {
    Test::new(
        "bad-sha256",
        "a put whose sha256 is not its bytes' is refused, the file is not stored, and the connection goes on",
        move |cx| {
            let mut conn = stream::open(cx, &*d)?;
            let name = format!("netlab-check-badsha-{}.txt", random_tag());
            let body = b"these bytes were damaged on the way\n";
            let claimed = sha256_hex(b"these bytes were sent on the way\n");
            let request = d.put_claiming(&name, body, &claimed);
            let frame = ask(&mut conn, &d, &request, &format!("put {name} with a wrong sha256"))?;
            if status(&frame) != "error" {
                return Err(Failure::new(
                    "your server accepted an upload whose sha256 does not match its bytes: hash what arrived, \
                     compare it with the header's sha256, and refuse the put (storing nothing) when they differ",
                )
                .fact(format!("the header said {claimed}; the bytes hash to {}", sha256_hex(body)))
                .sent(&request));
            }
            let names = list_names(&mut conn, &d).map_err(|f| {
                reframe(
                    f,
                    "after refusing an upload your server lost its place in the stream: read the whole body \
                     (data_size bytes) even when you refuse it, so the next request starts where it should",
                )
            })?;
            if names.iter().any(|(n, _)| *n == name) {
                return Err(Failure::new(format!(
                    "your server refused the put but kept the file: {name} is in the list — write an upload to a \
                     temporary file and rename it only once its sha256 matched"
                )));
            }
            Ok(format!("refused ({}); nothing was stored; the connection went on", reason(&frame)))
        },
    )
}

/// One request with a name outside the root, and the file it would make.
struct Escape {
    name: String,
    put: bool,
    canary: Option<PathBuf>,
}

fn escapes(tag: &str) -> Vec<Escape> {
    let rel = format!("/tmp/netlab-check-{tag}-rel");
    let abs = format!("/tmp/netlab-check-{tag}-abs");
    vec![
        Escape { name: "../../../../../../etc/passwd".into(), put: false, canary: None },
        Escape { name: "/etc/passwd".into(), put: false, canary: None },
        Escape { name: format!("../../../../../..{rel}"), put: true, canary: Some(rel.into()) },
        Escape { name: abs.clone(), put: true, canary: Some(abs.into()) },
    ]
}

pub fn traversal(d: Arc<FileProto>) -> Test {
    Test::new(
        "traversal",
        "get ../../…/etc/passwd and /etc/passwd, put ../../…/tmp/… and /tmp/…: refused, no file made outside",
        move |cx| {
            let cases = escapes(&random_tag());
            // Every case runs, so a server that both reads and writes
            // outside is shown doing both.
            let results: Vec<Result<(), Refused>> = cases.iter().map(|case| refused(cx, &d, case)).collect();
            // The proof goes, whatever happened (and before a failure is
            // reported, so a failing run leaves nothing behind either).
            let made: Vec<&Path> = cases.iter().filter_map(|c| c.canary.as_deref()).filter(|p| p.exists()).collect();
            for path in &made {
                let _ = std::fs::remove_file(path);
            }
            let mut failures: Vec<Refused> = results.into_iter().filter_map(Result::err).collect();
            // Writing outside is the worse: it heads the report.
            failures.sort_by_key(|r| !r.wrote);
            let mut failures = failures.into_iter().map(|r| r.failure);
            if let Some(first) = failures.next() {
                let also = |f: Failure, other: Failure| {
                    let what = other.assumption.split(" — ").next().unwrap_or_default().to_string();
                    f.fact(format!("also: {what}"))
                };
                return Err(failures.fold(first, also));
            }
            if let Some(path) = made.first() {
                return Err(Failure::new(format!(
                    "your server wrote {} outside its directory even though it replied with an error",
                    path.display()
                )));
            }
            Ok("4 names outside the directory were refused, and no file appeared outside it".into())
        },
    )
}

/// A request outside the root that was not refused; `wrote`: it made a file there.
struct Refused {
    failure: Failure,
    wrote: bool,
}

impl From<Failure> for Refused {
    fn from(failure: Failure) -> Self {
        Refused { failure, wrote: false }
    }
}

fn refused(cx: &super::Cx, d: &FileProto, case: &Escape) -> Result<(), Refused> {
    let mut conn = stream::open(cx, d)?;
    let body = b"netlab check: if you can read this, the server wrote outside its directory\n";
    let (request, what) = if case.put {
        (d.put(&case.name, body), format!("put {}", case.name))
    } else {
        (d.get(&case.name), format!("get {}", case.name))
    };
    let reply = ask(&mut conn, d, &request, &what);
    if let Some(canary) = case.canary.as_deref().filter(|p| p.exists()) {
        let failure = Failure::new(format!(
            "your server wrote a file outside its directory: {what} created {} — a client could overwrite any \
             file you can; refuse names with '/' or '..' (a name is one path component)",
            canary.display()
        ))
        .sent(&request);
        return Err(Refused { failure, wrote: true });
    }
    let frame = reply.map_err(|f| {
        let why = format!(
            "your server did not refuse {what} with an error reply: reply {{\"status\": \"error\"}} and keep serving"
        );
        reframe(f, why)
    })?;
    if status(&frame) == "error" {
        return Ok(());
    }
    Err(escaped(&what, case, &frame).sent(&request).into())
}

/// The failure for a request outside the root that was not refused.
fn escaped(what: &str, case: &Escape, frame: &Frame) -> Failure {
    if !case.put {
        let passwd = frame.body.windows(5).any(|w| w == b"root:");
        let shown = if passwd { "the machine's /etc/passwd" } else { "a file" };
        return Failure::new(format!(
            "your server served a file outside its directory: {what} sent {} bytes of {shown} — refuse names with \
             '/' or '..' (a name is one path component)",
            frame.body.len()
        ));
    }
    Failure::new(format!(
        "your server accepted {what}: a name with '/' or '..' must be refused with an error, not stored somewhere \
         else"
    ))
    .fact(format!("its header: {}", Value::Object(frame.header.clone())))
}
