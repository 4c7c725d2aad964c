//! `vmlab jvm CLASSPATH_DIR MainClass`: runs javac-compiled classes on vmlab's JVM
//! with a chosen collector and heap size, `--trace` of every bytecode, and a `--json`
//! report (output, outcome, bytecodes, collector counters, and with `--heap-view` the
//! heap's objects, references and free ranges). `--jit-threshold` sets when hot
//! methods compile to x86; the report counts bytecodes interpreted and x86
//! instructions retired, lists the JIT's events and, with `--jit-view`, each compiled
//! region's bytecode beside its x86; `--step-compiled N` steps the x86 of the first
//! compiled code entered (`jvm_step.rs`).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use serde_json::json;
use vmlab_jvm::{ClassSource, GcKind, Outcome, Vm, VmConfig};

use crate::linux::parse_size;
use crate::run::{EXIT_BAD_INPUT, EXIT_BUDGET};

/// Options of `vmlab jvm`.
#[derive(Args, Debug)]
pub struct JvmArgs {
    /// The folder holding the `.class` files (`pkg/Name.class` for `pkg.Name`).
    pub classpath: PathBuf,
    /// The class whose `public static void main(String[])` runs.
    pub main_class: String,
    /// The garbage collector: mark-sweep or copying (semi-space).
    #[arg(long, default_value = "mark-sweep", value_parser = parse_gc)]
    pub gc: GcKind,
    /// The heap's size in bytes (K and M suffixes); the copying collector uses half at a time.
    #[arg(long, value_name = "BYTES", default_value = "1M", value_parser = parse_size)]
    pub heap: u64,
    /// Print every bytecode with its frame depth and operand stack (to stderr, or in the JSON).
    #[arg(long)]
    pub trace: bool,
    /// Most steps to run: bytecodes interpreted plus x86 instructions of compiled code.
    #[arg(long, value_name = "N", default_value_t = 2_000_000_000)]
    pub budget: u64,
    /// Print a JSON report instead of the program's output.
    #[arg(long)]
    pub json: bool,
    /// Add the heap at the end to the JSON report: every object with its class, size,
    /// references, whether the last collection marked or moved it, and the free ranges.
    #[arg(long, requires = "json")]
    pub heap_view: bool,
    /// Invocations plus back edges after which a method compiles to x86 that vmlab's
    /// CPU runs; 0 turns the JIT off.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub jit_threshold: u32,
    /// Add every compiled region to the JSON report: each bytecode beside its x86,
    /// and the NASM listing.
    #[arg(long, requires = "json")]
    pub jit_view: bool,
    /// Stop before the first compiled code the program enters, step N of its x86
    /// instructions in the JIT's machine (in the JSON report as `jit.stepped`, or on
    /// stderr), then run on.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub step_compiled: u32,
}

/// `--step-compiled` without `--json`: one line per x86 instruction, on stderr.
fn print_stepped(r: Option<&crate::jvm_step::StepReport>) {
    let mut err = std::io::stderr().lock();
    let Some(r) = r else {
        let _ = writeln!(err, "vmlab jvm: no compiled code was entered");
        return;
    };
    let _ = writeln!(err, "compiled {} entered at pc {}:", r.method, r.pc);
    for s in &r.steps {
        let pcs = match s.bytecode_pcs {
            Some((a, b)) if a == b => format!("pc {a}"),
            Some((a, b)) => format!("pcs {a}-{b}"),
            None => "exit".into(),
        };
        let _ = writeln!(
            err,
            "  {:08x}  {:<32} {pcs:<10} eax={:08x} ecx={:08x} edx={:08x}",
            s.addr, s.text, s.gpr[0], s.gpr[1], s.gpr[2]
        );
    }
}

fn parse_gc(s: &str) -> Result<GcKind, String> {
    GcKind::parse(s).ok_or_else(|| format!("{s:?} is not a collector: mark-sweep or copying"))
}

/// Class files under a folder.
#[derive(Debug)]
struct DirSource(PathBuf);

impl ClassSource for DirSource {
    fn load(&self, name: &str) -> Option<Vec<u8>> {
        if name
            .split('/')
            .any(|p| p.is_empty() || p == "." || p == "..")
        {
            return None;
        }
        std::fs::read(self.0.join(format!("{name}.class"))).ok()
    }
}

/// Most trace lines the JSON report keeps.
const TRACE_LIMIT: usize = 100_000;

fn fail(json: bool, message: &str) -> ExitCode {
    if json {
        println!(
            "{}",
            json!({ "ok": false, "error": { "kind": "bad-input", "message": message } })
        );
    } else {
        eprintln!("vmlab jvm: {message}");
    }
    ExitCode::from(EXIT_BAD_INPUT)
}

