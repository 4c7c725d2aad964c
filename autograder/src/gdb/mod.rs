//! `vmlab run --gdb PORT`: a GDB remote-protocol server on 127.0.0.1, as QEMU's `-s`,
//! that stops the guest at its first instruction and runs it as gdb asks, within
//! the run's instruction budget.

mod commands;
mod packet;
mod watch;

use std::io::Write;
use std::net::TcpListener;

use emulator_core::{Machine, StopReason};

use commands::{Action, Session};
use packet::{Conn, Incoming};

/// Instructions run between two looks for gdb's Ctrl-C.
const SLICE: u64 = 100_000;
/// Single-stepped instructions between two looks for Ctrl-C.
const POLL_EVERY: u64 = 4096;

/// How the debugging session ended.
pub enum Ended {
    /// The guest stopped for good (halt, debug exit, triple fault, budget).
    Stopped(StopReason),
    /// gdb detached or hung up: the guest runs on without it.
    Detached,
    /// gdb killed the guest.
    Killed,
}

/// Why a resumed guest stopped.
enum Stop {
    /// Back under gdb's control, with this stop reply.
    Trap(String),
    /// The guest's run is over.
    Over(StopReason),
}

/// Listens on 127.0.0.1:`port` (0 picks a free port), says where on stderr, serves
/// one gdb connection and returns how it ended.
pub fn serve(
    m: &mut Machine,
    port: u16,
    max_insns: u64,
    console: &mut dyn Write,
) -> Result<Ended, String> {
    let listener = TcpListener::bind(("127.0.0.1", port))
        .map_err(|e| format!("--gdb {port}: cannot listen on 127.0.0.1:{port}: {e}"))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("--gdb {port}: {e}"))?;
    eprintln!("vmlab run: waiting for gdb on {addr} (target remote {addr})");
    let (stream, _) = listener
        .accept()
        .map_err(|e| format!("--gdb: accepting gdb's connection: {e}"))?;
    let _ = stream.set_nodelay(true);
    let mut conn = Conn::new(stream);
    let mut session = Session::default();
    let io = |e: std::io::Error| format!("--gdb: connection to gdb: {e}");
    loop {
        let Some(incoming) = conn.next().map_err(io)? else {
            return Ok(Ended::Detached);
        };
        let Incoming::Packet(p) = incoming else {
            // Ctrl-C while already stopped: say so again.
            conn.send("S02").map_err(io)?;
            continue;
        };
        match session.handle(m, &p) {
            Action::Reply(r) => conn.send(&r).map_err(io)?,
            Action::Detach => {
                conn.send("OK").map_err(io)?;
                return Ok(Ended::Detached);
            }
            Action::Kill => return Ok(Ended::Killed),
            Action::Resume { step } => {
                match resume(m, &mut session, &mut conn, step, max_insns, console).map_err(io)? {
                    Stop::Trap(reply) => {
                        // gdb may have hung up while the guest ran: it runs on.
                        if conn.send(&reply).is_err() {
                            return Ok(Ended::Detached);
                        }
                    }
                    Stop::Over(stop) => {
                        let status = crate::run::exit_status(stop);
                        conn.send(&format!("W{status:02x}")).map_err(io)?;
                        return Ok(Ended::Stopped(stop));
                    }
                }
            }
        }
    }
}

/// Runs the guest for one step or until a breakpoint, a watchpoint, Ctrl-C or the
/// end of the run.
fn resume(
    m: &mut Machine,
    session: &mut Session,
    conn: &mut Conn,
    step: bool,
    max_insns: u64,
    console: &mut dyn Write,
) -> std::io::Result<Stop> {
    let mut runs = 0u64;
    loop {
        let left = max_insns.saturating_sub(session.used);
        if left == 0 {
            return Ok(Stop::Over(StopReason::BudgetExhausted));
        }
        // Ctrl-C is looked for between slices (every 4096 instructions when
        // watchpoints make the guest run one instruction at a time).
        if runs > 0 && runs.is_multiple_of(POLL_EVERY) && conn.interrupted()? {
            return Ok(Stop::Trap("S02".into()));
        }
        let slice = if step || !session.watches.is_empty() {
            1
        } else {
            SLICE.min(left)
        };
        // The memory the next instruction touches, for the watchpoints.
        let touched = if session.watches.is_empty() {
            Vec::new()
        } else {
            let c = commands::guest_state(m);
            let code = commands::read_mem(m, c.seg[1].base.wrapping_add(c.eip), 15);
            watch::accesses(&c, &code)
        };
        let before = m.icount();
        let stop = if step { m.step() } else { m.run(slice) };
        runs += if slice == 1 { 1 } else { POLL_EVERY };
        session.used += match stop {
            StopReason::BudgetExhausted => slice,
            _ => (m.icount() - before).clamp(1, slice),
        };
        crate::run::copy_console(m, console);
        let ran = matches!(
            stop,
            StopReason::BudgetExhausted | StopReason::VmExit | StopReason::Stepped
        );
        if ran {
            if let Some(reply) = watch::hit(&session.watches, &touched) {
                return Ok(Stop::Trap(reply));
            }
        }
        match stop {
            StopReason::Breakpoint(_) => return Ok(Stop::Trap("S05".into())),
            StopReason::BudgetExhausted | StopReason::VmExit | StopReason::Stepped => {
                if step {
                    return Ok(Stop::Trap("S05".into()));
                }
            }
            over => return Ok(Stop::Over(over)),
        }
    }
}
