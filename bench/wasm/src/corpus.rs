//! One guest of the repository run twice, by the general interpreter and by the
//! translating tier (threshold 2, regions compiled by the embedder), in the same uneven
//! slices: the two runs must leave the same instruction count, stops, serial output,
//! POST writes, whole snapshot and disk contents. `bench_case` takes a [`Case`] as
//! JSON and answers a [`Report`].

use assignments::core_machine::SharedDisk;
use emulator_core::{FlatEntry, Machine, MachineConfig, Snapshot, StopReason};
use serde::Deserialize;
use vmlab_net::endpoint::respond;
use vmlab_net::{Ipv4Addr, MacAddr};

use crate::io;

/// A guest and the machine it runs on.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// Shown in the report (`kernel.asm under hw-assist`).
    pub name: String,
    /// The image, in hex.
    pub image: String,
    /// How the image starts.
    pub load: Load,
    /// The machine (RAM, mode, CPUs, quantum).
    pub config: MachineConfig,
    /// Disks attached in order.
    #[serde(default)]
    pub disks: Vec<Disk>,
    /// A NIC, if any.
    #[serde(default)]
    pub nic: Option<Nic>,
    /// Bytes queued on COM1's input before the run.
    #[serde(default)]
    pub serial_input: String,
    /// How the host schedules the vCPUs under a VMM (none when left out).
    #[serde(default)]
    pub host: Option<emulator_core::smp::HostSchedule>,
    /// virtio-blk's service time per request, `[fixed, per 512 bytes]` in guest cycles
    /// (each notify is served at once when left out).
    #[serde(default)]
    pub virtio_service: Option<[u64; 2]>,
    /// Instructions at most.
    pub budget: u64,
    /// The run's slices, cycled (one slice of the whole budget when empty).
    #[serde(default)]
    pub slices: Vec<u64>,
}

/// How a case's image starts.
#[derive(Clone, Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Load {
    /// A 64 or 128 KiB ROM at the reset vector.
    Rom,
    /// A flat binary at `addr`.
    Flat {
        /// Load address.
        addr: u32,
        /// Real mode or flat 32-bit protected mode.
        entry: FlatEntry,
    },
    /// A Multiboot ELF kernel.
    Multiboot {
        /// Its command line.
        cmdline: String,
    },
}

/// A disk in memory.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Disk {
    /// `ata` (the IDE controller) or `virtio` (virtio-blk, legacy and modern interfaces).
    pub kind: String,
    /// The contents, in hex.
    pub bytes: String,
}

/// A network card.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Nic {
    /// `ne2000` or `virtio`.
    pub kind: String,
    /// An endpoint stub at 10.0.0.1 answers ARP and pings between slices.
    #[serde(default)]
    pub stub: bool,
}

/// The guest's MAC.
const GUEST_MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];
/// The endpoint stub's MAC.
const STUB_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 1];
/// Executions of an entry before the translating tier translates it.
pub const THRESHOLD: u32 = 2;

/// Which tier runs.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Tier {
    /// The general interpreter: no fast tier, no translation.
    Interp,
    /// The translating tier with the embedder's region host.
    Translate,
}

impl Tier {
    /// Sets `m` up for the tier.
    pub fn apply(self, m: &mut Machine) {
        m.set_fast_tier(false);
        if self == Tier::Translate {
            m.set_translate(Some(THRESHOLD));
            crate::host::install(m);
        }
    }
}

/// Everything a run leaves behind that a tier must not change.
#[derive(Debug)]
pub struct Outcome {
    /// Every stop, one per slice.
    pub stops: Vec<StopReason>,
    /// Instructions retired.
    pub icount: u64,
    /// COM1's output.
    pub serial: Vec<u8>,
    /// POST writes: port, value, instruction count.
    pub post: Vec<(u16, u32, u64)>,
    /// The machine's state.
    pub snapshot: Snapshot,
    /// The disks' contents.
    pub disks: Vec<Vec<u8>>,
    /// Regions translated.
    pub regions: u64,
    /// Instructions retired inside regions.
    pub region_instructions: u64,
}