/// Runs `vmlab jvm`.
pub fn run(args: JvmArgs) -> ExitCode {
    if !args.classpath.is_dir() {
        return fail(
            args.json,
            &format!("{}: not a folder of class files", args.classpath.display()),
        );
    }
    let heap_bytes = match u32::try_from(args.heap) {
        Ok(n) if (4096..=1 << 30).contains(&n) => n,
        _ => return fail(args.json, &format!("--heap {}: expected 4K..1G", args.heap)),
    };
    let source = DirSource(args.classpath.clone());
    let config = VmConfig {
        gc: args.gc,
        heap_bytes,
        trace: args.trace,
        jit_threshold: args.jit_threshold,
        ..VmConfig::default()
    };
    let mut vm = match Vm::new(&source, &args.main_class, config) {
        Ok(vm) => vm,
        Err(e) => return fail(args.json, &e.to_string()),
    };
    let mut trace: Vec<String> = Vec::new();
    let mut left = args.budget;
    let stepped = match args.step_compiled {
        0 => None,
        n => match crate::jvm_step::step_compiled(&mut vm, n, left) {
            Ok(r) => {
                left = left.saturating_sub(vm.steps + vm.jit.stats.x86_instructions);
                if !args.json {
                    print_stepped(r.as_ref());
                }
                r
            }
            Err(e) => return fail(args.json, &e),
        },
    };
    let result = loop {
        let slice = left.min(100_000);
        let r = vm.run(slice);
        left -= slice.min(left);
        if args.trace {
            let lines = std::mem::take(&mut vm.trace);
            if args.json {
                let room = TRACE_LIMIT.saturating_sub(trace.len());
                trace.extend(lines.into_iter().take(room));
            } else {
                let mut err = std::io::stderr().lock();
                for l in lines {
                    let _ = writeln!(err, "{l}");
                }
            }
        }
        match r {
            Ok(Outcome::Budget) if left > 0 => continue,
            other => break other,
        }
    };
    let (status, outcome, error) = match &result {
        Ok(Outcome::Finished) => (0u8, Some("finished"), None),
        Ok(Outcome::Uncaught { .. }) => (1, Some("uncaught-exception"), None),
        Ok(Outcome::Budget) => (EXIT_BUDGET, Some("budget"), None),
        Err(e) => (EXIT_BAD_INPUT, None, Some(e.to_string())),
    };
    let uncaught = match &result {
        Ok(Outcome::Uncaught { class, message }) => Some(match message {
            Some(m) => format!(
                "Exception in thread \"main\" {}: {m}",
                class.replace('/', ".")
            ),
            None => format!("Exception in thread \"main\" {}", class.replace('/', ".")),
        }),
        _ => None,
    };
    if args.json {
        let mut report = json!({
            "ok": error.is_none(),
            "main": args.main_class,
            "outcome": outcome,
            "exit_status": status,
            "stdout": vm.stdout,
            "stderr": vm.stderr,
            "uncaught": uncaught,
            "bytecodes": vm.steps,
            "jit": {
                "threshold": args.jit_threshold,
                "bytecodes_interpreted": vm.steps,
                "x86_instructions": vm.jit.stats.x86_instructions,
                "stats": vm.jit.stats,
                "events": vm.jit.events,
            },
            "gc": {
                "collector": args.gc.name(),
                "heap_bytes": heap_bytes,
                "stats": vm.heap.stats,
                "live_objects": vm.heap.objects.len(),
                "used_bytes": vm.heap.used(),
            },
        });
        if let Some(e) = &error {
            report["error"] = json!({ "kind": "jvm", "message": e });
        }
        if args.trace {
            report["trace"] = json!(trace);
        }
        if args.heap_view {
            report["heap"] = json!(vm.heap_snapshot());
        }
        if args.jit_view {
            report["jit"]["compiled"] = json!(vm.jit.views(&vm));
        }
        if args.step_compiled > 0 {
            report["jit"]["stepped"] = json!(stepped);
        }
        println!("{report}");
    } else {
        print!("{}", vm.stdout);
        let _ = std::io::stdout().flush();
        eprint!("{}", vm.stderr);
        if let Some(u) = &uncaught {
            eprintln!("{u}");
        }
        if let Some(e) = &error {
            eprintln!("vmlab jvm: {e}");
        }
        if matches!(result, Ok(Outcome::Budget)) {
            eprintln!("vmlab jvm: the budget of {} bytecodes ran out", args.budget);
        }
    }
    ExitCode::from(status)
}
