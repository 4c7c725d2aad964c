// The translating tier's Wasm backend against the interpreter on random instruction
// streams (`src/fuzz.rs`): each case runs in the Wasm build once in the interpreter and
// once translating (threshold 1, regions compiled by Node.js and called through the
// core's function table), 200,000 instructions at most, and must end in the same state
// digest and instruction count.
// Usage: node fuzz.mjs VMLAB_BENCH_WASM CASES. Prints one JSON line; exits 1 on a
// difference.
import { readFileSync } from "node:fs";
import { instantiateCore } from "./host.mjs";

const bytes = readFileSync(process.argv[2]);
const cases = Number(process.argv[3] ?? 40);
const { core, regions } = await instantiateCore(bytes);

function outcome(c, tier) {
  core.bench_tier(tier);
  if (!core.bench_prepare_fuzz(c)) throw new Error(`case ${c} did not assemble`);
  let left = 200_000;
  while (left > 0 && core.bench_run(Math.min(left, 50_000))) left -= 50_000;
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