impl Outcome {
    /// What `m` left after stopping with `stops`, with `disks` attached.
    pub fn of(m: &Machine, stops: Vec<StopReason>, disks: &[SharedDisk]) -> Outcome {
        let stats = m.translate_stats();
        Outcome {
            stops,
            icount: m.icount(),
            serial: m.serial_output(),
            post: m
                .post_writes()
                .iter()
                .map(|w| (w.port, w.value, w.icount))
                .collect(),
            snapshot: m.snapshot(),
            disks: disks.iter().map(SharedDisk::bytes).collect(),
            regions: stats.translated,
            region_instructions: stats.instructions,
        }
    }

    /// The first thing that differs between `self` and `other`, if any.
    pub fn differs(&self, other: &Outcome) -> Option<String> {
        let at = |what: &str, a: &dyn std::fmt::Debug, b: &dyn std::fmt::Debug| {
            let clip = |s: String| s.chars().take(300).collect::<String>();
            Some(format!(
                "{what}: {} vs {}",
                clip(format!("{a:?}")),
                clip(format!("{b:?}"))
            ))
        };
        if self.icount != other.icount {
            return at("instruction count", &self.icount, &other.icount);
        }
        if self.stops != other.stops {
            let i = self
                .stops
                .iter()
                .zip(&other.stops)
                .position(|(a, b)| a != b)
                .unwrap_or(self.stops.len().min(other.stops.len()));
            return at(
                &format!("stop reasons (slice {i})"),
                &self.stops.get(i),
                &other.stops.get(i),
            );
        }
        if self.serial != other.serial {
            return at(
                "serial output",
                &String::from_utf8_lossy(&self.serial),
                &String::from_utf8_lossy(&other.serial),
            );
        }
        if self.post != other.post {
            return at("POST writes", &self.post, &other.post);
        }
        let (x, y) = (self.snapshot.cpu(), other.snapshot.cpu());
        if x != y {
            if let Some(i) = (0..x.gpr.len()).find(|&i| x.gpr[i] != y.gpr[i]) {
                return at(&format!("CPU state: gpr[{i}]"), &x.gpr[i], &y.gpr[i]);
            }
            if x.eip != y.eip {
                return at("CPU state: EIP", &x.eip, &y.eip);
            }
            if x.eflags != y.eflags {
                return at("CPU state: EFLAGS", &x.eflags, &y.eflags);
            }
            return at("CPU state", x, y);
        }
        if self.snapshot.ram() != other.snapshot.ram() {
            let (a, b) = (self.snapshot.ram(), other.snapshot.ram());
            let i = a.iter().zip(b).position(|(x, y)| x != y).unwrap_or(0);
            return at(&format!("RAM at {i:#x}"), &a.get(i), &b.get(i));
        }
        if self.snapshot != other.snapshot {
            return Some("snapshot (devices, TLB, VMM or other CPUs)".into());
        }
        if self.disks != other.disks {
            return Some("disk contents".into());
        }
        None
    }
}

/// Builds `case`'s machine for `tier`; the disks it attached.
pub fn build(case: &Case, tier: Tier) -> Result<(Machine, Vec<SharedDisk>), String> {
    let image = io::hex("image", &case.image)?;
    let mut m = Machine::new(case.config.clone()).map_err(|e| format!("the machine: {e}"))?;
    tier.apply(&mut m);
    match &case.load {
        Load::Rom => m.load_rom(&image),
        Load::Flat { addr, entry } => m.load_flat(*addr, &image, *entry),
        Load::Multiboot { cmdline } => m.load_multiboot(&image, cmdline),
    }
    .map_err(|e| format!("loading the image: {e}"))?;
    let mut disks = Vec::new();
    for (i, d) in case.disks.iter().enumerate() {
        let disk = SharedDisk::new(io::hex(&format!("disk {i}"), &d.bytes)?);
        let store = Box::new(disk.clone());
        match d.kind.as_str() {
            "ata" => m.attach_disk(store),
            "virtio" => m.attach_virtio_blk(store),
            other => return Err(format!("disk {i}: unknown kind {other:?} (ata, virtio)")),
        }
        .map_err(|e| format!("disk {i}: {e}"))?;
        disks.push(disk);
    }
    if let Some([fixed, per_unit]) = case.virtio_service {
        m.set_virtio_service(emulator_core::devices::virtio::ServiceTime { fixed, per_unit });
    }
    if let Some(h) = case.host {
        m.set_host_schedule(h)
            .map_err(|e| format!("host schedule: {e}"))?;
    }
    if let Some(nic) = &case.nic {
        match nic.kind.as_str() {
            "ne2000" => m.attach_ne2000(GUEST_MAC),
            "virtio" => m.attach_virtio_net(GUEST_MAC),
            other => return Err(format!("nic: unknown kind {other:?} (ne2000, virtio)")),
        }
        .map_err(|e| format!("nic: {e}"))?;
    }
    if !case.serial_input.is_empty() {
        m.push_serial_input(case.serial_input.as_bytes());
    }
    Ok((m, disks))
}

