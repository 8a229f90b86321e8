//! The command line: a thin clap shell; the work lives in the library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

use crate::render::Format;

const EXAMPLES: &str = "\
Examples:
  netlab                      start (or resume) the lessons in the REPL
  netlab lessons              list the lessons and your progress
  netlab lesson sticky-packets
  netlab demo sticky          watch two sends arrive in one recv, live
  netlab demo --list
  netlab demo udp --format json
  netlab demo udp-loss --seed 7   replay the lossy relay's choices for seed 7
  netlab serve echo           an echo server on 127.0.0.1 (port printed), until Ctrl-C
  netlab serve upper --model iterative
  netlab check echo 127.0.0.1:5000     test your own echo server, hostile clients and all
  netlab check upper -- python3 server.py {port}   netlab starts it, tests it, stops it
  netlab bench --quick        echo per model, framing cost, connections held (< 10 s)
  netlab lint my-lessons/     check lesson files you wrote
  printf 'tcp listen as srv\\nsockets\\n' | netlab    script the playground

Exit status: 0 ok, 1 a check failed (a demo's expected effect, or book --check),
2 usage or input error.";

const CHECK_EXAMPLES: &str = "\
Examples:
  netlab check echo 127.0.0.1:5000                 a server you started yourself
  netlab check echo -- python3 echo_server.py      netlab starts it; its port is in $PORT
  netlab check upper -- ./upper {port}             … or in place of {port}
  netlab check auth --key hunter2 -- node auth.js
  netlab check framed --only one-byte-writes,large --verbose 5000
  netlab check --list                              every protocol's tests

A failed test names the assumption that broke, shows the bytes (the first
difference marked ^^) and its byte log. Exit status: 0 all passed, 1 a
test failed, 2 usage error (bad address, nothing listening, bad options).";

#[derive(Debug, Parser)]
#[command(name = "netlab", version, about = "A learning lab for socket programming: lessons and live demos on real kernel sockets", after_help = EXAMPLES)]
pub struct Cli {
    /// Use the lessons in DIR instead of the built-in ones.
    #[arg(long, global = true, value_name = "DIR")]
    pub lessons: Option<PathBuf>,
    /// Plain output, no colors (also: NO_COLOR=1, or any non-terminal output).
    #[arg(long, global = true)]
    pub no_color: bool,
    #[command(subcommand)]
    pub command: Option<Cmd>,
}

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// List the lessons with your progress (✓ done, ▸ current, · to do).
    Lessons {
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Open the REPL at a lesson, by id or number.
    Lesson { lesson: String },
    /// Run one narrated live demo and exit.
    Demo {
        /// Demo name (without one, or with --list: the list).
        name: Option<String>,
        /// List the demos.
        #[arg(long)]
        list: bool,
        /// Seed for demos with a seeded lossy relay (udp-loss): the same
        /// seed replays the same drops, duplicates and reorders.
        #[arg(long, value_name = "N")]
        seed: Option<u64>,
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Run a reference server on loopback until Ctrl-C or SIGTERM.
    Serve(crate::serve::Config),
    /// Test a server you wrote (any language) with hostile clients: where does it break?
    #[command(after_help = CHECK_EXAMPLES)]
    Check(crate::check::CheckArgs),
    /// Measure the reference servers: echo per model, framing cost, connections held.
    Bench {
        /// Shorter runs (under 10 s): every section, smaller numbers.
        #[arg(long)]
        quick: bool,
        /// Models to measure, comma-separated (default: all).
        #[arg(long, value_enum, value_delimiter = ',', value_name = "M,…")]
        models: Vec<crate::serve::Model>,
        /// Connections the epoll server is asked to hold (default 10000; --quick 1000).
        #[arg(long, value_name = "N")]
        conns: Option<usize>,
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// The bench's connection load generator, run by `netlab bench` as a child.
    #[command(hide = true)]
    BenchLoad {
        #[arg(long)]
        addr: std::net::SocketAddr,
        #[arg(long, value_name = "N")]
        conns: usize,
        #[arg(long, value_name = "N", default_value_t = 100)]
        sample: usize,
    },
    /// Check lesson files; prints file:line:col: message, exit 2 on problems.
    Lint {
        /// Directory of lesson files (default: --lessons DIR, else the built-in lessons).
        dir: Option<PathBuf>,
    },
    /// Write the lessons as mdBook chapters (or --check that they are current).
    Book {
        #[arg(long, default_value = "book/src")]
        out: PathBuf,
        /// Compare instead of writing; exit 1 if a chapter is out of date.
        #[arg(long)]
        check: bool,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions { shell: clap_complete::Shell },
    /// Show your progress, or --reset it.
    Progress {
        #[arg(long)]
        reset: bool,
    },
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    crate::render::init_color(cli.no_color);
    let result = match cli.command {
        None => crate::repl::start(cli.lessons.as_deref(), None),
        Some(Cmd::Lesson { lesson }) => crate::repl::start(cli.lessons.as_deref(), Some(&lesson)),
        Some(Cmd::Lessons { format }) => crate::commands::lessons(cli.lessons.as_deref(), format),
        Some(Cmd::Demo { list: true, format, .. }) => crate::commands::demo_list(format),
        Some(Cmd::Demo { name: None, format, .. }) => crate::commands::demo_list(format),
        Some(Cmd::Demo { name: Some(name), format, seed, .. }) => crate::commands::demo(&name, format, seed),
        Some(Cmd::Serve(config)) => crate::commands::serve(&config),
        Some(Cmd::Check(args)) => crate::commands::check(&args),
        Some(Cmd::Bench { quick, models, conns, format }) => crate::commands::bench(quick, models, conns, format),
        Some(Cmd::BenchLoad { addr, conns, sample }) => crate::bench::load::main(addr, conns, sample)
            .map_err(|e| crate::commands::Failure::Usage(format!("bench-load: {e}"))),
        Some(Cmd::Lint { dir }) => crate::commands::lint(dir.as_deref().or(cli.lessons.as_deref())),
        Some(Cmd::Book { out, check }) => crate::commands::book(cli.lessons.as_deref(), &out, check),
        Some(Cmd::Completions { shell }) => {
            clap_complete::generate(shell, &mut Cli::command(), "netlab", &mut std::io::stdout());
            Ok(())
        }
        Some(Cmd::Progress { reset }) => crate::commands::progress(reset),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failure.report(),
    }
}
