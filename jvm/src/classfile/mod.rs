//! Class files: the reader (magic, version, constant pool, fields, methods, the Code
//! attribute with its exception table, BootstrapMethods; other attributes skipped)
//! and the structural verifier (`verify.rs`).

mod constant;
pub mod descriptor;
pub mod disasm;
mod reader;
pub mod verify;

use alloc::string::String;
use alloc::vec::Vec;

pub use constant::{Constant, ConstantPool, MemberRef};
use reader::Reader;

use crate::JvmError;

/// `ACC_STATIC`.
pub const ACC_STATIC: u16 = 0x0008;
/// `ACC_NATIVE`.
pub const ACC_NATIVE: u16 = 0x0100;
/// `ACC_INTERFACE`.
pub const ACC_INTERFACE: u16 = 0x0200;
/// `ACC_ABSTRACT`.
pub const ACC_ABSTRACT: u16 = 0x0400;

/// One entry of a Code attribute's exception table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Handler {
    pub start: u16,
    pub end: u16,
    pub handler: u16,
    /// A Class constant, or 0 for any exception (`finally`).
    pub catch_type: u16,
}

/// A method's Code attribute.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Code {
    pub max_stack: u16,
    pub max_locals: u16,
    pub code: Vec<u8>,
    pub handlers: Vec<Handler>,
}

/// A field.
#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    pub access: u16,
    pub name: String,
    pub descriptor: String,
    /// The ConstantValue attribute's constant index, if any.
    pub constant_value: Option<u16>,
}

/// A method.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Method {
    pub access: u16,
    pub name: String,
    pub descriptor: String,
    pub code: Option<Code>,
}

impl Method {
    /// Whether `ACC_STATIC` is set.
    pub fn is_static(&self) -> bool {
        self.access & ACC_STATIC != 0
    }

    /// `name` + `descriptor`, as errors name a method.
    pub fn label(&self) -> String {
        alloc::format!("{}{}", self.name, self.descriptor)
    }
}

/// One BootstrapMethods entry: a MethodHandle constant and its static arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bootstrap {
    pub method: u16,
    pub arguments: Vec<u16>,
}

/// A parsed class file.
#[derive(Clone, Debug)]
pub struct ClassFile {
    pub minor: u16,
    pub major: u16,
    pub pool: ConstantPool,
    pub access: u16,
    pub name: String,
    pub super_name: Option<String>,
    pub interfaces: Vec<String>,
    pub fields: Vec<Field>,
    pub methods: Vec<Method>,
    pub bootstrap: Vec<Bootstrap>,
}

impl ClassFile {
    /// Reads a class file; `file` names it in errors ("Main.class").
    pub fn parse(file: &str, data: &[u8]) -> Result<ClassFile, JvmError> {
        let mut r = Reader::new(file, data);
        let magic = r.u4("magic")?;
        if magic != 0xCAFE_BABE {
            return Err(r.error(0, alloc::format!("magic is {magic:#010x}, not 0xcafebabe")));
        }
        let minor = r.u2("minor_version")?;
        let major = r.u2("major_version")?;
        if !(45..=66).contains(&major) {
            return Err(r.error(
                6,
                alloc::format!("class-file version {major}.{minor} is not 45..66"),
            ));
        }
        let pool = ConstantPool::read(&mut r)?;
        let access = r.u2("access_flags")?;
        let at = r.pos();
        let this = r.u2("this_class")?;
        let name = pool
            .class_name(this)
            .map_err(|e| r.error(at, alloc::format!("this_class: {e}")))?
            .into();
        let at = r.pos();
        let super_index = r.u2("super_class")?;
        let super_name = if super_index == 0 {
            None
        } else {
            Some(
                pool.class_name(super_index)
                    .map_err(|e| r.error(at, alloc::format!("super_class: {e}")))?
                    .into(),
            )
        };
        let n = r.u2("interfaces_count")?;
        let mut interfaces = Vec::new();
        for _ in 0..n {
            let at = r.pos();
            let i = r.u2("an interface index")?;
            interfaces.push(
                pool.class_name(i)
                    .map_err(|e| r.error(at, alloc::format!("interface: {e}")))?
                    .into(),
            );
        }
        let n = r.u2("fields_count")?;
        let mut fields = Vec::new();
        for _ in 0..n {
            let (access, name, descriptor, attrs) = member(&mut r, &pool)?;
            let mut constant_value = None;
            for (aname, at, body) in attrs {
                if aname == "ConstantValue" {
                    if body.len() != 2 {
                        return Err(r.error(at, "ConstantValue attribute is not 2 bytes"));
                    }
                    let idx = u16::from_be_bytes([body[0], body[1]]);
                    match pool.get(idx) {
                        Some(
                            Constant::Integer(_)
                            | Constant::Long(_)
                            | Constant::Float(_)
                            | Constant::Double(_)
                            | Constant::String(_),
                        ) => {}
                        _ => {
                            return Err(r.error(
                                at,
                                alloc::format!("ConstantValue refers to #{idx}, not a constant"),
                            ))
                        }
                    }
                    constant_value = Some(idx);
                }
            }
            fields.push(Field {
                access,
                name,
                descriptor,
                constant_value,
            });
        }
        let n = r.u2("methods_count")?;
        let mut methods = Vec::new();
        for _ in 0..n {
            let (access, name, descriptor, attrs) = member(&mut r, &pool)?;
            descriptor::parse_method(&descriptor)
                .map_err(|e| r.error(r.pos(), alloc::format!("method {name}: {e}")))?;
            let mut code = None;
            for (aname, at, body) in attrs {
                if aname == "Code" {
                    code = Some(read_code(file, body, at)?);
                }
            }
            methods.push(Method {
                access,
                name,
                descriptor,
                code,
            });
        }
        let mut bootstrap = Vec::new();
        for (aname, at, body) in attributes(&mut r, &pool)? {
            if aname == "BootstrapMethods" {
                let mut b = Reader::new(file, body);
                let n = b
                    .u2("num_bootstrap_methods")
                    .map_err(|_| r.error(at, "BootstrapMethods is truncated"))?;
                for _ in 0..n {
                    let entry = (|| -> Result<Bootstrap, JvmError> {
                        let method = b.u2("bootstrap_method_ref")?;
                        let k = b.u2("num_bootstrap_arguments")?;
                        let mut arguments = Vec::new();
                        for _ in 0..k {
                            arguments.push(b.u2("a bootstrap argument")?);
                        }
                        Ok(Bootstrap { method, arguments })
                    })()
                    .map_err(|_| r.error(at, "BootstrapMethods is truncated"))?;
                    bootstrap.push(entry);
                }
            }
        }
        if !r.at_end() {
            return Err(r.error(r.pos(), "bytes after the end of the class file"));
        }
        Ok(ClassFile {
            minor,
            major,
            pool,
            access,
            name,
            super_name,
            interfaces,
            fields,
            methods,
            bootstrap,
        })
    }

