//! The class table: classes loaded from a [`ClassSource`] (parsed and verified on
//! first use) and the built-in runtime classes, instance-field layouts with
//! inheritance, static fields, and method resolution up the superclass chain and
//! through interfaces.

use alloc::collections::BTreeMap;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;

use crate::classfile::{
    descriptor, verify, ClassFile, Constant, ACC_ABSTRACT, ACC_NATIVE, ACC_STATIC,
};
use crate::heap::Value;
use crate::JvmError;

/// Where class files come from.
pub trait ClassSource {
    /// The bytes of the class `name` (`pkg/Name`), if there is one.
    fn load(&self, name: &str) -> Option<Vec<u8>>;
}

/// Class files held in memory, by class name.
#[derive(Clone, Debug, Default)]
pub struct MapSource(pub BTreeMap<String, Vec<u8>>);

impl ClassSource for MapSource {
    fn load(&self, name: &str) -> Option<Vec<u8>> {
        self.0.get(name).cloned()
    }
}

/// The built-in classes, written natively: (name, superclass, instance fields).
pub const BUILTINS: &[(&str, Option<&str>)] = &[
    ("java/lang/Object", None),
    ("java/lang/String", Some("java/lang/Object")),
    ("java/lang/StringBuilder", Some("java/lang/Object")),
    ("java/lang/System", Some("java/lang/Object")),
    ("java/lang/Math", Some("java/lang/Object")),
    ("java/io/PrintStream", Some("java/lang/Object")),
    ("java/lang/Throwable", Some("java/lang/Object")),
    ("java/lang/Exception", Some("java/lang/Throwable")),
    ("java/lang/Error", Some("java/lang/Throwable")),
    ("java/lang/OutOfMemoryError", Some("java/lang/Error")),
    ("java/lang/RuntimeException", Some("java/lang/Exception")),
    (
        "java/lang/ArithmeticException",
        Some("java/lang/RuntimeException"),
    ),
    (
        "java/lang/NullPointerException",
        Some("java/lang/RuntimeException"),
    ),
    (
        "java/lang/IllegalArgumentException",
        Some("java/lang/RuntimeException"),
    ),
    (
        "java/lang/IllegalStateException",
        Some("java/lang/RuntimeException"),
    ),
    (
        "java/lang/UnsupportedOperationException",
        Some("java/lang/RuntimeException"),
    ),
    (
        "java/lang/ClassCastException",
        Some("java/lang/RuntimeException"),
    ),
    (
        "java/lang/ArrayStoreException",
        Some("java/lang/RuntimeException"),
    ),
    (
        "java/lang/NegativeArraySizeException",
        Some("java/lang/RuntimeException"),
    ),
    (
        "java/lang/IndexOutOfBoundsException",
        Some("java/lang/RuntimeException"),
    ),
    (
        "java/lang/ArrayIndexOutOfBoundsException",
        Some("java/lang/IndexOutOfBoundsException"),
    ),
    (
        "java/lang/StringIndexOutOfBoundsException",
        Some("java/lang/IndexOutOfBoundsException"),
    ),
];

/// The message field every throwable has.
pub const DETAIL_MESSAGE: &str = "detailMessage";

/// A class's initialization state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Init {
    No,
    /// `<clinit>` has started (or there is none).
    Done,
}

/// A loaded or built-in class.
#[derive(Clone, Debug)]
pub struct Class {
    pub name: String,
    pub super_class: Option<u32>,
    pub interfaces: Vec<String>,
    /// `None` for a built-in class.
    pub file: Option<Rc<ClassFile>>,
    /// Instance fields, the superclass's first: (name, descriptor).
    pub fields: Vec<(String, String)>,
    pub statics: BTreeMap<String, Value>,
    pub init: Init,
}

/// What a method reference resolves to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// Bytecode: class index and method index in its class file.
    Code(u32, usize),
    /// A native method of a built-in class (the class index).
    Native(u32),
}

/// The default value of a field with this descriptor.
pub fn default_value(desc: &str) -> Value {
    match desc.as_bytes().first() {
        Some(b'J') => Value::Long(0),
        Some(b'L' | b'[') => Value::Ref(0),
        _ => Value::Int(0),
    }
}

/// All classes, by index and by name.
#[derive(Debug, Default)]
pub struct Classes {
    pub list: Vec<Class>,
    pub by_name: BTreeMap<String, u32>,
}

/// The most classes one program may load.
const MAX_CLASSES: usize = 4096;

impl Classes {
    /// The built-in classes alone.
    pub fn new() -> Classes {
        let mut c = Classes::default();
        for (name, sup) in BUILTINS {
            let super_class = sup.and_then(|s| c.by_name.get(s).copied());
            let mut fields = Vec::new();
            if let Some(s) = super_class {
                fields = c.list[s as usize].fields.clone();
            }
            if *name == "java/lang/Throwable" {
                fields.push((DETAIL_MESSAGE.into(), "Ljava/lang/String;".into()));
            }
            let mut statics = BTreeMap::new();
            if *name == "java/lang/System" {
                statics.insert("out".into(), Value::Ref(0));
                statics.insert("err".into(), Value::Ref(0));
            }
            c.add(Class {
                name: (*name).into(),
                super_class,
                interfaces: Vec::new(),
                file: None,
                fields,
                statics,
                init: Init::Done,
            });
        }
        c
    }

    fn add(&mut self, class: Class) -> u32 {
        let i = self.list.len() as u32;
        self.by_name.insert(class.name.clone(), i);
        self.list.push(class);
        i
    }

    /// The class named `name`, loading it (and its superclasses) when needed.
    pub fn resolve(&mut self, source: &dyn ClassSource, name: &str) -> Result<u32, JvmError> {
        self.resolve_depth(source, name, 0)
    }

