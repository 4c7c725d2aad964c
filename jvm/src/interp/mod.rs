//! The interpreter: a stack of frames (locals + operand stack), run bytecode by
//! bytecode under an instruction budget, with class initialization, exceptions
//! unwound through exception tables, and allocation that collects when the heap
//! is full.

mod class;
pub(crate) mod exec;
mod family;
mod native;

use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use serde::Serialize;

pub use class::{ClassSource, Classes, MapSource, Target, BUILTINS};
pub use family::REFERENCE;

use crate::classfile::descriptor;
use crate::heap::{object_size, Body, GcKind, Heap, HeapSnapshot, Value};
use crate::opcode;
use crate::JvmError;

/// How the machine is set up.
#[derive(Clone, Debug)]
pub struct VmConfig {
    pub gc: GcKind,
    /// Heap bytes (both halves for the copying collector).
    pub heap_bytes: u32,
    /// Record one line per bytecode in [`Vm::trace`].
    pub trace: bool,
    /// Most bytes of output the program may print.
    pub max_output: usize,
    /// Invocations plus back edges before a method compiles to x86 (0: no JIT).
    pub jit_threshold: u32,
}

impl Default for VmConfig {
    fn default() -> Self {
        VmConfig {
            gc: GcKind::MarkSweep,
            heap_bytes: 1 << 20,
            trace: false,
            max_output: 1 << 20,
            jit_threshold: 0,
        }
    }
}

/// How a run ended (or paused).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Outcome {
    /// `main` returned.
    Finished,
    /// The instruction budget ran out; `run` may be called again.
    Budget,
    /// An exception left `main`, as `java` reports it on stderr.
    Uncaught {
        class: String,
        message: Option<String>,
    },
}

/// One activation record.
#[derive(Clone, Debug)]
pub struct Frame {
    pub class: u32,
    pub method: usize,
    pub pc: usize,
    pub locals: Vec<Value>,
    pub stack: Vec<Value>,
    /// Bytes the caller's pc advances by when this frame returns (0: the caller
    /// executes its instruction again, after a class initializer).
    pub resume: u8,
}

/// A frame as the frame view shows it.
#[derive(Clone, Debug, Serialize)]
pub struct FrameView {
    pub class: String,
    pub method: String,
    pub pc: usize,
    pub instruction: String,
    pub locals: Vec<Value>,
    pub stack: Vec<Value>,
}

/// Why an instruction did not simply finish.
#[derive(Debug)]
pub(crate) enum Trap {
    /// A Java exception (the throwable's address) to unwind with.
    Throw(u32),
    /// The heap is full even after a collection.
    OutOfMemory,
    /// An error of the host: unsupported, malformed, or a limit.
    Error(JvmError),
}

impl From<JvmError> for Trap {
    fn from(e: JvmError) -> Trap {
        Trap::Error(e)
    }
}

/// The JVM.
pub struct Vm<'s> {
    pub source: &'s dyn ClassSource,
    /// Executes the int family of bytecodes (the reference, or a lab's submission).
    pub int_family: &'s dyn crate::component::jvm_bytecodes::IntBytecodes,
    /// The mark-sweep collector's mark phase (the reference, or a lab's submission).
    pub marker: &'s dyn crate::component::gc_mark::Marker,
    pub config: VmConfig,
    pub classes: Classes,
    pub heap: Heap,
    pub frames: Vec<Frame>,
    /// Element type names of reference arrays; an array object's class indexes this.
    pub array_types: Vec<String>,
    interned: BTreeMap<String, u32>,
    /// References held by the runtime across an allocation.
    pinned: Vec<u32>,
    pub stdout: String,
    pub stderr: String,
    pub trace: Vec<String>,
    /// Bytecodes interpreted.
    pub steps: u64,
    /// The baseline JIT (off when `config.jit_threshold` is 0).
    pub jit: crate::jit::Jit,
    outcome: Option<Outcome>,
}

impl core::fmt::Debug for Vm<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Vm")
            .field("steps", &self.steps)
            .field("frames", &self.frames.len())
            .finish()
    }
}

