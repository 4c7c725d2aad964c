//! The runtime written natively: `Object`, `String`, `StringBuilder`,
//! `System.out`/`System.err` printing, `Math`, the throwables' constructors and
//! messages, and `invokedynamic` string concatenation (`makeConcatWithConstants`).

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use super::{Trap, Vm};
use crate::classfile::descriptor::{self, FieldType};
use crate::classfile::{ClassFile, Constant};
use crate::heap::{Body, Value};

/// Java's text for a value passed as `t` (`println`, `append`, `valueOf`, concatenation).
fn text_of(vm: &Vm, t: &FieldType, v: Value) -> Result<String, Trap> {
    Ok(match (t, v) {
        (FieldType::Base(b'Z'), Value::Int(n)) => {
            String::from(if n != 0 { "true" } else { "false" })
        }
        (FieldType::Base(b'C'), Value::Int(n)) => {
            char::from_u32(n as u16 as u32).unwrap_or('\u{FFFD}').into()
        }
        (FieldType::Base(b'I' | b'B' | b'S'), Value::Int(n)) => alloc::format!("{n}"),
        (FieldType::Base(b'J'), Value::Long(n)) => alloc::format!("{n}"),
        (FieldType::Object(_) | FieldType::Array(_), Value::Ref(0)) => "null".into(),
        (FieldType::Array(e), Value::Ref(a)) if **e == FieldType::Base(b'C') => {
            match vm.heap.get(a).map(|o| &o.body) {
                Some(Body::Ints(_, d)) => d
                    .iter()
                    .map(|&c| char::from_u32(c as u16 as u32).unwrap_or('\u{FFFD}'))
                    .collect(),
                _ => return Err(Trap::Error(vm.error_here("a char[] that is not one"))),
            }
        }
        (FieldType::Object(_), Value::Ref(a)) => object_text(vm, a)?,
        (t, v) => {
            return Err(Trap::Error(vm.error_here(alloc::format!(
                "printing a {t:?} ({v:?}) is not supported"
            ))))
        }
    })
}

/// `String.valueOf(Object)` for the objects whose `toString` the runtime knows.
fn object_text(vm: &Vm, a: u32) -> Result<String, Trap> {
    let o = vm
        .heap
        .get(a)
        .ok_or_else(|| vm.error_here("dangling reference"))?;
    match &o.body {
        Body::Str(s) | Body::Builder(s) => Ok(s.clone()),
        Body::Fields(_) if vm.classes.is_subtype(o.class, "java/lang/Throwable") => {
            Ok(throwable_text(vm, a))
        }
        _ => Err(Trap::Error(vm.error_here(alloc::format!(
            "toString of a {} is not supported (only String, StringBuilder and throwables)",
            vm.classes.name(o.class)
        )))),
    }
}

fn throwable_text(vm: &Vm, a: u32) -> String {
    let name = vm
        .heap
        .get(a)
        .map(|o| vm.classes.name(o.class).replace('/', "."))
        .unwrap_or_default();
    match vm.throwable_message(a) {
        Some(m) => alloc::format!("{name}: {m}"),
        None => name,
    }
}

fn int(vm: &Vm, v: Option<&Value>) -> Result<i32, Trap> {
    match v {
        Some(Value::Int(n)) => Ok(*n),
        v => Err(Trap::Error(vm.error_here(alloc::format!(
            "expected an int argument, found {v:?}"
        )))),
    }
}

fn long(vm: &Vm, v: Option<&Value>) -> Result<i64, Trap> {
    match v {
        Some(Value::Long(n)) => Ok(*n),
        v => Err(Trap::Error(vm.error_here(alloc::format!(
            "expected a long argument, found {v:?}"
        )))),
    }
}

fn reference(vm: &Vm, v: Option<&Value>) -> Result<u32, Trap> {
    match v {
        Some(Value::Ref(a)) => Ok(*a),
        v => Err(Trap::Error(vm.error_here(alloc::format!(
            "expected a reference argument, found {v:?}"
        )))),
    }
}

fn str_arg(vm: &mut Vm, v: Option<&Value>) -> Result<String, Trap> {
    let a = reference(vm, v)?;
    if a == 0 {
        return Err(vm.new_throwable("java/lang/NullPointerException", None));
    }
    vm.string_at(a)
        .map(Into::into)
        .ok_or_else(|| Trap::Error(vm.error_here("expected a String argument")))
}

fn utf16(s: &str) -> Vec<u16> {
    s.encode_utf16().collect()
}

