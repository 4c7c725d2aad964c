// Times vmlab's Wasm build of the mixed workload under Node.js.
// Usage: node run.mjs VMLAB_BENCH_WASM ITER
// Runs the machine in time slices, as the browser's worker does; prints one JSON
// line: seconds (of the run only), instructions, mips.
import { readFileSync } from "node:fs";

const bytes = readFileSync(process.argv[2]);
const iter = Number(process.argv[3]);
const module = await WebAssembly.compile(bytes);
const imports = {};
for (const imp of WebAssembly.Module.imports(module)) {
  imports[imp.module] ??= {};
  imports[imp.module][imp.name] = () => {
    throw new Error(`unexpected import ${imp.module}.${imp.name}`);
  };
}
const instance = await WebAssembly.instantiate(module, imports);
const { bench_prepare, bench_run, bench_icount } = instance.exports;
// Time slices of 2 million instructions, as the lab's worker runs the machine.
const SLICE = 2_000_000;
if (!bench_prepare(iter)) {
  console.error("bench_prepare failed");
  process.exit(1);
}
const start = performance.now();
while (bench_run(SLICE)) {}
const seconds = (performance.now() - start) / 1000;
const instructions = bench_icount();
console.log(JSON.stringify({ seconds, instructions, mips: instructions / seconds / 1e6 }));
