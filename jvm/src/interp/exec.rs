//! One bytecode: fetch at the top frame's pc, execute over its locals and operand
//! stack, and say where control goes next. The runtime exceptions the JVM raises
//! itself (division by zero, null, array bounds, casts) are thrown here.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use super::class::Target;
use super::{family, native, Trap, Vm};
use crate::classfile::descriptor::FieldType;
use crate::classfile::{Constant, ACC_STATIC};
use crate::component::jvm_bytecodes::{self, Next};
use crate::heap::{object_size, Body, Value};
use crate::opcode;
use crate::JvmError;

/// Where control goes after an instruction.
pub(crate) enum Flow {
    /// The next instruction.
    Next,
    /// A branch target.
    Jump(usize),
    /// A frame was pushed or popped: the pc is already right.
    Stay,
}

impl Vm<'_> {
    fn top(&mut self) -> Result<&mut super::Frame, JvmError> {
        match self.frames.last_mut() {
            Some(f) => Ok(f),
            None => Err(JvmError("no frame".into())),
        }
    }

    pub(crate) fn push(&mut self, v: Value) -> Result<(), JvmError> {
        self.top()?.stack.push(v);
        Ok(())
    }

    pub(crate) fn pop(&mut self) -> Result<Value, JvmError> {
        match self.top()?.stack.pop() {
            Some(v) => Ok(v),
            None => Err(self.error_here("operand stack underflow")),
        }
    }

    pub(crate) fn pop_int(&mut self) -> Result<i32, JvmError> {
        match self.pop()? {
            Value::Int(n) => Ok(n),
            v => Err(self.error_here(alloc::format!(
                "expected an int on the operand stack, found {v:?}"
            ))),
        }
    }

    pub(crate) fn pop_long(&mut self) -> Result<i64, JvmError> {
        match self.pop()? {
            Value::Long(n) => Ok(n),
            v => Err(self.error_here(alloc::format!(
                "expected a long on the operand stack, found {v:?}"
            ))),
        }
    }

    pub(crate) fn pop_ref(&mut self) -> Result<u32, JvmError> {
        match self.pop()? {
            Value::Ref(a) => Ok(a),
            v => Err(self.error_here(alloc::format!(
                "expected a reference on the operand stack, found {v:?}"
            ))),
        }
    }

    fn local(&mut self, i: usize) -> Result<Value, JvmError> {
        match self.top()?.locals.get(i) {
            Some(v) => Ok(*v),
            None => Err(self.error_here(alloc::format!("local {i} is out of range"))),
        }
    }

    pub(crate) fn set_local(&mut self, i: usize, v: Value) -> Result<(), JvmError> {
        let wide = matches!(v, Value::Long(_));
        let f = self.top()?;
        if i + usize::from(wide) >= f.locals.len() {
            return Err(self.error_here(alloc::format!("local {i} is out of range")));
        }
        f.locals[i] = v;
        if wide {
            f.locals[i + 1] = Value::Top;
        }
        Ok(())
    }

    /// Pops a method's arguments (receiver first when `receiver`), in order.
    pub(crate) fn pop_args(
        &mut self,
        args: &[FieldType],
        receiver: bool,
    ) -> Result<Vec<Value>, JvmError> {
        let mut out = Vec::with_capacity(args.len() + 1);
        for _ in 0..args.len() + usize::from(receiver) {
            out.push(self.pop()?);
        }
        out.reverse();
        Ok(out)
    }

    fn npe(&mut self) -> Trap {
        self.new_throwable("java/lang/NullPointerException", None)
    }

    /// The array at `a`, or a NullPointerException / an error for a non-array.
    fn array_len(&mut self, a: u32) -> Result<usize, Trap> {
        if a == 0 {
            return Err(self.npe());
        }
        match self.heap.get(a).map(|o| &o.body) {
            Some(Body::Ints(_, v)) => Ok(v.len()),
            Some(Body::Longs(v)) => Ok(v.len()),
            Some(Body::Refs(v)) => Ok(v.len()),
            _ => Err(Trap::Error(self.error_here("not an array"))),
        }
    }

    fn check_index(&mut self, a: u32, i: i32) -> Result<usize, Trap> {
        let len = self.array_len(a)?;
        if i < 0 || i as usize >= len {
            return Err(self.new_throwable(
                "java/lang/ArrayIndexOutOfBoundsException",
                Some(alloc::format!("Index {i} out of bounds for length {len}")),
            ));
        }
        Ok(i as usize)
    }

    /// A new array of `len` elements of descriptor `elem` (`I`, `J`, `Lname;`, `[I` ...).
    pub(crate) fn new_array(&mut self, elem: &str, len: i32) -> Result<u32, Trap> {
        if len < 0 {
            return Err(self.new_throwable(
                "java/lang/NegativeArraySizeException",
                Some(alloc::format!("{len}")),
            ));
        }
        let n = len as usize;
        let (bytes, body_kind) = match elem.as_bytes().first() {
            Some(b'Z' | b'B') => (1, 0),
            Some(b'C' | b'S') => (2, 0),
            Some(b'I') => (4, 0),
            Some(b'J') => (8, 1),
            Some(b'L' | b'[') => (4, 2),
            _ => {
                return Err(Trap::Error(
                    self.error_here(alloc::format!("arrays of {elem} are not supported")),
                ))
            }
        };
        let size = n.saturating_mul(bytes);
        if size > self.heap.capacity as usize {
            return Err(Trap::OutOfMemory);
        }
        let (class, body) = match body_kind {
            0 => (0, Body::Ints(elem.as_bytes()[0], alloc::vec![0; n])),
            1 => (0, Body::Longs(alloc::vec![0; n])),
            _ => {
                let name = elem
                    .strip_prefix('L')
                    .and_then(|e| e.strip_suffix(';'))
                    .unwrap_or(elem);
                (self.array_type(name), Body::Refs(alloc::vec![0; n]))
            }
        };
        self.alloc(class, object_size(size), body)
    }

    fn multi_array(&mut self, desc: &str, dims: &[i32]) -> Result<u32, Trap> {
        let elem = &desc[1..];
        let outer = self.new_array(elem, dims[0])?;
        if dims.len() == 1 || dims[0] == 0 {
            return Ok(outer);
        }
        self.pinned.push(outer);
        for i in 0..dims[0] as usize {
            let inner = match self.multi_array(elem, &dims[1..]) {
                Ok(a) => a,
                Err(t) => {
                    self.pinned.pop();
                    return Err(t);
                }
            };
            let outer = *self.pinned.last().unwrap_or(&0);
            if let Some(Body::Refs(v)) = self.heap.get_mut(outer).map(|o| &mut o.body) {
                v[i] = inner;
            }
        }
        Ok(self.pinned.pop().unwrap_or(0))
    }

    /// The class of the object at `a` (String and StringBuilder included).
    fn class_of(&self, a: u32) -> Option<u32> {
        let o = self.heap.get(a)?;
        match o.body {
            Body::Ints(..) | Body::Longs(_) | Body::Refs(_) => None,
            _ => Some(o.class),
        }
    }

    /// Whether the object at `a` (non-null) is an instance of `target`.
    fn instance_of(&mut self, a: u32, target: &str) -> Result<bool, JvmError> {
        if target == "java/lang/Object" {
            return Ok(true);
        }
        match self.class_of(a) {
            Some(c) => {
                if !target.starts_with('[') && self.classes.resolve(self.source, target).is_err() {
                    // No loaded class can extend a class that cannot be loaded.
                    return Ok(false);
                }
                Ok(self.classes.is_subtype(c, target))
            }
            None => {
                // Arrays: exact element descriptors only.
                let o = self
                    .heap
                    .get(a)
                    .ok_or_else(|| self.error_here("dangling reference"))?;
                Ok(match &o.body {
                    Body::Ints(t, _) => target.len() == 2 && target.as_bytes() == [b'[', *t],
                    Body::Longs(_) => target == "[J",
                    Body::Refs(_) => {
                        let e = self
                            .array_types
                            .get(o.class as usize)
                            .cloned()
                            .unwrap_or_default();
                        target == alloc::format!("[L{e};") || target == alloc::format!("[{e}")
                    }
                    _ => false,
                })
            }
        }
    }
}

