//! `cargo bench`: how long each demo takes (target: under 1.5 s each) and
//! how fast netlab starts. Numbers are printed, never asserted — timing
//! belongs in a benchmark, not in a test that a loaded machine can fail.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use netlab::event::Recorder;
use netlab::lab::Lab;

const RUNS: usize = 20;
const DEMO_TARGET: Duration = Duration::from_millis(1500);

fn stats(mut times: Vec<Duration>) -> (Duration, Duration, Duration) {
    times.sort();
    let median = times[times.len() / 2];
    (times[0], median, times[times.len() - 1])
}

fn ms(d: Duration) -> String {
    format!("{:8.2} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    println!("{:<24} {:>11} {:>11} {:>11}  target", "what", "min", "median", "max");
    for demo in netlab::demo::DEMOS {
        let times: Vec<Duration> = (0..RUNS)
            .map(|_| {
                let mut lab = Lab::new(Box::new(Recorder::new()));
                let start = Instant::now();
                let ok = netlab::demo::run(demo, &mut lab);
                let took = start.elapsed();
                if !ok {
                    eprintln!("demo {} failed a check during the benchmark", demo.name);
                }
                took
            })
            .collect();
        let (min, median, max) = stats(times);
        let verdict = if max < DEMO_TARGET { "ok (< 1.5 s)" } else { "SLOW (≥ 1.5 s)" };
        println!("{:<24} {} {} {}  {verdict}", format!("demo {}", demo.name), ms(min), ms(median), ms(max));
    }
    for args in [&["--version"][..], &["lessons"], &["lint"]] {
        let times: Vec<Duration> = (0..RUNS)
            .map(|_| {
                let start = Instant::now();
                let status = Command::new(env!("CARGO_BIN_EXE_netlab"))
                    .args(args)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
                if !status.is_ok_and(|s| s.success()) {
                    eprintln!("netlab {args:?} failed during the benchmark");
                }
                start.elapsed()
            })
            .collect();
        let (min, median, max) = stats(times);
        println!("{:<24} {} {} {}", format!("netlab {}", args.join(" ")), ms(min), ms(median), ms(max));
    }
}
