//! The constant pool: every tag of the class-file format read, cross-references
//! checked for range and kind, and typed look-ups the verifier and interpreter share.

use alloc::string::String;
use alloc::vec::Vec;

use super::reader::Reader;
use crate::JvmError;

/// One constant-pool entry.
#[derive(Clone, Debug, PartialEq)]
pub enum Constant {
    /// Index 0 and the slot after a long or double.
    Unusable,
    Utf8(String),
    Integer(i32),
    Float(f32),
    Long(i64),
    Double(f64),
    Class(u16),
    String(u16),
    FieldRef {
        class: u16,
        name_and_type: u16,
    },
    MethodRef {
        class: u16,
        name_and_type: u16,
    },
    InterfaceMethodRef {
        class: u16,
        name_and_type: u16,
    },
    NameAndType {
        name: u16,
        descriptor: u16,
    },
    MethodHandle {
        kind: u8,
        reference: u16,
    },
    MethodType(u16),
    Dynamic {
        bootstrap: u16,
        name_and_type: u16,
    },
    InvokeDynamic {
        bootstrap: u16,
        name_and_type: u16,
    },
    Module(u16),
    Package(u16),
}

impl Constant {
    /// The kind's name as the JVM specification spells the tag.
    pub fn kind(&self) -> &'static str {
        match self {
            Constant::Unusable => "unusable",
            Constant::Utf8(_) => "Utf8",
            Constant::Integer(_) => "Integer",
            Constant::Float(_) => "Float",
            Constant::Long(_) => "Long",
            Constant::Double(_) => "Double",
            Constant::Class(_) => "Class",
            Constant::String(_) => "String",
            Constant::FieldRef { .. } => "Fieldref",
            Constant::MethodRef { .. } => "Methodref",
            Constant::InterfaceMethodRef { .. } => "InterfaceMethodref",
            Constant::NameAndType { .. } => "NameAndType",
            Constant::MethodHandle { .. } => "MethodHandle",
            Constant::MethodType(_) => "MethodType",
            Constant::Dynamic { .. } => "Dynamic",
            Constant::InvokeDynamic { .. } => "InvokeDynamic",
            Constant::Module(_) => "Module",
            Constant::Package(_) => "Package",
        }
    }
}

/// A member reference resolved to names: class, member name, descriptor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberRef {
    pub class: String,
    pub name: String,
    pub descriptor: String,
}

/// The constant pool, index 0 unusable as in the file.
#[derive(Clone, Debug, Default)]
pub struct ConstantPool {
    pub entries: Vec<Constant>,
}

/// Decodes the JVM's modified UTF-8 (two-byte NUL, surrogate pairs as two
/// three-byte sequences); `None` when it is malformed.
fn modified_utf8(bytes: &[u8]) -> Option<String> {
    let mut units: Vec<u16> = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b & 0x80 == 0 && b != 0 {
            units.push(b as u16);
            i += 1;
        } else if b & 0xE0 == 0xC0 {
            let c = *bytes.get(i + 1)?;
            if c & 0xC0 != 0x80 {
                return None;
            }
            units.push(((b as u16 & 0x1F) << 6) | (c as u16 & 0x3F));
            i += 2;
        } else if b & 0xF0 == 0xE0 {
            let c = *bytes.get(i + 1)?;
            let d = *bytes.get(i + 2)?;
            if c & 0xC0 != 0x80 || d & 0xC0 != 0x80 {
                return None;
            }
            units.push(((b as u16 & 0x0F) << 12) | ((c as u16 & 0x3F) << 6) | (d as u16 & 0x3F));
            i += 3;
        } else {
            return None;
        }
    }
    Some(
        char::decode_utf16(units)
            .map(|r| r.unwrap_or('\u{FFFD}'))
            .collect(),
    )
}

