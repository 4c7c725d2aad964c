//! Lecture demos: a guest, a mode and narrated steps, each step with an optional action.

use emulator_core::ExecMode;

use crate::protocol::Space;

/// What a demo step does when the lecturer arrives at it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum DemoAction {
    /// Only narration.
    Look,
    /// Steps this many instructions.
    Step(u32),
    /// Runs until EIP reaches this label of the guest.
    RunToLabel(&'static str),
    /// Runs until the next exception, interrupt or VM exit.
    RunToTrap,
    /// Runs until the guest stops.
    Run,
    /// Translates this linear address in the page-table panel.
    Translate(u32),
    /// Points the memory panel here.
    Memory(u32, Space),
    /// Runs the program in every mode and shows the results side by side.
    Compare,
}

/// One narrated step.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct DemoStep {
    /// A short heading.
    pub title: &'static str,
    /// What to look at and why it matters.
    pub text: &'static str,
    /// What the step does.
    pub action: DemoAction,
}

/// A lecture demo.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Demo {
    /// Stable id, used in share links and test ids.
    pub id: &'static str,
    /// The menu title.
    pub title: &'static str,
    /// The guest's assembly source.
    pub source: &'static str,
    /// The mode it runs in.
    pub mode: ExecMode,
    /// The narration.
    pub steps: &'static [DemoStep],
}

const fn step(title: &'static str, text: &'static str, action: DemoAction) -> DemoStep {
    DemoStep {
        title,
        text,
        action,
    }
}

use DemoAction::*;