fn u16_at(code: &[u8], at: usize) -> usize {
    u16::from_be_bytes([code[at], code[at + 1]]) as usize
}

fn i32_at(code: &[u8], at: usize) -> i32 {
    i32::from_be_bytes([code[at], code[at + 1], code[at + 2], code[at + 3]])
}

/// Executes the instruction at the top frame's pc.
pub(crate) fn execute(vm: &mut Vm) -> Result<(), Trap> {
    let (class, method, pc) = match vm.frames.last() {
        Some(f) => (f.class, f.method, f.pc),
        None => return Ok(()),
    };
    let cf = vm.classes.list[class as usize]
        .file
        .clone()
        .ok_or_else(|| vm.error_here("a frame of a runtime class"))?;
    let code_attr = cf
        .methods
        .get(method)
        .and_then(|m| m.code.as_ref())
        .ok_or_else(|| vm.error_here("a frame without code"))?;
    let code = &code_attr.code[..];
    let op = *code
        .get(pc)
        .ok_or_else(|| vm.error_here("the pc is past the end of the code"))?;
    let len = opcode::length(code, pc)
        .ok_or_else(|| vm.error_here(alloc::format!("undecodable {}", opcode::name(op))))?;
    let pool = &cf.pool;
    let branch = |off: i64| -> usize { (pc as i64 + off) as usize };
    let bytes = code.get(pc..pc + len).unwrap_or_default();
    if jvm_bytecodes::in_family(bytes) {
        let flow = match family::execute(vm, bytes)? {
            family::Done::Next(Next::Fall) => Flow::Next,
            family::Done::Next(Next::Branch(off)) => Flow::Jump(branch(i64::from(off))),
            family::Done::DivideByZero => {
                return Err(
                    vm.new_throwable("java/lang/ArithmeticException", Some("/ by zero".into()))
                )
            }
        };
        return advance(vm, flow, pc, len);
    }
    let flow = match op {
        0 => Flow::Next,
        1 => {
            vm.push(Value::Ref(0))?;
            Flow::Next
        }
        9 | 10 => {
            vm.push(Value::Long(op as i64 - 9))?;
            Flow::Next
        }
        18..=20 => {
            let idx = if op == 18 { code[pc + 1] as u16 } else { u16_at(code, pc + 1) as u16 };
            let v = match pool.get(idx) {
                Some(Constant::Integer(n)) => Value::Int(*n),
                Some(Constant::Long(n)) => Value::Long(*n),
                Some(Constant::String(s)) => {
                    let text = pool.utf8(*s).map_err(|e| vm.error_here(e))?.to_string();
                    Value::Ref(vm.intern(&text)?)
                }
                Some(c) => return Err(Trap::Error(vm.error_here(alloc::format!("ldc of a {} constant is not supported", c.kind())))),
                None => return Err(Trap::Error(vm.error_here("ldc of a missing constant"))),
            };
            vm.push(v)?;
            Flow::Next
        }
        22 | 25 => {
            let v = vm.local(code[pc + 1] as usize)?;
            vm.push(v)?;
            Flow::Next
        }
        30..=33 | 42..=45 => {
            let v = vm.local(((op - 26) % 4) as usize)?;
            vm.push(v)?;
            Flow::Next
        }
        55 | 58 => {
            let v = vm.pop()?;
            vm.set_local(code[pc + 1] as usize, v)?;
            Flow::Next
        }
        63..=66 | 75..=78 => {
            let v = vm.pop()?;
            vm.set_local(((op - 59) % 4) as usize, v)?;
            Flow::Next
        }
        46 | 47 | 50 | 51 | 52 | 53 => {
            let i = vm.pop_int()?;
            let a = vm.pop_ref()?;
            let i = vm.check_index(a, i)?;
            let v = match vm.heap.get(a).map(|o| &o.body) {
                Some(Body::Ints(_, d)) if op != 47 && op != 50 => Value::Int(d[i]),
                Some(Body::Longs(d)) if op == 47 => Value::Long(d[i]),
                Some(Body::Refs(d)) if op == 50 => Value::Ref(d[i]),
                _ => return Err(Trap::Error(vm.error_here(alloc::format!("{} on an array of another type", opcode::name(op))))),
            };
            vm.push(v)?;
            Flow::Next
        }
        79 | 80 | 83 | 84 | 85 | 86 => {
            let v = vm.pop()?;
            let i = vm.pop_int()?;
            let a = vm.pop_ref()?;
            let i = vm.check_index(a, i)?;
            let elem_class = match (&v, vm.heap.get(a).map(|o| (o.class, &o.body))) {
                (Value::Ref(r), Some((c, Body::Refs(_)))) if *r != 0 => Some((*r, vm.array_types.get(c as usize).cloned().unwrap_or_default())),
                _ => None,
            };
            if let Some((r, elem)) = elem_class {
                if !vm.instance_of(r, &elem)? {
                    return Err(vm.new_throwable("java/lang/ArrayStoreException", None));
                }
            }
            let ok = match (vm.heap.get_mut(a).map(|o| &mut o.body), v) {
                (Some(Body::Ints(t, d)), Value::Int(n)) if matches!(op, 79 | 84 | 85 | 86) => {
                    d[i] = match *t {
                        b'Z' => n & 1,
                        b'B' => n as i8 as i32,
                        b'C' => n as u16 as i32,
                        b'S' => n as i16 as i32,
                        _ => n,
                    };
                    true
                }
                (Some(Body::Longs(d)), Value::Long(n)) if op == 80 => {
                    d[i] = n;
                    true
                }
                (Some(Body::Refs(d)), Value::Ref(r)) if op == 83 => {
                    d[i] = r;
                    true
                }
                _ => false,
            };
            if !ok {
                return Err(Trap::Error(vm.error_here(alloc::format!("{} of a {v:?} into an array of another type", opcode::name(op)))));
            }
            Flow::Next
        }
        87 => {
            vm.pop()?;
            Flow::Next
        }
        88 => {
            if !matches!(vm.pop()?, Value::Long(_)) {
                vm.pop()?;
            }
            Flow::Next
        }
        89 => {
            let v = vm.pop()?;
            vm.push(v)?;
            vm.push(v)?;
            Flow::Next
        }
        90 => {
            let a = vm.pop()?;
            let b = vm.pop()?;
            for v in [a, b, a] {
                vm.push(v)?;
            }
            Flow::Next
        }
        91 => {
            let a = vm.pop()?;
            let b = vm.pop()?;
            if matches!(b, Value::Long(_)) {
                for v in [a, b, a] {
                    vm.push(v)?;
                }
            } else {
                let c = vm.pop()?;
                for v in [a, c, b, a] {
                    vm.push(v)?;
                }
            }
            Flow::Next
        }
        92 => {
            let a = vm.pop()?;
            if matches!(a, Value::Long(_)) {
                vm.push(a)?;
                vm.push(a)?;
            } else {
                let b = vm.pop()?;
                for v in [b, a, b, a] {
                    vm.push(v)?;
                }
            }
            Flow::Next
        }
        93 => {
            let a = vm.pop()?;
            if matches!(a, Value::Long(_)) {
                let b = vm.pop()?;
                for v in [a, b, a] {
                    vm.push(v)?;
                }
            } else {
                let b = vm.pop()?;
                let c = vm.pop()?;
                for v in [b, a, c, b, a] {
                    vm.push(v)?;
                }
            }
            Flow::Next
        }
        95 => {
            let a = vm.pop()?;
            let b = vm.pop()?;
            vm.push(a)?;
            vm.push(b)?;
            Flow::Next
        }
        97 | 101 | 105 | 109 | 113 | 127 | 129 | 131 => {
            let b = vm.pop_long()?;
            let a = vm.pop_long()?;
            if matches!(op, 109 | 113) && b == 0 {
                return Err(vm.new_throwable("java/lang/ArithmeticException", Some("/ by zero".into())));
            }
            let r = match op {
                97 => a.wrapping_add(b),
                101 => a.wrapping_sub(b),
                105 => a.wrapping_mul(b),
                109 => a.wrapping_div(b),
                113 => a.wrapping_rem(b),
                127 => a & b,
                129 => a | b,
                _ => a ^ b,
            };
            vm.push(Value::Long(r))?;
            Flow::Next
        }
        121 | 123 | 125 => {
            let s = vm.pop_int()? as u32 & 63;
            let a = vm.pop_long()?;
            let r = match op {
                121 => a.wrapping_shl(s),
                123 => a.wrapping_shr(s),
                _ => ((a as u64) >> s) as i64,
            };
            vm.push(Value::Long(r))?;
            Flow::Next
        }
        117 => {
            let a = vm.pop_long()?;
            vm.push(Value::Long(a.wrapping_neg()))?;
            Flow::Next
        }
        133 => {
            let a = vm.pop_int()?;
            vm.push(Value::Long(a as i64))?;
            Flow::Next
        }
        136 => {
            let a = vm.pop_long()?;
            vm.push(Value::Int(a as i32))?;
            Flow::Next
        }
        145..=147 => {
            let a = vm.pop_int()?;
            let r = match op {
                145 => a as i8 as i32,
                146 => a as u16 as i32,
                _ => a as i16 as i32,
            };
            vm.push(Value::Int(r))?;
            Flow::Next
        }
        148 => {
            let b = vm.pop_long()?;
            let a = vm.pop_long()?;
            vm.push(Value::Int(a.cmp(&b) as i32))?;
            Flow::Next
        }
        165 | 166 => {
            let b = vm.pop_ref()?;
            let a = vm.pop_ref()?;
            if (a == b) == (op == 165) {
                Flow::Jump(branch(i16::from_be_bytes([code[pc + 1], code[pc + 2]]) as i64))
            } else {
                Flow::Next
            }
        }
        198 | 199 => {
            let a = vm.pop_ref()?;
            if (a == 0) == (op == 198) {
                Flow::Jump(branch(i16::from_be_bytes([code[pc + 1], code[pc + 2]]) as i64))
            } else {
                Flow::Next
            }
        }
        200 => Flow::Jump(branch(i32_at(code, pc + 1) as i64)),
        170 => {
            let key = vm.pop_int()?;
            let base = pc + 1 + (3 - pc % 4);
            let low = i32_at(code, base + 4);
            let high = i32_at(code, base + 8);
            let off = if key >= low && key <= high {
                i32_at(code, base + 12 + 4 * (key as i64 - low as i64) as usize)
            } else {
                i32_at(code, base)
            };
            Flow::Jump(branch(off as i64))
        }
        171 => {
            let key = vm.pop_int()?;
            let base = pc + 1 + (3 - pc % 4);
            let n = i32_at(code, base + 4).max(0) as usize;
            let mut off = i32_at(code, base);
            for k in 0..n {
                if i32_at(code, base + 8 + 8 * k) == key {
                    off = i32_at(code, base + 12 + 8 * k);
                    break;
                }
            }
            Flow::Jump(branch(off as i64))
        }
        172 | 173 | 176 | 177 => {
            let v = if op == 177 { None } else { Some(vm.pop()?) };
            vm.return_from_frame(v)?;
            Flow::Stay
        }
        178..=181 => field_access(vm, op, pool.member(u16_at(code, pc + 1) as u16, true).map_err(|e| vm.error_here(e))?)?,
        182..=185 => {
            let r = pool.member(u16_at(code, pc + 1) as u16, false).map_err(|e| vm.error_here(e))?;
            invoke(vm, op, &r.class, &r.name, &r.descriptor, len as u8)?
        }
        186 => native::invokedynamic(vm, &cf, u16_at(code, pc + 1) as u16)?,
        187 => {
            let name = pool.class_name(u16_at(code, pc + 1) as u16).map_err(|e| vm.error_here(e))?.to_string();
            let c = vm.classes.resolve(vm.source, &name)?;
            if vm.ensure_init(c)? {
                return Ok(());
            }
            let class = &vm.classes.list[c as usize];
            let body = match name.as_str() {
                "java/lang/StringBuilder" => Body::Builder(String::new()),
                "java/lang/String" => Body::Str(String::new()),
                _ if class.file.as_ref().is_some_and(|f| f.is_interface() || f.access & crate::classfile::ACC_ABSTRACT != 0) => {
                    return Err(Trap::Error(vm.error_here(alloc::format!("new of the abstract class or interface {name}"))))
                }
                _ => Body::Fields(class.fields.iter().map(|(_, d)| super::class::default_value(d)).collect()),
            };
            let n = class.fields.len();
            let a = vm.alloc(c, object_size(n * 8), body)?;
            vm.push(Value::Ref(a))?;
            Flow::Next
        }
        188 => {
            let elem = match code[pc + 1] {
                4 => "Z",
                5 => "C",
                8 => "B",
                9 => "S",
                10 => "I",
                11 => "J",
                t => return Err(Trap::Error(vm.error_here(alloc::format!("newarray of element type {t} (float/double) is not supported")))),
            };
            let n = vm.pop_int()?;
            let a = vm.new_array(elem, n)?;
            vm.push(Value::Ref(a))?;
            Flow::Next
        }
        189 => {
            let name = pool.class_name(u16_at(code, pc + 1) as u16).map_err(|e| vm.error_here(e))?;
            let elem = if name.starts_with('[') { String::from(name) } else { alloc::format!("L{name};") };
            let n = vm.pop_int()?;
            let a = vm.new_array(&elem, n)?;
            vm.push(Value::Ref(a))?;
            Flow::Next
        }
        197 => {
            let desc = pool.class_name(u16_at(code, pc + 1) as u16).map_err(|e| vm.error_here(e))?.to_string();
            let dims = code[pc + 3] as usize;
            if desc.bytes().take_while(|&c| c == b'[').count() < dims {
                return Err(Trap::Error(vm.error_here(alloc::format!("multianewarray of {dims} dimensions of {desc}"))));
            }
            let mut counts = Vec::new();
            for _ in 0..dims {
                counts.push(vm.pop_int()?);
            }
            counts.reverse();
            if let Some(&n) = counts.iter().find(|&&n| n < 0) {
                return Err(vm.new_throwable("java/lang/NegativeArraySizeException", Some(alloc::format!("{n}"))));
            }
            let a = vm.multi_array(&desc, &counts)?;
            vm.push(Value::Ref(a))?;
            Flow::Next
        }
        190 => {
            let a = vm.pop_ref()?;
            let n = vm.array_len(a)?;
            vm.push(Value::Int(n as i32))?;
            Flow::Next
        }
        191 => {
            let a = vm.pop_ref()?;
            if a == 0 {
                return Err(vm.npe());
            }
            return Err(Trap::Throw(a));
        }
        192 | 193 => {
            let name = pool.class_name(u16_at(code, pc + 1) as u16).map_err(|e| vm.error_here(e))?.to_string();
            let a = vm.pop_ref()?;
            let is = a != 0 && vm.instance_of(a, &name)?;
            if op == 193 {
                vm.push(Value::Int(is as i32))?;
            } else if a != 0 && !is {
                let from = vm.class_of(a).map(|c| vm.classes.name(c).replace('/', ".")).unwrap_or_else(|| "array".into());
                return Err(vm.new_throwable("java/lang/ClassCastException", Some(alloc::format!("class {from} cannot be cast to class {}", name.replace('/', ".")))));
            } else {
                vm.push(Value::Ref(a))?;
            }
            Flow::Next
        }
        194 | 195 => {
            if vm.pop_ref()? == 0 {
                return Err(vm.npe());
            }
            Flow::Next
        }
        196 => {
            let inner = code[pc + 1];
            let i = u16_at(code, pc + 2);
            match inner {
                22 | 25 => {
                    let v = vm.local(i)?;
                    vm.push(v)?;
                }
                55 | 58 => {
                    let v = vm.pop()?;
                    vm.set_local(i, v)?;
                }
                _ => return Err(Trap::Error(vm.error_here(alloc::format!("wide {} is not supported", opcode::name(inner))))),
            }
            Flow::Next
        }
        _ => {
            return Err(Trap::Error(vm.error_here(alloc::format!(
                "the bytecode {} ({op:#04x}) is not in the subset vmlab's JVM interprets (no float, double or subroutines)",
                opcode::name(op)
            ))))
        }
    };
    advance(vm, flow, pc, len)
}

