// The translating tier's Wasm backend against the interpreter on random instruction
// streams (`src/fuzz.rs`): each case runs in the Wasm build once in the interpreter and
// once translating (threshold 1, regions compiled by Node.js and called through the
// core's function table, in uneven time slices), 200,000 instructions at most, and must
// end in the same state digest and instruction count.
// Usage: node fuzz.mjs VMLAB_BENCH_WASM CASES [MODULES] [at-once|background|late].
// MODULES (0: the default) bounds the region modules the function table holds before
// its places start over (each machine then drops its regions and compiles them again
// into reused places); a small number tests that. The last argument is how modules are
// compiled (host.mjs): at once (the default); in the background, the event loop getting
// a turn between slices, so that regions switch from the IR interpreter to their module
// whenever V8 finishes; or one module late, which does the same deterministically.
// Prints one JSON line; exits 1 on a difference.
import { readFileSync } from "node:fs";
import { instantiateCore, turn } from "./host.mjs";

const bytes = readFileSync(process.argv[2]);
const cases = Number(process.argv[3] ?? 40);
const { core, regions, installed } = await instantiateCore(bytes);
if (Number(process.argv[4] ?? 0) > 0) core.bench_module_cap(Number(process.argv[4]));
const MODES = { "at-once": 0, background: 1, late: 2 };
const mode = process.argv[5] ?? "at-once";
if (!(mode in MODES)) {
  console.error(`unknown compile mode ${mode}: use at-once, background or late`);
  process.exit(1);
}
core.bench_compile_mode(MODES[mode]);

// Uneven time slices for the translating runs, so budgets end inside looping and
// chained regions; the interpreter runs in one slice.
const SLICES = [1, 7, 1000, 3, 12345, 2, 50_000];

async function outcome(c, tier) {
  core.bench_tier(tier);
  if (!core.bench_prepare_fuzz(c)) throw new Error(`case ${c} did not assemble`);
  let left = 200_000;
  for (let i = 0; left > 0; i++) {
    const slice = tier === 0 ? left : Math.min(left, SLICES[i % SLICES.length]);
    left -= slice;
    if (!core.bench_run(slice)) break;
    if (mode === "background") await turn();
  }
  return [core.bench_icount(), core.bench_digest()];
}

const failed = [];
for (let c = 0; c < cases; c++) {
  const [n0, d0] = await outcome(c, 0);
  const [n2, d2] = await outcome(c, 2);
  if (n0 !== n2 || d0 !== d2) failed.push({ case: c, interp: [n0, d0], translate: [n2, d2] });
}
// Compiled in the background or late, modules must also have reached the table, so that
// regions ran both ways.
const switched = mode === "at-once" || installed() > 0;
console.log(
  JSON.stringify({ cases, mode, regions: regions(), installed: installed(), switched, failed }),
);
process.exit(failed.length === 0 && regions() > 0 && switched ? 0 : 1);
