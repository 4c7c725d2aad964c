// Times one guest of vmlab's Wasm build (bench/wasm/src/guests.rs) in one tier under
// Node.js, for `cargo xtask bench`'s paging, kernel and fetch–decode rows.
// Usage: node guests.mjs VMLAB_BENCH_WASM GUEST MODE TIER ITER SECONDS
//   GUEST: mix, paging, kernel or fetch; MODE: an index into ExecMode::ALL (0 bare);
//   TIER: interp, fast or translate; ITER: the ROM's ITER (mix, paging).
// The guest runs to its end in slices of 2 million instructions, as the lab's worker
// runs a machine: once (the first run, on V8's baseline code), then again on fresh
// machines until SECONDS of wall time have passed (the warm runs). Region modules
// compile in the background and the event loop gets a turn between slices, as in the
// worker. Every run must end with the same instruction count and state digest. Prints
// one JSON line with the count, the digest, the first run's seconds and the warm runs'
// mean seconds, wall and main-thread CPU (null off Linux).
// With SECONDS = "first-output" it instead times, on one fresh machine loaded 100 ms
// before (as a user presses Run after a load), how long the guest takes to write its
// first serial byte when run in slices of 10,000 instructions (`first_output_seconds`,
// and `first_output_cpu_seconds` on the main thread), the wait a lab user sees, and
// how long loading the machine took (`prepare_seconds`).
import { readFileSync } from "node:fs";
import { instantiateCore, mainThreadCpuSeconds, turn } from "./host.mjs";

const [path, guest, mode, tier, iterArg, secondsArg] = process.argv.slice(2);
const GUESTS = { mix: 0, paging: 1, kernel: 2, fetch: 3 };
const TIERS = { interp: 0, fast: 1, translate: 2 };
if (!(guest in GUESTS) || !(tier in TIERS) || secondsArg === undefined) {
  console.error("usage: node guests.mjs MODULE mix|paging|kernel|fetch MODE interp|fast|translate ITER SECONDS|first-output");
  process.exit(1);
}
const { core, regions, compileSeconds } = await instantiateCore(readFileSync(path));
core.bench_tier(TIERS[tier]);
core.bench_compile_mode(1);
const iter = Number(iterArg);

function prepare() {
  if (!core.bench_prepare_guest(GUESTS[guest], Number(mode), iter)) {
    console.error(`bench_prepare_guest(${guest}, ${mode}, ${iter}) failed`);
    process.exit(1);
  }
}

// Slices before a run is given up: no guest here runs 4 billion instructions.
const MAX_SLICES = 2000;

if (secondsArg === "first-output") {
  // The lab's worker starts a run with a small chunk; 10,000 instructions a slice.
  const SLICE = 10_000;
  const SETTLE_MS = 100;
  const before = performance.now();
  prepare();
  const prepare_seconds = (performance.now() - before) / 1000;
  // A lab user presses Run some time after the machine has loaded: the engine's work
  // that the load left (its garbage collection, code it compiles in the background)
  // is done by then.
  await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
  const cpu = mainThreadCpuSeconds();
  const start = performance.now();
  let slices = 0;
  while (core.bench_serial_len() === 0) {
    if (!core.bench_run(SLICE) && core.bench_serial_len() === 0) {
      console.error(`${guest} stopped without writing to the serial port`);
      process.exit(1);
    }
    if (++slices > MAX_SLICES) {
      console.error(`${guest} wrote nothing in ${MAX_SLICES} slices`);
      process.exit(1);
    }
    if (core.bench_serial_len() === 0) await turn();
  }
  const first_output_seconds = (performance.now() - start) / 1000;
  const after = mainThreadCpuSeconds();
  console.log(
    JSON.stringify({
      guest,
      tier,
      instructions: core.bench_icount(),
      slices,
      prepare_seconds,
      first_output_seconds,
      first_output_cpu_seconds: cpu === null || after === null ? null : after - cpu,
    }),
  );
  process.exit(0);
}

const SLICE = 2_000_000;
// One run on a fresh machine: [seconds, main-thread CPU seconds or null]; `last` holds
// the regions it compiled and the seconds Node.js took to compile them.
const last = { regions: 0, compile_seconds: 0 };
async function timed() {
  // The modules the last run's background compiles made are put in the table.
  await turn();
  prepare();
  const [regions0, compile0] = [regions(), compileSeconds()];
  const cpu = mainThreadCpuSeconds();
  const start = performance.now();
  let slices = 0;
  while (core.bench_run(SLICE)) {
    if (++slices > MAX_SLICES) {
      console.error(`${guest} did not stop in ${MAX_SLICES} slices`);
      process.exit(1);
    }
    await turn();
  }
  const seconds = (performance.now() - start) / 1000;
  const after = mainThreadCpuSeconds();
  last.regions = regions() - regions0;
  last.compile_seconds = compileSeconds() - compile0;
  return [seconds, cpu === null || after === null ? null : after - cpu];
}

const [first_seconds, first_cpu_seconds] = await timed();
const first = { ...last };
const instructions = core.bench_icount();
const digest = core.bench_digest();
const budget = Number(secondsArg);
let runs = 0;
let wall = 0;
let cpu = 0;
do {
  const [s, c] = await timed();
  if (core.bench_icount() !== instructions || core.bench_digest() !== digest) {
    console.error(`a warm run of ${guest} ended unlike the first`);
    process.exit(1);
  }
  runs += 1;
  wall += s;
  cpu = c === null || cpu === null ? null : cpu + c;
} while (wall < budget && runs < 10_000);
console.log(
  JSON.stringify({
    guest,
    mode: Number(mode),
    tier,
    instructions,
    digest,
    // The translating tier's work: the region modules Node.js compiled in the first
    // run and the seconds that took (later runs reuse them), and in the last run the
    // region runs, the instructions retired in regions and the regions dropped because
    // their page was written.
    regions: first.regions,
    compile_seconds: first.compile_seconds,
    region_runs: core.bench_translate_stat(1),
    region_instructions: core.bench_translate_stat(2),
    invalidated: core.bench_translate_stat(3),
    first_seconds,
    first_cpu_seconds,
    warm_runs: runs,
    warm_seconds: wall / runs,
    warm_cpu_seconds: cpu === null ? null : cpu / runs,
  }),
);