/// Moves the top frame's pc where `flow` says.
fn advance(vm: &mut Vm, flow: Flow, pc: usize, len: usize) -> Result<(), Trap> {
    match flow {
        Flow::Next => {
            if let Some(f) = vm.frames.last_mut() {
                f.pc = pc + len;
            }
        }
        Flow::Jump(t) => {
            if let Some(f) = vm.frames.last_mut() {
                f.pc = t;
            }
        }
        Flow::Stay => {}
    }
    Ok(())
}

/// An int binary operation by opcode (`iadd` ... `ixor`); `None` for a division or
/// remainder by zero, and for other opcodes.
pub(crate) fn int_binop(op: u8, a: i32, b: i32) -> Option<i32> {
    Some(match op {
        96 => a.wrapping_add(b),
        100 => a.wrapping_sub(b),
        104 => a.wrapping_mul(b),
        108 if b != 0 => a.wrapping_div(b),
        112 if b != 0 => a.wrapping_rem(b),
        120 => a.wrapping_shl(b as u32 & 31),
        122 => a.wrapping_shr(b as u32 & 31),
        124 => ((a as u32) >> (b as u32 & 31)) as i32,
        126 => a & b,
        128 => a | b,
        130 => a ^ b,
        _ => return None,
    })
}

/// Whether `if<cond>` / `if_icmp<cond>` (`k` = opcode - first of the family) branches.
pub(crate) fn cond(k: u8, a: i32, b: i32) -> bool {
    match k {
        0 => a == b,
        1 => a != b,
        2 => a < b,
        3 => a >= b,
        4 => a > b,
        _ => a <= b,
    }
}

