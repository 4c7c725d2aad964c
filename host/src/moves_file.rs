//! A scenario report's moves as JSON and text: per migration its pre-copy rounds (pages sent, dirtied, duration), stop rule, downtime and bytes, per fail-over its epochs and the output check.

use std::format;
use std::string::{String, ToString};
use std::vec::Vec;

use serde_json::{json, Value};
use vmlab_migrate::link::cycles_to_us;

use crate::host::CYCLES_PER_MS;
use crate::scenario::{FailoverRecord, MigrationRecord, Report};

fn ms(cycles: u64) -> f64 {
    cycles as f64 / CYCLES_PER_MS as f64
}

/// One migration as JSON.
pub fn migration_json(m: &MigrationRecord) -> Value {
    let mut v = json!({
        "vm": m.vm, "from": m.from, "to": m.to, "at_ms": m.at_ms, "mode": m.mode.name(),
        "resumed_at_ms": ms(m.resumed_at), "ran_us": cycles_to_us(m.ran_cycles),
        "downtime_us": cycles_to_us(m.downtime_cycles()), "bytes_sent": m.bytes_sent(),
    });
    if let Some(p) = &m.precopy {
        let rounds: Vec<Value> = p
            .rounds
            .iter()
            .map(|r| {
                json!({ "round": r.index, "sent": r.sent, "dirtied": r.dirtied,
                        "duration_us": cycles_to_us(r.cycles) })
            })
            .collect();
        v["rounds"] = Value::Array(rounds);
        v["stop_rule"] = json!(p.stop_rule.name());
        v["final_pages"] = json!(p.final_pages);
        v["memory_pages"] = json!(p.memory_pages);
        v["pages_sent"] = json!(p.pages_sent);
        v["all_memory_us"] = json!(cycles_to_us(p.all_memory_cycles));
        v["dirty_log_exits"] = json!(p.dirty_log_exits);
    }
    if let Some(p) = &m.postcopy {
        v["rounds"] = json!([]);
        v["stop_rule"] = Value::Null;
        v["memory_pages"] = json!(p.memory_pages);
        v["demand_faults"] = json!(p.demand_faults);
        v["prepaged"] = json!(p.prepaged);
        v["pushed"] = json!(p.pushed);
        v["stall_us"] = json!(cycles_to_us(p.stall_cycles));
        v["pages_sent"] = json!(p.demand_faults + p.prepaged + p.pushed);
    }
    v
}

/// One fail-over as JSON.
pub fn failover_json(f: &FailoverRecord) -> Value {
    json!({
        "vm": f.vm, "from": f.from, "to": f.to, "at_ms": f.at_ms, "epoch": f.epoch,
        "epochs": f.ft.epochs, "killed_at": f.ft.killed_at, "takeover_at": f.ft.takeover_at,
        "logged_interrupts": f.ft.logged_interrupts,
        "output_bytes": f.ft.output.len(), "primary_output_bytes": f.primary_output,
        "released_by_primary": f.ft.released_by_primary,
        "released_by_backup": f.ft.released_by_backup, "withheld_bytes": f.ft.withheld_bytes,
        "lost_bytes": f.lost, "duplicated_bytes": f.duplicated,
        "no_gap_no_duplicate": f.output_ok(), "same_state": f.same_state,
    })
}

/// The report's migrations and fail-overs as JSON arrays.
pub fn moves_json(r: &Report) -> (Value, Value) {
    (
        Value::Array(r.migrations.iter().map(migration_json).collect()),
        Value::Array(r.failovers.iter().map(failover_json).collect()),
    )
}

/// The report's migrations and fail-overs as text tables (empty without moves).
pub fn moves_text(r: &Report) -> String {
    use std::fmt::Write;
    let mut o = String::new();
    for m in &r.migrations {
        let _ = writeln!(
            o,
            "\nmigration of {} from {} to {} at {} ms ({}): downtime {} us, {} bytes sent, runs again at {:.1} ms",
            m.vm,
            m.from,
            m.to,
            m.at_ms,
            m.mode.name(),
            cycles_to_us(m.downtime_cycles()),
            m.bytes_sent(),
            ms(m.resumed_at)
        );
        if let Some(p) = &m.precopy {
            let _ = writeln!(
                o,
                "{:>5} {:>8} {:>8} {:>12}",
                "round", "sent", "dirtied", "duration us"
            );
            for x in &p.rounds {
                let _ = writeln!(
                    o,
                    "{:>5} {:>8} {:>8} {:>12}",
                    x.index,
                    x.sent,
                    x.dirtied,
                    cycles_to_us(x.cycles)
                );
            }
            let _ = writeln!(
                o,
                "stopped by {}; stop-and-copy {} pages; all memory at once would take {} us",
                p.stop_rule.name(),
                p.final_pages,
                cycles_to_us(p.all_memory_cycles)
            );
        }
        if let Some(p) = &m.postcopy {
            let _ = writeln!(
                o,
                "post-copy: {} demand faults, {} pre-paged, {} pushed, stalled {} us",
                p.demand_faults,
                p.prepaged,
                p.pushed,
                cycles_to_us(p.stall_cycles)
            );
        }
    }
    for f in &r.failovers {
        let _ = writeln!(
            o,
            "\nfail-over of {}: primary on {} killed at {} ms (instruction {}); backup on {} took over at instruction {}",
            f.vm,
            f.from,
            f.at_ms,
            f.ft.killed_at.unwrap_or(0),
            f.to,
            f.ft.takeover_at.unwrap_or(0)
        );
        let _ = writeln!(
            o,
            "epoch {} instructions, {} epochs acknowledged; output {} bytes (primary {} + backup {}, {} withheld); {}",
            f.epoch,
            f.ft.epochs,
            f.ft.output.len(),
            f.ft.released_by_primary,
            f.ft.released_by_backup,
            f.ft.withheld_bytes,
            if f.output_ok() {
                "no gap, no duplicate".to_string()
            } else {
                format!("{} bytes lost, {} duplicated", f.lost, f.duplicated)
            }
        );
    }
    o
}
