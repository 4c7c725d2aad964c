//! Introspection from outside the guest: a kernel profile (where the process table and `current` are, the field offsets, the state encoding) and the reader that turns a machine's guest-physical memory into a process list through the core's page walk.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use emulator_core::mmu::{self, PagingRegs, ReadOnly};
use emulator_core::state::cr0;
use emulator_core::Machine;

/// Where a kernel keeps its processes, as an introspection tool is told it.
///
/// Field `f` of process `i` is the dword (or bytes) at kernel linear address
/// `table + i * entry_size + f`: an array of structures has the structure's size
/// as `entry_size`, parallel arrays of dwords have 4.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Profile {
    /// The kernel it describes.
    pub kernel: String,
    /// The kernel linear address of the running process's index.
    pub current: u32,
    /// The kernel linear address of the process table.
    pub table: u32,
    /// Entries in the table.
    pub count: u32,
    /// Bytes from one entry to the next.
    pub entry_size: u32,
    /// Offset of the page directory (CR3) field; an entry whose CR3 is 0 is unused.
    pub cr3: u32,
    /// Offset of the state field.
    pub state: u32,
    /// Offset of the name field.
    pub name: u32,
    /// Bytes of the name field (zero-padded).
    pub name_len: u32,
    /// Offset of the saved kernel stack pointer.
    pub kernel_esp: u32,
    /// Where the interrupted user EIP is, in bytes above the saved kernel stack pointer.
    pub saved_eip: u32,
    /// The first user linear address (page aligned).
    pub user_lo: u32,
    /// The end of the user range (exclusive, page aligned).
    pub user_hi: u32,
    /// The state encoding: raw value and name.
    pub states: Vec<(u32, String)>,
}

/// One process, as the host reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Process {
    /// Its index in the table (the kernel's process number).
    pub pid: u32,
    /// Its name.
    pub name: String,
    /// Its state's name from the profile.
    pub state: String,
    /// Its state's raw value.
    pub state_raw: u32,
    /// Its page directory.
    pub cr3: u32,
    /// Its user pages that are mapped: (linear page, frame).
    pub pages: Vec<(u32, u32)>,
    /// Where it runs in user mode: the CPU's EIP when it is on the CPU in ring 3,
    /// else the EIP saved on its kernel stack; `None` when neither is meaningful
    /// (it exited, or it is on the CPU inside the kernel).
    pub eip: Option<u32>,
    /// `eip` came from the CPU (it is running in ring 3).
    pub eip_live: bool,
}

/// What the host sees of a guest's processes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct View {
    /// The processes in use, by pid.
    pub processes: Vec<Process>,
    /// The running process's pid (`None` before the kernel turns paging on).
    pub current: Option<u32>,
    /// The CPU's CR3: what the host sees without the profile.
    pub cpu_cr3: u32,
    /// The CPU's privilege level.
    pub cpl: u8,
}

impl View {
    /// The running process.
    pub fn current_process(&self) -> Option<&Process> {
        let c = self.current?;
        self.processes.iter().find(|p| p.pid == c)
    }
}

/// Guest memory read through the core's page walk, with located errors.
struct Reader<'a> {
    m: &'a Machine,
    ram: u64,
    regs: PagingRegs,
}

impl Reader<'_> {
    fn phys_u32(&self, addr: u32, what: &str) -> Result<u32, String> {
        if u64::from(addr) + 4 > self.ram {
            return Err(format!(
                "{what}: guest-physical 0x{addr:x} is beyond the guest's RAM ({} MiB)",
                self.ram >> 20
            ));
        }
        let mut b = [0u8; 4];
        self.m.peek_phys(addr, &mut b);
        Ok(u32::from_le_bytes(b))
    }

    /// The guest-physical address of linear `lin` under `cr3`, by the core's page walk.
    fn probe(&self, cr3: u32, lin: u32) -> Option<u32> {
        let regs = PagingRegs { cr3, ..self.regs };
        let ram = self.ram;
        let read = |a: u32| {
            let mut b = [0xffu8; 4];
            if u64::from(a) + 4 <= ram {
                self.m.peek_phys(a, &mut b);
            }
            u32::from_le_bytes(b)
        };
        mmu::probe(&mut ReadOnly(read), regs, lin).physical
    }

    /// [`Reader::probe`] with an error naming `what`.
    fn translate(&self, cr3: u32, lin: u32, what: &str) -> Result<u32, String> {
        self.probe(cr3, lin)
            .ok_or_else(|| format!("{what}: linear 0x{lin:x} is not mapped under CR3 0x{cr3:x}"))
    }

    fn u32_at(&self, cr3: u32, lin: u32, what: &str) -> Result<u32, String> {
        let p = self.translate(cr3, lin, what)?;
        self.phys_u32(p, what)
            .map_err(|e| format!("{e} (linear 0x{lin:x})"))
    }

    fn bytes_at(&self, cr3: u32, lin: u32, len: u32, what: &str) -> Result<Vec<u8>, String> {
        (0..len)
            .map(|i| {
                let p = self.translate(cr3, lin.wrapping_add(i), what)?;
                let w = self.phys_u32(p & !3, what)?;
                Ok(w.to_le_bytes()[(p & 3) as usize])
            })
            .collect()
    }
}