/// Runs `m` in `slices` (cycled; the whole budget at once when empty) until a stop
/// other than an exhausted budget or `budget` instructions; with `stub`, the endpoint
/// stub answers the frames the guest sent after each slice. Returns every stop.
pub fn run(m: &mut Machine, slices: &[u64], budget: u64, stub: bool) -> Vec<StopReason> {
    let mut stops = Vec::new();
    let mut left = budget;
    let mut i = 0;
    while left > 0 {
        let slice = slices.get(i % slices.len().max(1)).copied().unwrap_or(left);
        let slice = slice.clamp(1, left);
        i += 1;
        left -= slice;
        let stop = m.run(slice);
        stops.push(stop);
        if stub {
            for frame in m.take_sent_frames() {
                if let Some(reply) = respond(MacAddr(STUB_MAC), Ipv4Addr([10, 0, 0, 1]), &frame) {
                    m.deliver_frame(&reply);
                }
            }
        }
        if stop != StopReason::BudgetExhausted {
            break;
        }
    }
    stops
}

/// Runs `case` in `tier`.
pub fn outcome(case: &Case, tier: Tier) -> Result<Outcome, String> {
    let (mut m, disks) = build(case, tier)?;
    let stub = case.nic.as_ref().is_some_and(|n| n.stub);
    let stops = run(&mut m, &case.slices, case.budget, stub);
    Ok(Outcome::of(&m, stops, &disks))
}

/// Runs `case` in both tiers and compares: the report as JSON.
pub fn compare(case: &Case) -> serde_json::Value {
    let runs = outcome(case, Tier::Interp).and_then(|a| Ok((a, outcome(case, Tier::Translate)?)));
    match runs {
        Ok((a, b)) => {
            let differs = a.differs(&b);
            serde_json::json!({
                "name": case.name,
                "same": differs.is_none(),
                "differs": differs,
                "icount": b.icount,
                "region_instructions": b.region_instructions,
                "regions": b.regions,
                "stop": b.stops.last().map(|s| format!("{s:?}")),
                "serial_tail": tail(&b.serial),
            })
        }
        Err(e) => serde_json::json!({ "name": case.name, "error": format!("{}: {e}", case.name) }),
    }
}

/// The last line or so of a run's serial output, for the report.
fn tail(serial: &[u8]) -> String {
    let text = String::from_utf8_lossy(serial);
    let trimmed = text.trim_end();
    let start = trimmed.char_indices().rev().nth(79).map_or(0, |(i, _)| i);
    trimmed[start..].to_string()
}

