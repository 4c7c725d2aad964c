// The translating tier's differential runs over every guest of the repository and every
// guest lab's reference solution, in vmlab's Wasm build with regions compiled by
// Node.js (host.mjs). CASES.json (written by `cargo xtask test`) holds
// { cases: [case...], labs: [lab...] }; each case runs through `bench_case` (the
// interpreter, then the translating tier, compared) and each lab through `bench_lab`
// (its reference solution graded in both tiers).
// Usage: node corpus.mjs VMLAB_BENCH_WASM CASES.json [NAME-SUBSTRING]
// Prints one JSON line per case and lab ({ item, ok, ... the module's report }) and a
// summary line ({ summary: ... }); exits 1 when anything differed or failed.
import { readFileSync } from "node:fs";
import { instantiateCore } from "./host.mjs";

const bytes = readFileSync(process.argv[2]);
const corpus = JSON.parse(readFileSync(process.argv[3], "utf8"));
const only = process.argv[4] ?? "";
const { core, regions } = await instantiateCore(bytes);
const encoder = new TextEncoder();
const decoder = new TextDecoder();

// Passes `request` to export `name` as JSON text and parses its answer.
function call(name, request) {
  const text = encoder.encode(JSON.stringify(request));
  const ptr = core.bench_input(text.length);
  new Uint8Array(core.memory.buffer, ptr, text.length).set(text);
  const len = core[name]();
  const out = new Uint8Array(core.memory.buffer, core.bench_output_ptr(), len);
  return JSON.parse(decoder.decode(out));
}

const summary = { cases: 0, labs: 0, failed: [], with_regions: 0, seconds: 0 };
const start = performance.now();
const items = [
  ...corpus.cases.map((c) => ["bench_case", c.name, c]),
  ...corpus.labs.map((l) => [`bench_lab`, `lab ${l.id}`, l]),
];
for (const [fn, item, request] of items) {
  if (!item.includes(only)) continue;
  const t0 = performance.now();
  let report;
  try {
    report = call(fn, request);
  } catch (e) {
    report = { error: `${item}: ${e}` };
  }
  const ok = report.error === undefined && report.same === true;
  if (fn === "bench_case") summary.cases += 1;
  else summary.labs += 1;
  if (report.region_instructions > 0) summary.with_regions += 1;
  if (!ok) summary.failed.push(item);
  const seconds = Math.round((performance.now() - t0) / 10) / 100;
  console.log(JSON.stringify({ item, ok, seconds, ...report }));
}
summary.seconds = Math.round((performance.now() - start) / 100) / 10;
summary.regions_compiled = regions();
console.log(JSON.stringify({ summary }));
process.exit(summary.failed.length === 0 ? 0 : 1);
