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

// The translating tier's host for Node.js, shared by run.mjs, guests.mjs, fuzz.mjs and
// corpus.mjs: the `vmlab_host` imports of the core's Wasm build. `region_compile`
// compiles a region module, instantiates it with the core's memory, function table and
// slow-path exports, and puts its `run` in that table, where the core and other regions
// call it: at `slot` (a place the core's region host gives out again, so the old
// instance can be collected) or, with -1, at a new place; it returns the table index.
// How it compiles is `mode` (the core's `bench_compile_mode`):
//   0, at once: `new WebAssembly.Module`, the core waiting;
//   1, in the background: `WebAssembly.instantiate`, on V8's compile threads; the
//      module is put in the table when it is ready and the core's `region_finished`
//      agrees (the place may have been given to another module since), and the core
//      runs the region through its IR interpreter until then;
//   2, late: at once, but put in the table only when the next module is compiled.
// `compiled` hears of each region with the seconds its compilation and instantiation
// took on the main thread.
export function regionHost(getCore, compiled) {
  // Late mode's module waiting for the next compile: [index, ticket, run].
  let late = null;
  // Modules compiled in the background or late and then put in the table.
  let installed = 0;
  const imports = (core) => ({
    env: { memory: core.memory, table: core.__indirect_function_table },
    vmlab: {
      flags: core.xlate_flags,
      cond: core.xlate_cond,
      load: core.xlate_load,
      store: core.xlate_store,
    },
  });
  const place = (core, slot) => (slot >= 0 ? slot : core.__indirect_function_table.grow(1));
  const install = (core, index, ticket, run) => {
    if (!core.region_finished(index, ticket, 1)) return;
    core.__indirect_function_table.set(index, run);
    installed += 1;
  };
  return {
    installed: () => installed,
    region_compile(ptr, len, slot, mode, ticket) {
      const start = performance.now();
      const core = getCore();
      const code = new Uint8Array(core.memory.buffer, ptr, len).slice();
      if (mode === 1) {
        const index = place(core, slot);
        WebAssembly.instantiate(code, imports(core)).then(
          ({ instance }) => install(core, index, ticket, instance.exports.run),
          () => core.region_finished(index, ticket, 0),
        );
        compiled((performance.now() - start) / 1000);
        return index;
      }
      const region = new WebAssembly.Instance(new WebAssembly.Module(code), imports(core));
      const index = place(core, slot);
      if (mode === 2) {
        if (late !== null) install(core, ...late);
        late = [index, ticket, region.exports.run];
      } else {
        core.__indirect_function_table.set(index, region.exports.run);
      }
      compiled((performance.now() - start) / 1000);
      return index;
    },
  };
}

// A turn of the event loop between two time slices, as the lab's worker gives one: the
// background compiles that ended put their modules in the table.
export const turn = () => new Promise((resolve) => setImmediate(resolve));

// Instantiates the core's Wasm build (`bytes`) with the region host; its exports and
// functions that read how many regions it compiled, the seconds that took on the main
// thread, and how many modules compiled in the background or late were put in the table.
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
  const host = regionHost(
    () => core,
    (seconds) => {
      regions += 1;
      compileSeconds += seconds;
    },
  );
  imports.vmlab_host = { region_compile: host.region_compile };
  core = (await WebAssembly.instantiate(module, imports)).exports;
  return {
    core,
    regions: () => regions,
    compileSeconds: () => compileSeconds,
    installed: host.installed,
  };
}