/// Reads the process list and the running process of the kernel `profile`
/// describes from `m`'s memory, without the guest's help. Every value read is
/// checked: an address outside RAM, an unmapped page, an unknown state, a
/// CR3 that is not a page directory in RAM or a name that is not text is an
/// error naming the field and its address.
pub fn read(m: &Machine, profile: &Profile) -> Result<View, String> {
    let cpu = m.cpu();
    let r = Reader {
        m,
        ram: u64::from(m.config().ram_mib) << 20,
        regs: PagingRegs::of(cpu),
    };
    let mut view = View {
        processes: Vec::new(),
        current: None,
        cpu_cr3: cpu.cr3,
        cpl: cpu.cpl,
    };
    if cpu.cr0 & cr0::PG == 0 {
        return Ok(view);
    }
    if profile.count > 1024 || profile.entry_size > 4096 {
        return Err(format!(
            "profile: a table of {} entries of {} bytes is not a process table",
            profile.count, profile.entry_size
        ));
    }
    let live = cpu.cr3;
    let current = r.u32_at(live, profile.current, "current")?;
    for pid in 0..profile.count {
        let base = profile
            .table
            .wrapping_add(pid.wrapping_mul(profile.entry_size));
        let field = |off: u32, name: &str| {
            let lin = base.wrapping_add(off);
            (lin, format!("process {pid} {name} at 0x{lin:x}"))
        };
        let (lin, what) = field(profile.cr3, "cr3");
        let cr3 = r.u32_at(live, lin, &what)?;
        if cr3 == 0 {
            continue;
        }
        if cr3 & 0xfff != 0 || u64::from(cr3) + 4096 > r.ram {
            return Err(format!(
                "{what}: 0x{cr3:x} is not a page directory in the guest's RAM"
            ));
        }
        let (lin, what) = field(profile.state, "state");
        let state_raw = r.u32_at(live, lin, &what)?;
        let state = profile
            .states
            .iter()
            .find(|(v, _)| *v == state_raw)
            .map(|(_, n)| n.clone())
            .ok_or_else(|| {
                let known: Vec<String> = profile
                    .states
                    .iter()
                    .map(|(v, n)| format!("{v} {n}"))
                    .collect();
                format!(
                    "{what}: {state_raw} is not one of the profile's states ({})",
                    known.join(", ")
                )
            })?;
        let (lin, what) = field(profile.name, "name");
        let raw = r.bytes_at(live, lin, profile.name_len.min(64), &what)?;
        let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
        if end == 0 || raw[..end].iter().any(|b| !b.is_ascii_graphic()) {
            return Err(format!("{what}: {raw:02x?} is not a name"));
        }
        let name = String::from_utf8_lossy(&raw[..end]).into_owned();
        let pages = user_pages(&r, cr3, profile);
        let on_cpu = pid == current && cpu.cr3 & !0xfff == cr3 & !0xfff;
        let exited = state == "exited";
        let (eip, eip_live) = if on_cpu && cpu.cpl == 3 {
            (Some(cpu.eip), true)
        } else if on_cpu || exited {
            (None, false)
        } else {
            let (lin, what) = field(profile.kernel_esp, "kernel_esp");
            let kesp = r.u32_at(live, lin, &what)?;
            let at = kesp.wrapping_add(profile.saved_eip);
            let what = format!("process {pid} saved eip at 0x{at:x} (kernel_esp 0x{kesp:x})");
            let eip = r.u32_at(live, at, &what)?;
            if eip < profile.user_lo || eip >= profile.user_hi {
                return Err(format!(
                    "{what}: 0x{eip:x} is outside the user range 0x{:x}-0x{:x}",
                    profile.user_lo, profile.user_hi
                ));
            }
            (Some(eip), false)
        };
        view.processes.push(Process {
            pid,
            name,
            state,
            state_raw,
            cr3,
            pages,
            eip,
            eip_live,
        });
    }
    if current >= profile.count || !view.processes.iter().any(|p| p.pid == current) {
        return Err(format!(
            "current at 0x{:x}: {current} is not a process in use (the table has {} entries)",
            profile.current, profile.count
        ));
    }
    view.current = Some(current);
    Ok(view)
}

/// The user pages mapped in the page directory at `cr3`: each page of the
/// profile's user range through the core's page walk.
fn user_pages(r: &Reader<'_>, cr3: u32, p: &Profile) -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    let mut lin = p.user_lo & !0xfff;
    while lin < p.user_hi && out.len() < 4096 {
        if let Some(phys) = r.probe(cr3, lin) {
            out.push((lin, phys & !0xfff));
        }
        lin = match lin.checked_add(0x1000) {
            Some(n) => n,
            None => break,
        };
    }
    out
}