fn field_access(vm: &mut Vm, op: u8, r: crate::classfile::MemberRef) -> Result<Flow, Trap> {
    let c = vm.classes.resolve(vm.source, &r.class)?;
    if op <= 179 {
        let owner = vm.classes.static_owner(c, &r.name).ok_or_else(|| {
            vm.error_here(alloc::format!("no static field {}.{}", r.class, r.name))
        })?;
        if vm.ensure_init(owner)? {
            return Ok(Flow::Stay);
        }
        if op == 178 {
            let v = vm.classes.list[owner as usize].statics[&r.name];
            vm.push(v)?;
        } else {
            let v = vm.pop()?;
            vm.classes.list[owner as usize]
                .statics
                .insert(r.name.clone(), v);
        }
        return Ok(Flow::Next);
    }
    let v = if op == 181 { Some(vm.pop()?) } else { None };
    let a = vm.pop_ref()?;
    if a == 0 {
        return Err(vm.npe());
    }
    let oc = vm
        .heap
        .get(a)
        .map(|o| o.class)
        .ok_or_else(|| vm.error_here("dangling reference"))?;
    let slot = vm.classes.field_slot(oc, &r.name).ok_or_else(|| {
        vm.error_here(alloc::format!(
            "no field {}.{} in the object",
            r.class,
            r.name
        ))
    })?;
    let err = vm.error_here(alloc::format!("field {} of a non-instance", r.name));
    let Some(Body::Fields(fields)) = vm.heap.get_mut(a).map(|o| &mut o.body) else {
        return Err(Trap::Error(err));
    };
    match v {
        Some(v) => fields[slot] = v,
        None => {
            let v = fields[slot];
            vm.push(v)?;
        }
    }
    Ok(Flow::Next)
}