fn from_utf16(u: &[u16]) -> String {
    char::decode_utf16(u.iter().copied())
        .map(|r| r.unwrap_or('\u{FFFD}'))
        .collect()
}

/// Calls the native method `owner.name desc` (reached through `class`) with `args`
/// (the receiver first for instance methods); the return value, if any.
pub(crate) fn call(
    vm: &mut Vm,
    owner: &str,
    class: &str,
    name: &str,
    desc: &str,
    args: &[Value],
) -> Result<Option<Value>, Trap> {
    let (params, _) = descriptor::parse_method(desc).map_err(|e| vm.error_here(e))?;
    let this = args.first().copied();
    let key = (owner, name, desc);
    let throwable = vm
        .classes
        .by_name
        .get(owner)
        .is_some_and(|&c| vm.classes.is_subtype(c, "java/lang/Throwable"));
    match key {
        (_, "<init>", "()V") if !matches!(owner, "java/lang/String") => {
            if owner == "java/lang/StringBuilder" {
                set_builder(vm, this, String::new())?;
            }
            Ok(None)
        }
        ("java/lang/Object", "hashCode", "()I") => {
            Ok(Some(Value::Int(reference(vm, this.as_ref())? as i32)))
        }
        ("java/lang/Object", "equals", "(Ljava/lang/Object;)Z") => Ok(Some(Value::Int(
            (reference(vm, this.as_ref())? == reference(vm, args.get(1))?) as i32,
        ))),
        (
            "java/lang/Object" | "java/lang/String" | "java/lang/StringBuilder",
            "toString",
            "()Ljava/lang/String;",
        ) => {
            let a = reference(vm, this.as_ref())?;
            if vm.string_at(a).is_some() {
                return Ok(Some(Value::Ref(a)));
            }
            let t = object_text(vm, a)?;
            Ok(Some(Value::Ref(vm.new_string(t)?)))
        }
        ("java/io/PrintStream", "println" | "print", _) => {
            let err = {
                let sys = vm.classes.by_name["java/lang/System"];
                vm.classes.list[sys as usize].statics.get("err") == this.as_ref()
            };
            let mut text = match (params.first(), args.get(1)) {
                (Some(t), Some(v)) => text_of(vm, t, *v)?,
                _ => String::new(),
            };
            if name == "println" {
                text.push('\n');
            }
            vm.print(err, &text)?;
            Ok(None)
        }
        ("java/lang/Math", "max" | "min", "(II)I") => {
            let (a, b) = (int(vm, args.first())?, int(vm, args.get(1))?);
            Ok(Some(Value::Int(if name == "max" {
                a.max(b)
            } else {
                a.min(b)
            })))
        }
        ("java/lang/Math", "max" | "min", "(JJ)J") => {
            let (a, b) = (
                long(vm, args.first())?,
                long(vm, args.get(2).or(args.get(1)))?,
            );
            Ok(Some(Value::Long(if name == "max" {
                a.max(b)
            } else {
                a.min(b)
            })))
        }
        ("java/lang/Math", "abs", "(I)I") => {
            Ok(Some(Value::Int(int(vm, args.first())?.wrapping_abs())))
        }
        ("java/lang/Math", "abs", "(J)J") => {
            Ok(Some(Value::Long(long(vm, args.first())?.wrapping_abs())))
        }
        ("java/lang/String", "length", "()I") => {
            let s = str_arg(vm, this.as_ref())?;
            Ok(Some(Value::Int(s.encode_utf16().count() as i32)))
        }
        ("java/lang/String", "isEmpty", "()Z") => Ok(Some(Value::Int(
            str_arg(vm, this.as_ref())?.is_empty() as i32,
        ))),
        ("java/lang/String", "charAt", "(I)C") => {
            let s = utf16(&str_arg(vm, this.as_ref())?);
            let i = int(vm, args.get(1))?;
            match s.get(i as usize).filter(|_| i >= 0) {
                Some(&c) => Ok(Some(Value::Int(c as i32))),
                None => Err(vm.new_throwable(
                    "java/lang/StringIndexOutOfBoundsException",
                    Some(alloc::format!("index {i}, length {}", s.len())),
                )),
            }
        }
        ("java/lang/String", "equals", "(Ljava/lang/Object;)Z") => {
            let a = str_arg(vm, this.as_ref())?;
            let other = reference(vm, args.get(1))?;
            Ok(Some(Value::Int(
                (vm.string_at(other) == Some(a.as_str())) as i32,
            )))
        }
        ("java/lang/String", "hashCode", "()I") => {
            let s = str_arg(vm, this.as_ref())?;
            Ok(Some(Value::Int(s.encode_utf16().fold(0i32, |h, c| {
                h.wrapping_mul(31).wrapping_add(c as i32)
            }))))
        }
        ("java/lang/String", "compareTo", "(Ljava/lang/String;)I") => {
            let (a, b) = (
                utf16(&str_arg(vm, this.as_ref())?),
                utf16(&str_arg(vm, args.get(1))?),
            );
            let r = a
                .iter()
                .zip(&b)
                .find(|(x, y)| x != y)
                .map_or(a.len() as i32 - b.len() as i32, |(x, y)| {
                    *x as i32 - *y as i32
                });
            Ok(Some(Value::Int(r)))
        }
        ("java/lang/String", "concat", "(Ljava/lang/String;)Ljava/lang/String;") => {
            let s = str_arg(vm, this.as_ref())? + &str_arg(vm, args.get(1))?;
            Ok(Some(Value::Ref(vm.new_string(s)?)))
        }
        ("java/lang/String", "substring", "(I)Ljava/lang/String;" | "(II)Ljava/lang/String;") => {
            let s = utf16(&str_arg(vm, this.as_ref())?);
            let b = int(vm, args.get(1))?;
            let e = if args.len() > 2 {
                int(vm, args.get(2))?
            } else {
                s.len() as i32
            };
            if b < 0 || e > s.len() as i32 || b > e {
                return Err(vm.new_throwable(
                    "java/lang/StringIndexOutOfBoundsException",
                    Some(alloc::format!("begin {b}, end {e}, length {}", s.len())),
                ));
            }
            let t = from_utf16(&s[b as usize..e as usize]);
            Ok(Some(Value::Ref(vm.new_string(t)?)))
        }
        ("java/lang/String", "valueOf", _) if params.len() == 1 && !args.is_empty() => {
            let t = text_of(vm, &params[0], args[0])?;
            Ok(Some(Value::Ref(vm.new_string(t)?)))
        }
        ("java/lang/StringBuilder", "<init>", "(Ljava/lang/String;)V") => {
            let s = str_arg(vm, args.get(1))?;
            set_builder(vm, this, s)?;
            Ok(None)
        }
        ("java/lang/StringBuilder", "<init>", "(I)V") => {
            set_builder(vm, this, String::new())?;
            Ok(None)
        }
        ("java/lang/StringBuilder", "append", _) if params.len() == 1 && args.len() == 2 => {
            let t = text_of(vm, &params[0], args[1])?;
            let a = reference(vm, this.as_ref())?;
            match vm.heap.get_mut(a).map(|o| &mut o.body) {
                Some(Body::Builder(s)) => {
                    if s.len() + t.len() > vm.config.max_output.max(1 << 16) {
                        return Err(Trap::Error(
                            vm.error_here("a StringBuilder grew past the output limit"),
                        ));
                    }
                    s.push_str(&t)
                }
                _ => return Err(Trap::Error(vm.error_here("append on a non-StringBuilder"))),
            }
            Ok(Some(Value::Ref(a)))
        }
        ("java/lang/StringBuilder", "length", "()I") => {
            let s = builder_text(vm, this)?;
            Ok(Some(Value::Int(s.encode_utf16().count() as i32)))
        }
        ("java/lang/StringBuilder", "reverse", "()Ljava/lang/StringBuilder;") => {
            let s: String = builder_text(vm, this)?.chars().rev().collect();
            set_builder(vm, this, s)?;
            Ok(this)
        }
        (_, "<init>", "(Ljava/lang/String;)V") if throwable => {
            let msg = reference(vm, args.get(1))?;
            let a = reference(vm, this.as_ref())?;
            let slot = vm
                .classes
                .by_name
                .get(owner)
                .and_then(|&c| vm.classes.field_slot(c, super::class::DETAIL_MESSAGE));
            if let (Some(slot), Some(Body::Fields(f))) =
                (slot, vm.heap.get_mut(a).map(|o| &mut o.body))
            {
                if let Some(v) = f.get_mut(slot) {
                    *v = Value::Ref(msg);
                }
            }
            Ok(None)
        }
        (_, "getMessage", "()Ljava/lang/String;") if throwable => {
            let a = reference(vm, this.as_ref())?;
            let slot = vm
                .heap
                .get(a)
                .and_then(|o| vm.classes.field_slot(o.class, super::class::DETAIL_MESSAGE));
            let v = match (slot, vm.heap.get(a).map(|o| &o.body)) {
                (Some(slot), Some(Body::Fields(f))) => {
                    f.get(slot).copied().unwrap_or(Value::Ref(0))
                }
                _ => Value::Ref(0),
            };
            Ok(Some(v))
        }
        (_, "toString", "()Ljava/lang/String;") if throwable => {
            let t = throwable_text(vm, reference(vm, this.as_ref())?);
            Ok(Some(Value::Ref(vm.new_string(t)?)))
        }
        _ => Err(Trap::Error(vm.error_here(alloc::format!(
            "the runtime method {class}.{name}{desc} is not one vmlab's JVM provides"
        )))),
    }
}

