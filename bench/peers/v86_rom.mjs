// Peer benchmark: run a vmlab benchmark ROM as the BIOS of v86 (x86-to-Wasm JIT) under Node.js.
// Usage: node v86_rom.mjs ROM [--no-jit]  (run from a folder whose node_modules has the npm
// package v86); --no-jit switches v86's JIT off (its `disable_jit` setting), so every
// instruction goes through its interpreter.
// Prints one JSON line: seconds (from start to the newline on COM1), cpu_seconds (the main
// thread's time on a CPU meanwhile, from Linux's /proc/thread-self/schedstat; null
// elsewhere), instructions, mips, serial, and jit (whether v86's JIT was on, as v86
// reports it).
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(path.join(process.cwd(), "noop.js"));
const { V86 } = await import(require.resolve("v86/build/libv86.mjs"));
const wasmPath = require.resolve("v86/build/v86.wasm");
const rom = readFileSync(process.argv[2]);
const noJit = process.argv.slice(3).includes("--no-jit");
const cpuNow = () => {
  try {
    return Number(readFileSync("/proc/thread-self/schedstat", "utf8").split(" ")[0]) / 1e9;
  } catch {
    return null;
  }
};
let cpuStart = null;

const emulator = new V86({
  wasm_path: wasmPath,
  bios: { buffer: rom.buffer.slice(rom.byteOffset, rom.byteOffset + rom.byteLength) },
  memory_size: 32 * 1024 * 1024,
  autostart: false,
  disable_speaker: true,
  disable_keyboard: true,
  disable_mouse: true,
  disable_jit: noJit,
});

let serial = "";
let start = 0;
const timeout = setTimeout(() => {
  console.error("v86: no result on COM1 within 120 s; got " + JSON.stringify(serial));
  process.exit(1);
}, 120000);

emulator.add_listener("emulator-loaded", () => {
  cpuStart = cpuNow();
  start = performance.now();
  emulator.run();
});
emulator.add_listener("serial0-output-byte", (byte) => {
  serial += String.fromCharCode(byte);
  if (byte === 10) {
    const seconds = (performance.now() - start) / 1000;
    const cpuEnd = cpuNow();
    const cpu_seconds = cpuStart === null || cpuEnd === null ? null : cpuEnd - cpuStart;
    const instructions = emulator.get_instruction_counter();
    // v86's own setting: JIT_DISABLED is its JIT config 0.
    const jit = emulator.v86.cpu.wm.exports.get_jit_config(0) === 0;
    clearTimeout(timeout);
    emulator.stop();
    console.log(JSON.stringify({ peer: "v86", seconds, cpu_seconds, instructions, mips: instructions / seconds / 1e6, serial, jit }));
    emulator.destroy();
    process.exit(0);
  }
});