fn invoke(vm: &mut Vm, op: u8, class: &str, name: &str, desc: &str, len: u8) -> Result<Flow, Trap> {
    let (args, _) = vm.arg_types(desc)?;
    let c = if class.starts_with('[') {
        vm.classes.by_name["java/lang/Object"]
    } else {
        vm.classes.resolve(vm.source, class)?
    };
    let target = if op == 184 {
        if vm.ensure_init(c)? {
            return Ok(Flow::Stay);
        }
        vm.classes.find_method(c, name, desc)
    } else {
        // The receiver sits under the arguments.
        let depth = vm.frames.last().map_or(0, |f| f.stack.len());
        let recv_at = depth
            .checked_sub(args.len() + 1)
            .ok_or_else(|| vm.error_here("operand stack underflow at a call"))?;
        let recv = match vm.frames.last().map(|f| f.stack[recv_at]) {
            Some(Value::Ref(a)) => a,
            v => {
                return Err(Trap::Error(
                    vm.error_here(alloc::format!("call of {name} on {v:?}")),
                ))
            }
        };
        if recv == 0 {
            return Err(vm.npe());
        }
        if op == 183 {
            vm.classes.find_method(c, name, desc)
        } else {
            let rc = match vm.class_of(recv) {
                Some(rc) => rc,
                None => vm.classes.by_name["java/lang/Object"],
            };
            vm.classes.find_method(rc, name, desc)
        }
    };
    match target {
        Some(Target::Code(tc, m)) => {
            let is_static = vm.classes.list[tc as usize]
                .file
                .as_ref()
                .is_some_and(|f| f.methods[m].access & ACC_STATIC != 0);
            if is_static != (op == 184) {
                return Err(Trap::Error(vm.error_here(alloc::format!(
                    "{} of {class}.{name}{desc}, which is {}static",
                    opcode::name(op),
                    if is_static { "" } else { "not " }
                ))));
            }
            let values = vm.pop_args(&args, op != 184)?;
            vm.push_frame(tc, m, &values, len)?;
            Ok(Flow::Stay)
        }
        Some(Target::Native(nc)) => {
            let owner = String::from(vm.classes.name(nc));
            let values = vm.pop_args(&args, op != 184)?;
            let ret = native::call(vm, &owner, class, name, desc, &values)?;
            if let Some(v) = ret {
                vm.push(v)?;
            }
            Ok(Flow::Next)
        }
        None => Err(Trap::Error(vm.error_here(alloc::format!(
            "{} of {class}.{name}{desc}: no such method (or it is abstract)",
            opcode::name(op)
        )))),
    }
}