impl ConstantPool {
    /// Reads `count - 1` entries and checks every cross-reference.
    pub fn read(r: &mut Reader<'_>) -> Result<Self, JvmError> {
        let count = r.u2("constant_pool_count")? as usize;
        if count == 0 {
            return Err(r.error(r.pos() - 2, "constant_pool_count is 0"));
        }
        let mut entries = Vec::with_capacity(count);
        let mut offsets = Vec::with_capacity(count);
        entries.push(Constant::Unusable);
        offsets.push(0);
        while entries.len() < count {
            let at = r.pos();
            let tag = r.u1("a constant's tag")?;
            let c = match tag {
                1 => {
                    let len = r.u2("Utf8 length")? as usize;
                    let bytes = r.bytes(len, "Utf8 bytes")?;
                    Constant::Utf8(modified_utf8(bytes).ok_or_else(|| {
                        r.error(at, "malformed modified UTF-8 in a Utf8 constant")
                    })?)
                }
                3 => Constant::Integer(r.u4("Integer")? as i32),
                4 => Constant::Float(f32::from_bits(r.u4("Float")?)),
                5 => {
                    let hi = r.u4("Long")? as u64;
                    let lo = r.u4("Long")? as u64;
                    Constant::Long(((hi << 32) | lo) as i64)
                }
                6 => {
                    let hi = r.u4("Double")? as u64;
                    let lo = r.u4("Double")? as u64;
                    Constant::Double(f64::from_bits((hi << 32) | lo))
                }
                7 => Constant::Class(r.u2("Class name index")?),
                8 => Constant::String(r.u2("String index")?),
                9..=11 => {
                    let class = r.u2("reference class index")?;
                    let name_and_type = r.u2("reference NameAndType index")?;
                    match tag {
                        9 => Constant::FieldRef {
                            class,
                            name_and_type,
                        },
                        10 => Constant::MethodRef {
                            class,
                            name_and_type,
                        },
                        _ => Constant::InterfaceMethodRef {
                            class,
                            name_and_type,
                        },
                    }
                }
                12 => Constant::NameAndType {
                    name: r.u2("NameAndType name index")?,
                    descriptor: r.u2("NameAndType descriptor index")?,
                },
                15 => {
                    let kind = r.u1("MethodHandle kind")?;
                    if !(1..=9).contains(&kind) {
                        return Err(
                            r.error(at, alloc::format!("MethodHandle kind {kind} is not 1..9"))
                        );
                    }
                    Constant::MethodHandle {
                        kind,
                        reference: r.u2("MethodHandle reference")?,
                    }
                }
                16 => Constant::MethodType(r.u2("MethodType descriptor index")?),
                17 | 18 => {
                    let bootstrap = r.u2("bootstrap method index")?;
                    let name_and_type = r.u2("NameAndType index")?;
                    if tag == 17 {
                        Constant::Dynamic {
                            bootstrap,
                            name_and_type,
                        }
                    } else {
                        Constant::InvokeDynamic {
                            bootstrap,
                            name_and_type,
                        }
                    }
                }
                19 => Constant::Module(r.u2("Module name index")?),
                20 => Constant::Package(r.u2("Package name index")?),
                _ => {
                    return Err(r.error(
                        at,
                        alloc::format!("constant #{} has unknown tag {tag}", entries.len()),
                    ))
                }
            };
            let wide = matches!(c, Constant::Long(_) | Constant::Double(_));
            entries.push(c);
            offsets.push(at);
            if wide {
                if entries.len() >= count {
                    return Err(r.error(
                        at,
                        "a Long or Double constant is the last entry and has no second slot",
                    ));
                }
                entries.push(Constant::Unusable);
                offsets.push(at);
            }
        }
        let pool = ConstantPool { entries };
        pool.check(r, &offsets)?;
        Ok(pool)
    }