impl<'s> Vm<'s> {
    /// A machine ready to run `main_class.main(String[])`.
    pub fn new(
        source: &'s dyn ClassSource,
        main_class: &str,
        config: VmConfig,
    ) -> Result<Vm<'s>, JvmError> {
        let main_class = main_class.replace('.', "/");
        let heap = Heap::new(config.gc, config.heap_bytes);
        let jit = crate::jit::Jit::new(config.jit_threshold);
        let mut vm = Vm {
            source,
            int_family: &REFERENCE,
            marker: &crate::heap::REFERENCE_MARK,
            config,
            classes: Classes::new(),
            heap,
            frames: Vec::new(),
            array_types: Vec::new(),
            interned: BTreeMap::new(),
            pinned: Vec::new(),
            stdout: String::new(),
            stderr: String::new(),
            trace: Vec::new(),
            steps: 0,
            jit,
            outcome: None,
        };
        let oom = |_| JvmError("the heap is too small for the runtime's own objects".into());
        let ps = vm.classes.by_name["java/io/PrintStream"];
        for stream in ["out", "err"] {
            let a = vm
                .alloc(ps, object_size(0), Body::Fields(Vec::new()))
                .map_err(oom)?;
            let sys = vm.classes.by_name["java/lang/System"];
            vm.classes.list[sys as usize]
                .statics
                .insert(stream.into(), Value::Ref(a));
        }
        let main = vm.classes.resolve(source, &main_class)?;
        let cf = vm.classes.list[main as usize].file.clone().ok_or_else(|| {
            JvmError(alloc::format!(
                "{main_class} is a runtime class, not a program"
            ))
        })?;
        let m = cf
            .methods
            .iter()
            .position(|m| {
                m.name == "main" && m.descriptor == "([Ljava/lang/String;)V" && m.is_static()
            })
            .ok_or_else(|| {
                JvmError(alloc::format!(
                    "{main_class}.class has no public static void main(String[])"
                ))
            })?;
        let elem = vm.array_type("java/lang/String");
        let args = vm
            .alloc(elem, object_size(0), Body::Refs(Vec::new()))
            .map_err(oom)?;
        vm.push_frame(main, m, &[Value::Ref(args)], 0)?;
        vm.ensure_init(main).map_err(|t| match t {
            Trap::Error(e) => e,
            _ => JvmError("the main class could not be initialized".into()),
        })?;
        Ok(vm)
    }

    /// How the program ended, once it has.
    pub fn clone_outcome(&self) -> Option<Outcome> {
        self.outcome.clone()
    }

    /// Runs at most `budget` steps: a bytecode interpreted, or an x86 instruction
    /// compiled code retired.
    pub fn run(&mut self, budget: u64) -> Result<Outcome, JvmError> {
        let mut used = 0u64;
        if self.jit.staged.is_some() {
            used = self.enter_staged(budget)?;
            if let Some(o) = self.end_after_compiled_code() {
                return Ok(o);
            }
        }
        while used < budget {
            let before = match self.frames.last() {
                Some(f) if self.jit.threshold > 0 => Some((self.frames.len(), f.pc)),
                _ => None,
            };
            if let Some(o) = self.step()? {
                return Ok(o);
            }
            used += 1;
            if let Some(before) = before {
                used = used.saturating_add(crate::jit::after_step(self, before, budget - used)?);
                if let Some(o) = self.end_after_compiled_code() {
                    return Ok(o);
                }
                if self.jit.staged.is_some() {
                    return Ok(Outcome::Budget);
                }
            }
        }
        Ok(self.outcome.clone().unwrap_or(Outcome::Budget))
    }

    /// The outcome once compiled code returned from the last frame or ended the program.
    fn end_after_compiled_code(&mut self) -> Option<Outcome> {
        if self.frames.is_empty() && self.outcome.is_none() {
            self.outcome = Some(Outcome::Finished);
        }
        self.outcome.clone()
    }

    /// Pops the top frame and hands `value` to the caller, whose pc moves past
    /// the call.
    pub(crate) fn return_from_frame(&mut self, value: Option<Value>) -> Result<(), JvmError> {
        let done = self
            .frames
            .pop()
            .ok_or_else(|| self.error_here("return without a frame"))?;
        if let Some(caller) = self.frames.last_mut() {
            caller.pc += done.resume as usize;
            if let Some(v) = value {
                caller.stack.push(v);
            }
        }
        Ok(())
    }

    /// Executes one bytecode; `Some` once the program has ended.
    pub fn step(&mut self) -> Result<Option<Outcome>, JvmError> {
        if let Some(o) = &self.outcome {
            return Ok(Some(o.clone()));
        }
        if self.frames.is_empty() {
            self.outcome = Some(Outcome::Finished);
            return Ok(self.outcome.clone());
        }
        // The interpreter runs the staged pc itself.
        self.jit.staged = None;
        if self.config.trace {
            if let Some(line) = self.trace_line() {
                self.trace.push(line);
            }
        }
        self.steps += 1;
        match exec::execute(self) {
            Ok(()) => {}
            Err(Trap::Throw(ex)) => self.unwind(ex)?,
            Err(Trap::OutOfMemory) => {
                self.outcome = Some(Outcome::Uncaught {
                    class: "java/lang/OutOfMemoryError".into(),
                    message: Some("Java heap space".into()),
                });
            }
            Err(Trap::Error(e)) => return Err(e),
        }
        if self.frames.is_empty() && self.outcome.is_none() {
            self.outcome = Some(Outcome::Finished);
        }
        Ok(self.outcome.clone())
    }

    fn trace_line(&self) -> Option<String> {
        let f = self.frames.last()?;
        let m = self.method_label(f.class, f.method);
        let code = self.code_of(f.class, f.method)?;
        let op = *code.get(f.pc)?;
        let depth = self.frames.len();
        Some(alloc::format!(
            "{:>width$}{}.{} pc {:>4}: {:<16} stack {:?}",
            "",
            self.classes.name(f.class),
            m,
            f.pc,
            opcode::name(op),
            f.stack,
            width = (depth - 1).min(40) * 2
        ))
    }

    /// The bytes of the instruction the top frame is at.
    pub fn instruction_bytes(&self) -> Option<&[u8]> {
        let f = self.frames.last()?;
        let code = self.code_of(f.class, f.method)?;
        let len = opcode::length(code, f.pc)?;
        code.get(f.pc..f.pc + len)
    }

    fn code_of(&self, class: u32, method: usize) -> Option<&[u8]> {
        let cf = self.classes.list.get(class as usize)?.file.as_ref()?;
        Some(&cf.methods.get(method)?.code.as_ref()?.code)
    }

    /// `name(desc)` of a method, for errors and views.
    pub fn method_label(&self, class: u32, method: usize) -> String {
        self.classes
            .list
            .get(class as usize)
            .and_then(|c| c.file.as_ref())
            .and_then(|cf| cf.methods.get(method))
            .map_or_else(|| "?".into(), |m| m.label())
    }

    /// An error at the current instruction.
    pub(crate) fn error_here(&self, message: impl core::fmt::Display) -> JvmError {
        match self.frames.last() {
            Some(f) => JvmError::at_pc(
                &alloc::format!("{}.class", self.classes.name(f.class)),
                &self.method_label(f.class, f.method),
                f.pc,
                message,
            ),
            None => JvmError(alloc::format!("{message}")),
        }
    }

    /// Pushes a frame for a bytecode method with these arguments.
    pub(crate) fn push_frame(
        &mut self,
        class: u32,
        method: usize,
        args: &[Value],
        resume: u8,
    ) -> Result<(), JvmError> {
        if self.frames.len() >= 2048 {
            return Err(self.error_here(
                "the frame stack is 2048 frames deep (StackOverflowError is not modelled)",
            ));
        }
        let cf = self.classes.list[class as usize]
            .file
            .clone()
            .ok_or_else(|| self.error_here("a frame for a runtime class"))?;
        let m = &cf.methods[method];
        let code = m
            .code
            .as_ref()
            .ok_or_else(|| self.error_here(alloc::format!("method {} has no code", m.label())))?;
        let mut locals = alloc::vec![Value::Top; code.max_locals as usize];
        let mut i = 0;
        for v in args {
            if i >= locals.len() {
                return Err(self.error_here("more arguments than max_locals"));
            }
            locals[i] = *v;
            i += if matches!(v, Value::Long(_)) { 2 } else { 1 };
        }
        self.frames.push(Frame {
            class,
            method,
            pc: 0,
            locals,
            stack: Vec::with_capacity(code.max_stack as usize),
            resume,
        });
        Ok(())
    }

    /// Runs `<clinit>` of class `i` (and its superclasses) if it has not run:
    /// `Ok(true)` when a frame was pushed and the current instruction must run again.
    pub(crate) fn ensure_init(&mut self, i: u32) -> Result<bool, Trap> {
        let class = &self.classes.list[i as usize];
        if class.init == class::Init::Done {
            return Ok(false);
        }
        if let Some(s) = class.super_class {
            if self.ensure_init(s)? {
                return Ok(true);
            }
        }
        self.classes.list[i as usize].init = class::Init::Done;
        // ConstantValue strings of static fields.
        let cf = self.classes.list[i as usize].file.clone();
        if let Some(cf) = &cf {
            for f in cf
                .fields
                .iter()
                .filter(|f| f.access & crate::classfile::ACC_STATIC != 0)
            {
                if let Some(crate::classfile::Constant::String(s)) =
                    f.constant_value.and_then(|c| cf.pool.get(c))
                {
                    let text = cf.pool.utf8(*s).map_err(JvmError)?.to_string();
                    let a = self.intern(&text)?;
                    self.classes.list[i as usize]
                        .statics
                        .insert(f.name.clone(), Value::Ref(a));
                }
            }
            if let Some(m) = cf
                .methods
                .iter()
                .position(|m| m.name == "<clinit>" && m.descriptor == "()V")
            {
                self.push_frame(i, m, &[], 0)?;
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Unwinds to the nearest handler for the throwable at `ex`.
    fn unwind(&mut self, ex: u32) -> Result<(), JvmError> {
        let ex_class = self
            .heap
            .get(ex)
            .map(|o| o.class)
            .ok_or_else(|| self.error_here("athrow of a dangling reference"))?;
        while let Some(f) = self.frames.last_mut() {
            let (class, method, pc) = (f.class, f.method, f.pc);
            let cf = self.classes.list[class as usize].file.clone();
            let handlers = cf
                .as_ref()
                .and_then(|cf| cf.methods[method].code.as_ref())
                .map(|c| c.handlers.clone())
                .unwrap_or_default();
            for h in handlers {
                if pc < h.start as usize || pc >= h.end as usize {
                    continue;
                }
                let matches = h.catch_type == 0 || {
                    let name = cf
                        .as_ref()
                        .and_then(|cf| cf.pool.class_name(h.catch_type).ok())
                        .unwrap_or("");
                    self.classes.is_subtype(ex_class, name)
                };
                if matches {
                    let f = self.frames.last_mut().expect("frame checked above");
                    f.stack.clear();
                    f.stack.push(Value::Ref(ex));
                    f.pc = h.handler as usize;
                    return Ok(());
                }
            }
            self.frames.pop();
        }
        let message = self.throwable_message(ex);
        self.outcome = Some(Outcome::Uncaught {
            class: self.classes.name(ex_class).into(),
            message,
        });
        Ok(())
    }

    /// The detail message of a throwable.
    pub(crate) fn throwable_message(&self, ex: u32) -> Option<String> {
        let o = self.heap.get(ex)?;
        let slot = self.classes.field_slot(o.class, class::DETAIL_MESSAGE)?;
        match &o.body {
            Body::Fields(f) => match f.get(slot) {
                Some(Value::Ref(a)) => self.string_at(*a).map(Into::into),
                _ => None,
            },
            _ => None,
        }
    }

    /// The text of the String at `a`.
    pub fn string_at(&self, a: u32) -> Option<&str> {
        match &self.heap.get(a)?.body {
            Body::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The index of a reference array's element type.
    pub(crate) fn array_type(&mut self, name: &str) -> u32 {
        match self.array_types.iter().position(|t| t == name) {
            Some(i) => i as u32,
            None => {
                self.array_types.push(name.into());
                (self.array_types.len() - 1) as u32
            }
        }
    }

    /// Allocates, collecting once when the heap is full.
    pub(crate) fn alloc(&mut self, class: u32, size: u32, body: Body) -> Result<u32, Trap> {
        if size > self.heap.capacity {
            return Err(Trap::OutOfMemory);
        }
        if let Some(a) = self.heap.try_alloc(class, size, body.clone()) {
            return Ok(a);
        }
        self.collect();
        self.heap
            .try_alloc(class, size, body)
            .ok_or(Trap::OutOfMemory)
    }

    /// Runs the collector with the frames, statics, interned strings and pinned
    /// references as roots.
    pub fn collect(&mut self) {
        let mut roots = Vec::new();
        self.visit_roots(&mut |r| roots.push(*r));
        self.heap.collect_with(&mut roots, self.marker);
        let mut it = roots.into_iter();
        self.visit_roots(&mut |r| {
            if let Some(n) = it.next() {
                *r = n;
            }
        });
    }

    fn visit_roots(&mut self, f: &mut dyn FnMut(&mut u32)) {
        let mut value = |v: &mut Value| {
            if let Value::Ref(a) = v {
                if *a != 0 {
                    f(a);
                }
            }
        };
        for fr in &mut self.frames {
            fr.locals.iter_mut().for_each(&mut value);
            fr.stack.iter_mut().for_each(&mut value);
        }
        for c in &mut self.classes.list {
            c.statics.values_mut().for_each(&mut value);
        }
        for a in self.interned.values_mut() {
            let mut v = Value::Ref(*a);
            value(&mut v);
            if let Value::Ref(n) = v {
                *a = n;
            }
        }
        for a in &mut self.pinned {
            let mut v = Value::Ref(*a);
            value(&mut v);
            if let Value::Ref(n) = v {
                *a = n;
            }
        }
    }

    /// A String object for a constant, one per distinct text.
    pub(crate) fn intern(&mut self, text: &str) -> Result<u32, Trap> {
        if let Some(&a) = self.interned.get(text) {
            return Ok(a);
        }
        let a = self.new_string(text.into())?;
        self.interned.insert(text.into(), a);
        Ok(a)
    }

    /// A new String object.
    pub(crate) fn new_string(&mut self, text: String) -> Result<u32, Trap> {
        let class = self.classes.by_name["java/lang/String"];
        let size = object_size(text.encode_utf16().count().saturating_mul(2));
        self.alloc(class, size, Body::Str(text))
    }

    /// Allocates a throwable of the built-in class `name` with `message`.
    pub(crate) fn new_throwable(&mut self, name: &str, message: Option<String>) -> Trap {
        let Some(&class) = self.classes.by_name.get(name) else {
            return Trap::Error(self.error_here(alloc::format!("no runtime class {name}")));
        };
        let msg = match message {
            Some(m) => match self.new_string(m) {
                Ok(a) => a,
                Err(t) => return t,
            },
            None => 0,
        };
        self.pinned.push(msg);
        let n = self.classes.list[class as usize].fields.len();
        let r = self.alloc(
            class,
            object_size(n * 8),
            Body::Fields(alloc::vec![Value::Ref(0); n]),
        );
        let msg = self.pinned.pop().unwrap_or(0);
        match r {
            Ok(ex) => {
                if let (Some(slot), Some(o)) = (
                    self.classes.field_slot(class, class::DETAIL_MESSAGE),
                    self.heap.get_mut(ex),
                ) {
                    if let Body::Fields(f) = &mut o.body {
                        f[slot] = Value::Ref(msg);
                    }
                }
                Trap::Throw(ex)
            }
            Err(t) => t,
        }
    }

    /// Appends program output, refusing more than `max_output` bytes.
    pub(crate) fn print(&mut self, err: bool, text: &str) -> Result<(), JvmError> {
        let out = if err {
            &mut self.stderr
        } else {
            &mut self.stdout
        };
        if out.len() + text.len() > self.config.max_output {
            return Err(JvmError(alloc::format!(
                "the program printed more than {} bytes",
                self.config.max_output
            )));
        }
        out.push_str(text);
        Ok(())
    }

    /// The frames, innermost last, for the frame view.
    pub fn frame_views(&self) -> Vec<FrameView> {
        self.frames
            .iter()
            .map(|f| FrameView {
                class: self.classes.name(f.class).into(),
                method: self.method_label(f.class, f.method),
                pc: f.pc,
                instruction: self
                    .code_of(f.class, f.method)
                    .and_then(|c| c.get(f.pc))
                    .map_or("?", |&op| opcode::name(op))
                    .into(),
                locals: f.locals.clone(),
                stack: f.stack.clone(),
            })
            .collect()
    }

    /// The heap for the heap view.
    pub fn heap_snapshot(&self) -> HeapSnapshot {
        self.heap.snapshot(|o| match &o.body {
            Body::Refs(_) => self
                .array_types
                .get(o.class as usize)
                .cloned()
                .unwrap_or_default(),
            _ => self.classes.name(o.class).into(),
        })
    }

    /// Slots of a method descriptor's arguments, for callers that pop them.
    pub(crate) fn arg_types(
        &self,
        desc: &str,
    ) -> Result<(Vec<descriptor::FieldType>, Option<descriptor::FieldType>), JvmError> {
        descriptor::parse_method(desc).map_err(|e| self.error_here(e))
    }
}