    /// The method with this name and descriptor.
    pub fn method(&self, name: &str, descriptor: &str) -> Option<&Method> {
        self.methods
            .iter()
            .find(|m| m.name == name && m.descriptor == descriptor)
    }

    /// Whether the class is an interface.
    pub fn is_interface(&self) -> bool {
        self.access & ACC_INTERFACE != 0
    }
}

type Attribute<'a> = (String, usize, &'a [u8]);

fn attributes<'a>(r: &mut Reader<'a>, pool: &ConstantPool) -> Result<Vec<Attribute<'a>>, JvmError> {
    let n = r.u2("attributes_count")?;
    let mut out = Vec::new();
    for _ in 0..n {
        let at = r.pos();
        let name_index = r.u2("attribute_name_index")?;
        let name = pool
            .utf8(name_index)
            .map_err(|e| r.error(at, alloc::format!("attribute name: {e}")))?;
        let len = r.u4("attribute_length")? as usize;
        let body = r.bytes(len, "attribute body")?;
        out.push((name.into(), at, body));
    }
    Ok(out)
}

type Member<'a> = (u16, String, String, Vec<Attribute<'a>>);

fn member<'a>(r: &mut Reader<'a>, pool: &ConstantPool) -> Result<Member<'a>, JvmError> {
    let access = r.u2("access_flags")?;
    let at = r.pos();
    let name = pool
        .utf8(r.u2("name_index")?)
        .map_err(|e| r.error(at, alloc::format!("member name: {e}")))?
        .into();
    let at = r.pos();
    let descriptor = pool
        .utf8(r.u2("descriptor_index")?)
        .map_err(|e| r.error(at, alloc::format!("member descriptor: {e}")))?
        .into();
    let attrs = attributes(r, pool)?;
    Ok((access, name, descriptor, attrs))
}

fn read_code(file: &str, body: &[u8], base: usize) -> Result<Code, JvmError> {
    // Offsets in the Code body are reported relative to the file: the body starts 6 bytes
    // after the attribute header.
    let rel = |e: JvmError| -> JvmError {
        JvmError(alloc::format!(
            "{e} (in the Code attribute at offset {base})"
        ))
    };
    let mut r = Reader::new(file, body);
    let max_stack = r.u2("max_stack").map_err(rel)?;
    let max_locals = r.u2("max_locals").map_err(rel)?;
    let len = r.u4("code_length").map_err(rel)? as usize;
    if len == 0 || len >= 65536 {
        return Err(JvmError::at_offset(
            file,
            base,
            alloc::format!("code_length {len} is not 1..65535"),
        ));
    }
    let code = r.bytes(len, "code").map_err(rel)?.to_vec();
    let n = r.u2("exception_table_length").map_err(rel)?;
    let mut handlers = Vec::new();
    for _ in 0..n {
        handlers.push(Handler {
            start: r.u2("start_pc").map_err(rel)?,
            end: r.u2("end_pc").map_err(rel)?,
            handler: r.u2("handler_pc").map_err(rel)?,
            catch_type: r.u2("catch_type").map_err(rel)?,
        });
    }
    // The Code attribute's own attributes (LineNumberTable, StackMapTable, ...) are skipped.
    let n = r.u2("attributes_count").map_err(rel)?;
    for _ in 0..n {
        r.u2("attribute_name_index").map_err(rel)?;
        let l = r.u4("attribute_length").map_err(rel)? as usize;
        r.bytes(l, "attribute body").map_err(rel)?;
    }
    if !r.at_end() {
        return Err(JvmError::at_offset(
            file,
            base,
            "the Code attribute has bytes after its attributes",
        ));
    }
    Ok(Code {
        max_stack,
        max_locals,
        code,
        handlers,
    })
}