fn builder_text(vm: &Vm, this: Option<Value>) -> Result<String, Trap> {
    let a = reference(vm, this.as_ref())?;
    match vm.heap.get(a).map(|o| &o.body) {
        Some(Body::Builder(s)) => Ok(s.clone()),
        _ => Err(Trap::Error(vm.error_here("not a StringBuilder"))),
    }
}

fn set_builder(vm: &mut Vm, this: Option<Value>, text: String) -> Result<(), Trap> {
    let a = reference(vm, this.as_ref())?;
    match vm.heap.get_mut(a).map(|o| &mut o.body) {
        Some(b @ (Body::Builder(_) | Body::Fields(_))) => {
            *b = Body::Builder(text);
            Ok(())
        }
        _ => Err(Trap::Error(vm.error_here("not a StringBuilder"))),
    }
}

/// `invokedynamic`: string concatenation by `StringConcatFactory.makeConcatWithConstants`.
pub(crate) fn invokedynamic(
    vm: &mut Vm,
    cf: &ClassFile,
    index: u16,
) -> Result<super::exec::Flow, Trap> {
    let err = |vm: &Vm, m: &str| Trap::Error(vm.error_here(alloc::format!("invokedynamic: {m}")));
    let Some(Constant::InvokeDynamic {
        bootstrap,
        name_and_type,
    }) = cf.pool.get(index)
    else {
        return Err(err(vm, "not an InvokeDynamic constant"));
    };
    let (_, desc) = cf
        .pool
        .name_and_type(*name_and_type)
        .map_err(|e| err(vm, &e))?;
    let bsm = cf
        .bootstrap
        .get(*bootstrap as usize)
        .ok_or_else(|| err(vm, "no such bootstrap method"))?;
    let target = match cf.pool.get(bsm.method) {
        Some(Constant::MethodHandle { reference, .. }) => {
            cf.pool.member(*reference, false).map_err(|e| err(vm, &e))?
        }
        _ => return Err(err(vm, "the bootstrap method is not a MethodHandle")),
    };
    if target.class != "java/lang/invoke/StringConcatFactory"
        || target.name != "makeConcatWithConstants"
    {
        return Err(err(
            vm,
            &alloc::format!(
                "the bootstrap method {}.{} (lambdas and the like) is not supported",
                target.class,
                target.name
            ),
        ));
    }
    let recipe = match bsm.arguments.first().and_then(|&i| cf.pool.get(i)) {
        Some(Constant::String(s)) => cf.pool.utf8(*s).map_err(|e| err(vm, &e))?.to_string(),
        _ => return Err(err(vm, "the concatenation recipe is not a String")),
    };
    let (params, _) = descriptor::parse_method(desc).map_err(|e| err(vm, &e))?;
    let values = vm.pop_args(&params, false)?;
    let mut out = String::new();
    let (mut arg, mut constant) = (0usize, 1usize);
    for ch in recipe.chars() {
        match ch {
            '\u{1}' => {
                let (t, v) = params
                    .get(arg)
                    .zip(values.get(arg))
                    .ok_or_else(|| err(vm, "the recipe has more arguments than the call"))?;
                out.push_str(&text_of(vm, t, *v)?);
                arg += 1;
            }
            '\u{2}' => {
                let c = match bsm.arguments.get(constant).and_then(|&i| cf.pool.get(i)) {
                    Some(Constant::String(s)) => {
                        cf.pool.utf8(*s).map_err(|e| err(vm, &e))?.to_string()
                    }
                    Some(Constant::Integer(n)) => alloc::format!("{n}"),
                    Some(Constant::Long(n)) => alloc::format!("{n}"),
                    _ => return Err(err(vm, "a recipe constant is missing")),
                };
                out.push_str(&c);
                constant += 1;
            }
            c => out.push(c),
        }
        if out.len() > vm.config.max_output.max(1 << 16) {
            return Err(err(vm, "the concatenation is longer than the output limit"));
        }
    }
    let a = vm.new_string(out)?;
    vm.push(Value::Ref(a))?;
    Ok(super::exec::Flow::Next)
}
