//! The JVM bytecodes component: the int family of bytecodes (int constants, local
//! loads and stores, `iinc`, int arithmetic, compares and branches) behind the trait
//! vmlab's JVM interpreter executes them through. Only `core` is used, so the
//! interpreter (`no_std`) compiles this very file.

/// Where control goes after a bytecode of the family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// The next instruction.
    Fall,
    /// A branch: this many bytes from the start of the instruction (may be negative).
    Branch(i32),
}

/// Why a bytecode of the family did not finish.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// `idiv` or `irem` by zero: the JVM throws `ArithmeticException: / by zero`.
    DivideByZero,
    /// The frame refused an access (an empty stack, a slot that holds no int, a
    /// local out of range); the frame keeps the details.
    Frame,
    /// The instruction is not one of the family (see [`in_family`]).
    Unsupported,
}

/// The top frame as the family sees it: its operand stack and locals, ints only.
pub trait IntFrame {
    /// Pops the int on top of the operand stack.
    fn pop_int(&mut self) -> Result<i32, Fault>;
    /// Pushes an int onto the operand stack.
    fn push_int(&mut self, value: i32) -> Result<(), Fault>;
    /// Reads local `index`, which must hold an int.
    fn load_int(&self, index: usize) -> Result<i32, Fault>;
    /// Writes an int into local `index`.
    fn store_int(&mut self, index: usize, value: i32) -> Result<(), Fault>;
}

/// What a submission implements: one bytecode of the family over the top frame.
pub trait IntBytecodes {
    /// Executes the instruction whose bytes are `code` (its opcode, then its operand
    /// bytes, exactly [`instruction_length`] of them) on `frame`.
    fn execute(&self, code: &[u8], frame: &mut dyn IntFrame) -> Result<Next, Fault>;
}

/// The opcodes of the family, by name (the `wide` forms of `iload`, `istore` and
/// `iinc` are in it too).
pub const FAMILY: &[(u8, &str)] = &[
    (0x02, "iconst_m1"),
    (0x03, "iconst_0"),
    (0x04, "iconst_1"),
    (0x05, "iconst_2"),
    (0x06, "iconst_3"),
    (0x07, "iconst_4"),
    (0x08, "iconst_5"),
    (0x10, "bipush"),
    (0x11, "sipush"),
    (0x15, "iload"),
    (0x1a, "iload_0"),
    (0x1b, "iload_1"),
    (0x1c, "iload_2"),
    (0x1d, "iload_3"),
    (0x36, "istore"),
    (0x3b, "istore_0"),
    (0x3c, "istore_1"),
    (0x3d, "istore_2"),
    (0x3e, "istore_3"),
    (0x60, "iadd"),
    (0x64, "isub"),
    (0x68, "imul"),
    (0x6c, "idiv"),
    (0x70, "irem"),
    (0x74, "ineg"),
    (0x78, "ishl"),
    (0x7a, "ishr"),
    (0x7c, "iushr"),
    (0x7e, "iand"),
    (0x80, "ior"),
    (0x82, "ixor"),
    (0x84, "iinc"),
    (0x99, "ifeq"),
    (0x9a, "ifne"),
    (0x9b, "iflt"),
    (0x9c, "ifge"),
    (0x9d, "ifgt"),
    (0x9e, "ifle"),
    (0x9f, "if_icmpeq"),
    (0xa0, "if_icmpne"),
    (0xa1, "if_icmplt"),
    (0xa2, "if_icmpge"),
    (0xa3, "if_icmpgt"),
    (0xa4, "if_icmple"),
    (0xa7, "goto"),
];

/// The `wide` prefix.
pub const WIDE: u8 = 0xc4;

/// The length in bytes of a family instruction that starts `code`, or `None` when
/// `code` does not start with one.
pub fn instruction_length(code: &[u8]) -> Option<usize> {
    let op = *code.first()?;
    if op == WIDE {
        return match *code.get(1)? {
            0x15 | 0x36 => Some(4),
            0x84 => Some(6),
            _ => None,
        };
    }
    if !FAMILY.iter().any(|&(o, _)| o == op) {
        return None;
    }
    Some(match op {
        0x10 | 0x15 | 0x36 => 2,
        0x11 | 0x84 | 0x99..=0xa4 | 0xa7 => 3,
        _ => 1,
    })
}

/// Whether `code` starts with an instruction of the family.
pub fn in_family(code: &[u8]) -> bool {
    instruction_length(code).is_some()
}

/// The name of a family instruction (`wide iinc` for the wide forms).
pub fn name(code: &[u8]) -> &'static str {
    let find = |op: u8| FAMILY.iter().find(|&&(o, _)| o == op).map(|&(_, n)| n);
    match code {
        [WIDE, 0x15, ..] => "wide iload",
        [WIDE, 0x36, ..] => "wide istore",
        [WIDE, 0x84, ..] => "wide iinc",
        [op, ..] => find(*op).unwrap_or("?"),
        [] => "?",
    }
}
