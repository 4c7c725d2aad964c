import { readFileSync } from "node:fs";

// Seconds the calling thread has spent on a CPU (Linux's /proc/thread-self/schedstat),
// or null where that cannot be read.
export function mainThreadCpuSeconds() {
  try {
    return Number(readFileSync("/proc/thread-self/schedstat", "utf8").split(" ")[0]) / 1e9;
  } catch {
    return null;
  }
}

// The translating tier's host for Node.js, shared by run.mjs and fuzz.mjs: the
// `vmlab_host` imports of the core's Wasm build. `region_compile` compiles a region
// module with `new WebAssembly.Module`, instantiates it with the core's memory, function
// table and slow-path exports, and puts its `run` in that table, where the core and
// other regions call it: at `slot` (a place the core's region host gives out again, so
// the old instance can be collected) or, with -1, at a new place; it returns the table
// index. `compiled` hears of each region
// with the seconds its compilation and instantiation took.
export function regionHost(getCore, compiled) {
  return {
    region_compile(ptr, len, slot) {
      const start = performance.now();
      const core = getCore();
      const code = new Uint8Array(core.memory.buffer, ptr, len).slice();
      const region = new WebAssembly.Instance(new WebAssembly.Module(code), {
        env: { memory: core.memory, table: core.__indirect_function_table },
        vmlab: {
          flags: core.xlate_flags,
          cond: core.xlate_cond,
          load: core.xlate_load,
          store: core.xlate_store,
        },
      });
      const table = core.__indirect_function_table;
      const index = slot >= 0 ? slot : table.grow(1);
      table.set(index, region.exports.run);
      compiled(region.exports.run, (performance.now() - start) / 1000);
      return index;
    },
  };
}

// Instantiates the core's Wasm build (`bytes`) with the region host; its exports and
// functions that read how many regions it compiled and the seconds that took.
export async function instantiateCore(bytes) {
  const module = await WebAssembly.compile(bytes);
  const imports = {};
  for (const imp of WebAssembly.Module.imports(module)) {
    imports[imp.module] ??= {};
    imports[imp.module][imp.name] = () => {
      throw new Error(`unexpected import ${imp.module}.${imp.name}`);
    };
  }
  let core = null;
  let regions = 0;
  let compileSeconds = 0;
  imports.vmlab_host = regionHost(
    () => core,
    (_run, seconds) => {
      regions += 1;
      compileSeconds += seconds;
    },
  );
  core = (await WebAssembly.instantiate(module, imports)).exports;
  return { core, regions: () => regions, compileSeconds: () => compileSeconds };
}