/// Every demo, in lecture order.
pub const DEMOS: &[Demo] = &[
    Demo {
        id: "fetch-decode-execute",
        title: "Fetch, decode, execute",
        source: include_str!("../demos/fetch.asm"),
        mode: ExecMode::Bare,
        steps: &[
            step("The machine at rest", "EIP points at the first instruction, highlighted in the disassembly. The source line it came from is shown beside it.", Look),
            step("Fetch and execute", "One step: the CPU fetches the bytes at CS:EIP, decodes MOV ESP and executes it. ESP changes (highlighted) and EIP moves past the instruction.", Step(1)),
            step("Arithmetic sets flags", "Three more steps: MOV, MOV, ADD. EAX = 12; look at the flags: ZF, SF, CF and OF follow the result.", Step(3)),
            step("A zero result", "SUB EAX, 12 gives 0, so ZF becomes 1. A conditional jump reads these flags.", Step(1)),
            step("A loop", "DEC and JNZ run until ECX reaches 0; the decoded-instruction cache serves the loop body after the first pass (see the counters).", RunToLabel("print")),
            step("Output", "The guest writes its message to the serial port, byte by byte, with OUT. Watch the serial console and the I/O events in the log.", Run),
        ],
    },
    Demo {
        id: "page-walk",
        title: "A page walk and the TLB",
        source: include_str!("../demos/pagewalk.asm"),
        mode: ExecMode::Bare,
        steps: &[
            step("Building the tables", "The guest fills a page table that identity-maps the first 4 MiB, then points PDE 0 and PDE 1 at tables. Paging is still off.", RunToLabel("tables_ready")),
            step("CR3 and CR0.PG", "MOV CR3 loads the page directory; setting CR0.PG turns paging on. The page-table panel now shows the tree from CR3.", RunToLabel("paging_on")),
            step("Translate 0x400000", "The walk: PDE 1 (bits 31..22 of the address) gives the table, PTE 0 (bits 21..12) gives the frame 0xB8000, plus the offset. Linear 0x400000 is the VGA screen.", Translate(0x0040_0000)),
            step("A TLB miss", "The first write to 0x400000 walks the tables and fills the TLB; the A and D bits of the entries get set. An H appears on the VGA screen.", Step(1)),
            step("A TLB hit", "The second write is in the same page: the TLB answers, no walk. Compare the TLB hit and miss counters.", Step(1)),
            step("INVLPG", "INVLPG drops the entry; the next access walks again.", Run),
        ],
    },
    Demo {
        id: "trap-emulate",
        title: "Trap-and-emulate of privileged instructions",
        source: include_str!("../demos/privileged.asm"),
        mode: ExecMode::TRAP_EMULATE,
        steps: &[
            step("A deprivileged kernel", "The guest kernel believes it runs at ring 0; the VMM runs it at ring 1. Look at CPL in the registers.", Look),
            step("CLI traps", "CLI at ring 1 with IOPL 0 raises #GP. The VMM catches it as a VM exit, emulates CLI on the virtual CPU (virtual IF = 0) and resumes after it.", RunToTrap),
            step("Control registers", "MOV from CR0 exits as well: the VMM returns the guest's virtual CR0, not the real one.", RunToTrap),
            step("I/O", "OUT to the UART exits; the VMM performs the write on the emulated device. Each exit has a cost in cycles: see the counters.", RunToTrap),
            step("To the end", "Run to the HLT. The log lists one exit per privileged instruction; filter it by reason.", Run),
        ],
    },
    Demo {
        id: "popf",
        title: "POPF: the Popek-Goldberg failure",
        source: include_str!("../demos/popf.asm"),
        mode: ExecMode::TRAP_EMULATE,
        steps: &[
            step("The plan", "The kernel disables interrupts, then uses POPF to set IF again. On a real CPU at ring 0 that works.", RunToLabel("popf_here")),
            step("POPF at ring 1", "At ring 1 with IOPL 0, POPF does not fault: it silently leaves IF unchanged. The VMM never sees it. Look at IF before and after.", Step(1)),
            step("What the guest concludes", "The guest reads EFLAGS back and prints what it found. The log shows the Popek-Goldberg report: sensitive but not privileged.", Run),
            step("Bare versus trap-emulate", "The same guest in every mode, side by side: only trap-emulate differs.", Compare),
        ],
    },
    Demo {
        id: "shadow-paging",
        title: "Shadow paging: hidden and true faults",
        source: include_str!("../demos/shadow.asm"),
        mode: ExecMode::TRAP_EMULATE,
        steps: &[
            step("Guest tables", "The guest builds its tables and an IDT with a page-fault handler, then loads CR3 (an exit: the VMM switches to a shadow) and turns paging on.", RunToLabel("paging_on")),
            step("Two trees", "Left: the guest's tables (guest-virtual to guest-physical). Right: the VMM's shadow tables, which the MMU really uses. The shadow fills in lazily.", Look),
            step("A hidden fault", "The read of 0x20000 is mapped by the guest but not yet in the shadow: the MMU faults, the VMM fills the shadow entry and resumes. The guest never knows.", RunToLabel("after_fault")),
            step("A true fault", "The write to 0x300000 is not mapped by the guest: the VMM injects #PF with CR2 = 0x300000 into the guest's handler, which maps the page (demand-zero) and returns. Look at the log.", Translate(0x0030_0000)),
            step("To the end", "Counters: hidden versus true faults, shadow tables built.", Run),
        ],
    },
    Demo {
        id: "nested-paging",
        title: "Nested paging: the two-dimensional walk",
        source: include_str!("../demos/pagewalk.asm"),
        mode: ExecMode::HW_ASSIST,
        steps: &[
            step("Hardware assist", "The same paging guest, now at ring 0 in non-root mode. Its CR3 writes need not exit: the nested table maps guest-physical to host-physical.", RunToLabel("paging_on")),
            step("Two dimensions", "Every guest table entry is itself at a guest-physical address that the nested table must translate: up to 3 nested walks for one 2-level guest walk.", Translate(0x0040_0000)),
            step("The cost", "Run to the end and compare the page-walk counters with the bare run of the page-walk demo.", Run),
        ],
    },
    Demo {
        id: "side-by-side",
        title: "One guest bare and virtualized",
        source: include_str!("../demos/privileged.asm"),
        mode: ExecMode::Bare,
        steps: &[
            step("Bare", "The privileged-instruction guest on the bare machine: no VMM, no exits.", Run),
            step("Side by side", "The same guest in all three modes. Same output; the exits and their cost are the overhead of virtualization.", Compare),
        ],
    },
];

/// The demo with this id.
pub fn find(id: &str) -> Option<&'static Demo> {
    DEMOS.iter().find(|d| d.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demos_are_many_distinct_and_narrated() {
        assert!(DEMOS.len() >= 6);
        for (i, d) in DEMOS.iter().enumerate() {
            assert!(!d.steps.is_empty(), "{} has no steps", d.id);
            assert!(DEMOS[..i].iter().all(|e| e.id != d.id), "{} twice", d.id);
            assert_eq!(find(d.id).map(|f| f.title), Some(d.title));
        }
    }

    #[test]
    fn run_to_labels_exist_in_their_guest() {
        for d in DEMOS {
            for s in d.steps {
                if let RunToLabel(label) = s.action {
                    assert!(
                        d.source
                            .lines()
                            .any(|l| l.starts_with(&format!("{label}:"))),
                        "{}: no label {label}",
                        d.id
                    );
                }
            }
        }
    }
}