/// Wasm export: runs the case in the input buffer; returns the report's length in the
/// output buffer.
#[allow(unsafe_code)] // an exported symbol name is an unsafe attribute; no unsafe code runs
#[unsafe(no_mangle)]
pub extern "C" fn bench_case() -> u32 {
    io::answer("bench_case", |c: Case| compare(&c)) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A guest file of the repository, with includes from beside it and `guests/include`.
    fn guest(path: &str, defines: &[&str]) -> Vec<u8> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../guests");
        let file = root.join(path);
        let src = std::fs::read_to_string(&file).expect("the guest reads");
        let dir = file.parent().expect("a folder").to_path_buf();
        let include = |n: &str| {
            std::fs::read_to_string(dir.join(n))
                .or_else(|_| std::fs::read_to_string(root.join("include").join(n)))
                .ok()
        };
        let opts = vmlab_asm::Options {
            defines: defines.iter().map(|d| vmlab_asm::parse_define(d)).collect(),
            include: Some(&include),
            ..vmlab_asm::Options::default()
        };
        vmlab_asm::assemble(path, &src, &opts)
            .expect("the guest assembles")
            .bytes
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    fn case(v: serde_json::Value) -> Case {
        serde_json::from_value(v).expect("a case")
    }

    /// The teaching kernel under trap-and-emulate and the virtio-blk guest with its disk,
    /// in uneven slices: natively the regions run through the IR interpreter, and both
    /// end as the interpreter does, with regions having run.
    #[test]
    fn the_kernel_and_a_disk_guest_end_alike_in_both_tiers() {
        let disk: Vec<u8> = (0..2usize << 20).map(|i| (i * 7 + i / 512) as u8).collect();
        let cases = [
            case(serde_json::json!({
                "name": "kernel",
                "image": hex(&guest("kernel/kernel.asm", &[])),
                "load": {"kind": "rom"},
                "config": MachineConfig { mode: emulator_core::ExecMode::TRAP_EMULATE, ..MachineConfig::default() },
                "budget": 2_000_000,
                "slices": [1, 7, 1000, 3, 12_345],
            })),
            case(serde_json::json!({
                "name": "virtio-blk",
                "image": hex(&guest("disk/virtio_blk.asm", &[])),
                "load": {"kind": "flat", "addr": 0x10000, "entry": "pm32"},
                "config": MachineConfig::default(),
                "disks": [{"kind": "virtio", "bytes": hex(&disk)}],
                "budget": 2_000_000,
                "slices": [5000, 3],
            })),
        ];
        for c in &cases {
            let r = compare(c);
            assert_eq!(r["same"], true, "{r}");
            assert_eq!(r["stop"], "DebugExit(0)", "{r}");
            assert!(r["region_instructions"].as_u64() > Some(0), "{r}");
        }
    }

    /// A run changed after the fact, in RAM or on COM1, is reported with the field.
    #[test]
    fn a_difference_names_its_field() {
        let c = case(serde_json::json!({
            "name": "mix",
            "image": hex(&guest("bench/mix.asm", &["ITER=1"])),
            "load": {"kind": "rom"},
            "config": MachineConfig::default(),
            "budget": 100_000,
        }));
        let a = outcome(&c, Tier::Interp).expect("runs");
        let (mut m, disks) = build(&c, Tier::Translate).expect("builds");
        let stops = run(&mut m, &[], c.budget, false);
        m.write_phys(0x7000, &[0xa5]).expect("RAM");
        let b = Outcome::of(&m, stops, &disks);
        let d = a.differs(&b).expect("RAM differs");
        assert!(d.starts_with("RAM at 0x7000"), "{d}");
        let mut serial = Outcome::of(&m, b.stops.clone(), &disks);
        serial.serial.push(b'!');
        assert!(b
            .differs(&serial)
            .expect("serial differs")
            .starts_with("serial output"));
    }

    /// Through the export: a request that is not a case answers an error naming it.
    #[test]
    fn the_export_answers_json_in_the_output_buffer() {
        io::set_input(b"{\"name\": 1}");
        let len = bench_case() as usize;
        let out = io::output();
        assert_eq!(out.len(), len);
        let v: serde_json::Value = serde_json::from_slice(&out).expect("JSON");
        assert!(
            v["error"]
                .as_str()
                .unwrap_or("")
                .starts_with("bench_case: the request is not valid"),
            "{v}"
        );
    }

    #[test]
    fn a_case_that_cannot_be_built_answers_an_error() {
        let mut c = case(serde_json::json!({
            "name": "bad",
            "image": "0g",
            "load": {"kind": "rom"},
            "config": MachineConfig::default(),
            "budget": 10,
        }));
        assert!(compare(&c)["error"]
            .as_str()
            .unwrap_or("")
            .contains("not a hex digit"));
        c.image = "f4".into();
        assert!(compare(&c)["error"]
            .as_str()
            .unwrap_or("")
            .contains("loading the image"));
    }
}