    /// Checks that each cross-reference is in range and of the right kind.
    fn check(&self, r: &Reader<'_>, offsets: &[usize]) -> Result<(), JvmError> {
        for (i, c) in self.entries.iter().enumerate() {
            let want = |index: u16, kind: &str| -> Result<(), JvmError> {
                let ok = match self.entries.get(index as usize) {
                    Some(Constant::Utf8(_)) => kind == "Utf8",
                    Some(Constant::Class(_)) => kind == "Class",
                    Some(Constant::NameAndType { .. }) => kind == "NameAndType",
                    Some(
                        Constant::FieldRef { .. }
                        | Constant::MethodRef { .. }
                        | Constant::InterfaceMethodRef { .. },
                    ) => kind == "reference",
                    _ => false,
                };
                if ok {
                    Ok(())
                } else {
                    let found = self
                        .entries
                        .get(index as usize)
                        .map_or("out of range", Constant::kind);
                    Err(r.error(
                        offsets[i],
                        alloc::format!(
                            "constant #{i} ({}) refers to #{index}, which is {found}, not {kind}",
                            c.kind()
                        ),
                    ))
                }
            };
            match *c {
                Constant::Class(n)
                | Constant::String(n)
                | Constant::MethodType(n)
                | Constant::Module(n)
                | Constant::Package(n) => want(n, "Utf8")?,
                Constant::FieldRef {
                    class,
                    name_and_type,
                }
                | Constant::MethodRef {
                    class,
                    name_and_type,
                }
                | Constant::InterfaceMethodRef {
                    class,
                    name_and_type,
                } => {
                    want(class, "Class")?;
                    want(name_and_type, "NameAndType")?;
                }
                Constant::NameAndType { name, descriptor } => {
                    want(name, "Utf8")?;
                    want(descriptor, "Utf8")?;
                }
                Constant::MethodHandle { reference, .. } => want(reference, "reference")?,
                Constant::Dynamic { name_and_type, .. }
                | Constant::InvokeDynamic { name_and_type, .. } => {
                    want(name_and_type, "NameAndType")?
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The entry at `index`, if in range.
    pub fn get(&self, index: u16) -> Option<&Constant> {
        self.entries.get(index as usize)
    }

    /// The Utf8 string at `index`.
    pub fn utf8(&self, index: u16) -> Result<&str, String> {
        match self.get(index) {
            Some(Constant::Utf8(s)) => Ok(s),
            other => Err(self.wrong(index, other, "Utf8")),
        }
    }

    /// The class name a Class entry at `index` names.
    pub fn class_name(&self, index: u16) -> Result<&str, String> {
        match self.get(index) {
            Some(Constant::Class(n)) => self.utf8(*n),
            other => Err(self.wrong(index, other, "Class")),
        }
    }

    /// The (name, descriptor) of a NameAndType entry.
    pub fn name_and_type(&self, index: u16) -> Result<(&str, &str), String> {
        match self.get(index) {
            Some(Constant::NameAndType { name, descriptor }) => {
                Ok((self.utf8(*name)?, self.utf8(*descriptor)?))
            }
            other => Err(self.wrong(index, other, "NameAndType")),
        }
    }

    /// A field reference (`field`) or method reference (otherwise) at `index`.
    pub fn member(&self, index: u16, field: bool) -> Result<MemberRef, String> {
        let (class, nat) = match (self.get(index), field) {
            (
                Some(Constant::FieldRef {
                    class,
                    name_and_type,
                }),
                true,
            ) => (*class, *name_and_type),
            (
                Some(
                    Constant::MethodRef {
                        class,
                        name_and_type,
                    }
                    | Constant::InterfaceMethodRef {
                        class,
                        name_and_type,
                    },
                ),
                false,
            ) => (*class, *name_and_type),
            (other, _) => {
                return Err(self.wrong(index, other, if field { "Fieldref" } else { "Methodref" }))
            }
        };
        let (name, descriptor) = self.name_and_type(nat)?;
        Ok(MemberRef {
            class: self.class_name(class)?.into(),
            name: name.into(),
            descriptor: descriptor.into(),
        })
    }

    fn wrong(&self, index: u16, found: Option<&Constant>, want: &str) -> String {
        match found {
            None => alloc::format!(
                "constant-pool index #{index} is out of range (the pool has {} entries)",
                self.entries.len()
            ),
            Some(c) => alloc::format!("constant #{index} is {}, not {want}", c.kind()),
        }
    }
}
