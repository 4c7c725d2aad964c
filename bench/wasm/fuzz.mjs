// The translating tier's Wasm backend against the interpreter on random instruction
// streams (`src/fuzz.rs`): each case runs in the Wasm build once in the interpreter and
// once translating (threshold 1, regions compiled by Node.js and called through the
// core's function table, in uneven time slices), 200,000 instructions at most, and must
// end in the same state digest and instruction count.
// Usage: node fuzz.mjs VMLAB_BENCH_WASM CASES [MODULES]. MODULES bounds the region
// modules the function table holds before its places start over (each machine then
// drops its regions and compiles them again into reused places); a small number tests
// that. Prints one JSON line; exits 1 on a difference.
import { readFileSync } from "node:fs";
import { instantiateCore } from "./host.mjs";

const bytes = readFileSync(process.argv[2]);
const cases = Number(process.argv[3] ?? 40);
const { core, regions } = await instantiateCore(bytes);
if (process.argv[4] !== undefined) core.bench_module_cap(Number(process.argv[4]));

// Uneven time slices for the translating runs, so budgets end inside looping and
// chained regions; the interpreter runs in one slice.
const SLICES = [1, 7, 1000, 3, 12345, 2, 50_000];

function outcome(c, tier) {
  core.bench_tier(tier);
  if (!core.bench_prepare_fuzz(c)) throw new Error(`case ${c} did not assemble`);
  let left = 200_000;
  for (let i = 0; left > 0; i++) {
    const slice = tier === 0 ? left : Math.min(left, SLICES[i % SLICES.length]);
    left -= slice;
    if (!core.bench_run(slice)) break;
  }
  return [core.bench_icount(), core.bench_digest()];
}

const failed = [];
for (let c = 0; c < cases; c++) {
  const [n0, d0] = outcome(c, 0);
  const [n2, d2] = outcome(c, 2);
  if (n0 !== n2 || d0 !== d2) failed.push({ case: c, interp: [n0, d0], translate: [n2, d2] });
}
console.log(JSON.stringify({ cases, regions: regions(), failed }));
process.exit(failed.length === 0 && regions() > 0 ? 0 : 1);