    fn resolve_depth(
        &mut self,
        source: &dyn ClassSource,
        name: &str,
        depth: usize,
    ) -> Result<u32, JvmError> {
        if let Some(&i) = self.by_name.get(name) {
            return Ok(i);
        }
        if depth > 64 || self.list.len() >= MAX_CLASSES {
            return Err(JvmError(alloc::format!(
                "class {name}: too many classes or a superclass cycle"
            )));
        }
        let file = alloc::format!("{name}.class");
        let bytes = source.load(name).ok_or_else(|| {
            JvmError(alloc::format!("class {name} is not in the class path and is not one of the runtime classes vmlab provides"))
        })?;
        let cf = ClassFile::parse(&file, &bytes)?;
        if cf.name != name {
            return Err(JvmError(alloc::format!(
                "{file}: the file defines class {}, not {name}",
                cf.name
            )));
        }
        verify::verify(&file, &cf)?;
        let super_class = match &cf.super_name {
            Some(s) => Some(self.resolve_depth(source, s, depth + 1)?),
            None => None,
        };
        let mut fields = super_class
            .map(|s| self.list[s as usize].fields.clone())
            .unwrap_or_default();
        let mut statics = BTreeMap::new();
        for f in &cf.fields {
            descriptor::parse_field(&f.descriptor)
                .map_err(|e| JvmError(alloc::format!("{file}: field {}: {e}", f.name)))?;
            if f.access & ACC_STATIC != 0 {
                let v = match f.constant_value.and_then(|i| cf.pool.get(i)) {
                    Some(Constant::Integer(n)) => Value::Int(*n),
                    Some(Constant::Long(n)) => Value::Long(*n),
                    _ => default_value(&f.descriptor),
                };
                statics.insert(f.name.clone(), v);
            } else {
                fields.push((f.name.clone(), f.descriptor.clone()));
            }
        }
        let interfaces = cf.interfaces.clone();
        let i = self.add(Class {
            name: name.into(),
            super_class,
            interfaces: interfaces.clone(),
            file: Some(Rc::new(cf)),
            fields,
            statics,
            init: Init::No,
        });
        for iface in &interfaces {
            self.resolve_depth(source, iface, depth + 1)?;
        }
        Ok(i)
    }

    /// The name of class `i`.
    pub fn name(&self, i: u32) -> &str {
        self.list.get(i as usize).map_or("?", |c| c.name.as_str())
    }

    /// Whether class `i` is `target` or a subclass or implementor of it.
    pub fn is_subtype(&self, i: u32, target: &str) -> bool {
        let mut todo = alloc::vec![i];
        let mut seen = 0;
        while let Some(c) = todo.pop() {
            seen += 1;
            if seen > 1024 {
                return false;
            }
            let Some(class) = self.list.get(c as usize) else {
                continue;
            };
            if class.name == target {
                return true;
            }
            todo.extend(class.super_class);
            for name in &class.interfaces {
                if name == target {
                    return true;
                }
                if let Some(&j) = self.by_name.get(name) {
                    todo.push(j);
                }
            }
        }
        false
    }

    /// Looks up `name` + `desc` from class `start` up the superclass chain, then in
    /// the interfaces (default methods); `virtual_only` skips static methods.
    pub fn find_method(&self, start: u32, name: &str, desc: &str) -> Option<Target> {
        let mut c = Some(start);
        let mut guard = 0;
        while let Some(i) = c {
            guard += 1;
            if guard > 256 {
                return None;
            }
            let class = self.list.get(i as usize)?;
            match &class.file {
                None => return Some(Target::Native(i)),
                Some(cf) => {
                    if let Some(m) = cf
                        .methods
                        .iter()
                        .position(|m| m.name == name && m.descriptor == desc)
                    {
                        let acc = cf.methods[m].access;
                        if acc & ACC_NATIVE != 0 {
                            return None;
                        }
                        if acc & ACC_ABSTRACT == 0 {
                            return Some(Target::Code(i, m));
                        }
                    }
                }
            }
            c = class.super_class;
        }
        // Default methods of the interfaces.
        let mut todo: Vec<u32> = Vec::new();
        let mut c = Some(start);
        while let Some(i) = c {
            let class = self.list.get(i as usize)?;
            todo.extend(
                class
                    .interfaces
                    .iter()
                    .filter_map(|n| self.by_name.get(n).copied()),
            );
            c = class.super_class;
        }
        let mut guard = 0;
        while let Some(i) = todo.pop() {
            guard += 1;
            if guard > 1024 {
                return None;
            }
            let class = self.list.get(i as usize)?;
            if let Some(cf) = &class.file {
                if let Some(m) = cf.methods.iter().position(|m| {
                    m.name == name
                        && m.descriptor == desc
                        && m.access & ACC_ABSTRACT == 0
                        && m.code.is_some()
                }) {
                    return Some(Target::Code(i, m));
                }
            }
            todo.extend(
                class
                    .interfaces
                    .iter()
                    .filter_map(|n| self.by_name.get(n).copied()),
            );
        }
        None
    }

    /// The slot of instance field `name` in objects of class `i`.
    pub fn field_slot(&self, i: u32, name: &str) -> Option<usize> {
        self.list
            .get(i as usize)?
            .fields
            .iter()
            .rposition(|(n, _)| n == name)
    }

    /// The class (from `i` up) that declares static field `name`.
    pub fn static_owner(&self, i: u32, name: &str) -> Option<u32> {
        let mut c = Some(i);
        let mut guard = 0;
        while let Some(k) = c {
            guard += 1;
            if guard > 256 {
                return None;
            }
            let class = self.list.get(k as usize)?;
            if class.statics.contains_key(name) {
                return Some(k);
            }
            c = class.super_class;
        }
        None
    }
}
