// Times vmlab's Wasm build of the mixed workload under Node.js.
// Usage: node run.mjs VMLAB_BENCH_WASM ITER [interp|fast|translate]
// With `translate` the core emits one Wasm module per hot region; `host.mjs` compiles
// each and puts it in the core's function table, where the core and other regions call
// it. It compiles them in the background, as the lab's worker does, and gives the event
// loop a turn between time slices.
// Runs the machine in time slices, as the browser's worker does, twice in one
// process: the first run starts on V8's baseline code (Liftoff) and pays for the
// tier-up to optimised code (TurboFan); the second, on a fresh machine with the same
// ROM, shows the steady state a lab that runs for a while gets. Prints one JSON line:
// instructions (per run), first_seconds, warm_seconds and the MIPS of each, and the
// seconds the main thread spent on a CPU in each run (`*_cpu_seconds`, from Linux's
// /proc/thread-self/schedstat; null elsewhere), which a loaded machine inflates less.
import { readFileSync } from "node:fs";
import { instantiateCore, mainThreadCpuSeconds, turn } from "./host.mjs";

const bytes = readFileSync(process.argv[2]);
const iter = Number(process.argv[3]);
const tier = process.argv[4] ?? "fast";
const TIERS = { interp: 0, fast: 1, translate: 2 };
if (!(tier in TIERS)) {
  console.error(`unknown tier ${tier}: use interp, fast or translate`);
  process.exit(1);
}
const { core, regions } = await instantiateCore(bytes);
const { bench_prepare, bench_run, bench_icount, bench_tier, bench_digest, bench_translate_stat } =
  core;
bench_tier(TIERS[tier]);
core.bench_compile_mode(1);
// Time slices of 2 million instructions, as the lab's worker runs the machine.
const SLICE = 2_000_000;

// One run on a freshly prepared machine: [seconds, instructions, main-thread CPU seconds].
async function timed() {
  // The modules the last run's background compiles made are put in the table.
  await turn();
  if (!bench_prepare(iter)) {
    console.error("bench_prepare failed");
    process.exit(1);
  }
  const cpu = mainThreadCpuSeconds();
  const start = performance.now();
  while (bench_run(SLICE)) await turn();
  const seconds = (performance.now() - start) / 1000;
  const after = mainThreadCpuSeconds();
  return [seconds, bench_icount(), cpu === null || after === null ? null : after - cpu];
}

const [first_seconds, instructions, first_cpu_seconds] = await timed();
const [warm_seconds, again, warm_cpu_seconds] = await timed();
if (again !== instructions) {
  console.error(`the second run retired ${again} instructions, the first ${instructions}`);
  process.exit(1);
}
console.log(
  JSON.stringify({
    instructions,
    tier,
    digest: bench_digest(),
    regions: regions(),
    // The translating tier's share of the last run: region runs started by the run
    // loop and the instructions retired inside regions.
    region_runs: bench_translate_stat(1),
    region_instructions: bench_translate_stat(2),
    first_seconds,
    warm_seconds,
    first_cpu_seconds,
    warm_cpu_seconds,
    first_mips: instructions / first_seconds / 1e6,
    warm_mips: instructions / warm_seconds / 1e6,
  }),
);
