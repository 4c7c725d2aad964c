//! The JVM's opcode table: each opcode's name, length and operand-stack effect in
//! slots, shared by the verifier, the interpreter's errors and the disassembly.

/// An effect the table cannot give by itself: it depends on the constant pool.
pub const SPECIAL: u8 = 255;
/// The length of an instruction whose length depends on its operands.
pub const VARIABLE: u8 = 0;

/// One opcode's static facts.
#[derive(Clone, Copy, Debug)]
pub struct OpInfo {
    /// The mnemonic.
    pub name: &'static str,
    /// Bytes including the opcode, or [`VARIABLE`].
    pub len: u8,
    /// Slots popped, or [`SPECIAL`].
    pub pop: u8,
    /// Slots pushed, or [`SPECIAL`].
    pub push: u8,
}

const fn op(name: &'static str, len: u8, pop: u8, push: u8) -> Option<OpInfo> {
    Some(OpInfo {
        name,
        len,
        pop,
        push,
    })
}

const S: u8 = SPECIAL;
const V: u8 = VARIABLE;

/// The table, indexed by opcode; `None` for an opcode the JVM does not define.
pub static OPCODES: [Option<OpInfo>; 256] = {
    let mut t: [Option<OpInfo>; 256] = [None; 256];
    t[0] = op("nop", 1, 0, 0);
    t[1] = op("aconst_null", 1, 0, 1);
    t[2] = op("iconst_m1", 1, 0, 1);
    t[3] = op("iconst_0", 1, 0, 1);
    t[4] = op("iconst_1", 1, 0, 1);
    t[5] = op("iconst_2", 1, 0, 1);
    t[6] = op("iconst_3", 1, 0, 1);
    t[7] = op("iconst_4", 1, 0, 1);
    t[8] = op("iconst_5", 1, 0, 1);
    t[9] = op("lconst_0", 1, 0, 2);
    t[10] = op("lconst_1", 1, 0, 2);
    t[11] = op("fconst_0", 1, 0, 1);
    t[12] = op("fconst_1", 1, 0, 1);
    t[13] = op("fconst_2", 1, 0, 1);
    t[14] = op("dconst_0", 1, 0, 2);
    t[15] = op("dconst_1", 1, 0, 2);
    t[16] = op("bipush", 2, 0, 1);
    t[17] = op("sipush", 3, 0, 1);
    t[18] = op("ldc", 2, 0, 1);
    t[19] = op("ldc_w", 3, 0, 1);
    t[20] = op("ldc2_w", 3, 0, 2);
    t[21] = op("iload", 2, 0, 1);
    t[22] = op("lload", 2, 0, 2);
    t[23] = op("fload", 2, 0, 1);
    t[24] = op("dload", 2, 0, 2);
    t[25] = op("aload", 2, 0, 1);
    t[26] = op("iload_0", 1, 0, 1);
    t[27] = op("iload_1", 1, 0, 1);
    t[28] = op("iload_2", 1, 0, 1);
    t[29] = op("iload_3", 1, 0, 1);
    t[30] = op("lload_0", 1, 0, 2);
    t[31] = op("lload_1", 1, 0, 2);
    t[32] = op("lload_2", 1, 0, 2);
    t[33] = op("lload_3", 1, 0, 2);
    t[34] = op("fload_0", 1, 0, 1);
    t[35] = op("fload_1", 1, 0, 1);
    t[36] = op("fload_2", 1, 0, 1);
    t[37] = op("fload_3", 1, 0, 1);
    t[38] = op("dload_0", 1, 0, 2);
    t[39] = op("dload_1", 1, 0, 2);
    t[40] = op("dload_2", 1, 0, 2);
    t[41] = op("dload_3", 1, 0, 2);
    t[42] = op("aload_0", 1, 0, 1);
    t[43] = op("aload_1", 1, 0, 1);
    t[44] = op("aload_2", 1, 0, 1);
    t[45] = op("aload_3", 1, 0, 1);
    t[46] = op("iaload", 1, 2, 1);
    t[47] = op("laload", 1, 2, 2);
    t[48] = op("faload", 1, 2, 1);
    t[49] = op("daload", 1, 2, 2);
    t[50] = op("aaload", 1, 2, 1);
    t[51] = op("baload", 1, 2, 1);
    t[52] = op("caload", 1, 2, 1);
    t[53] = op("saload", 1, 2, 1);
    t[54] = op("istore", 2, 1, 0);
    t[55] = op("lstore", 2, 2, 0);
    t[56] = op("fstore", 2, 1, 0);
    t[57] = op("dstore", 2, 2, 0);
    t[58] = op("astore", 2, 1, 0);
    t[59] = op("istore_0", 1, 1, 0);
    t[60] = op("istore_1", 1, 1, 0);
    t[61] = op("istore_2", 1, 1, 0);
    t[62] = op("istore_3", 1, 1, 0);
    t[63] = op("lstore_0", 1, 2, 0);
    t[64] = op("lstore_1", 1, 2, 0);
    t[65] = op("lstore_2", 1, 2, 0);
    t[66] = op("lstore_3", 1, 2, 0);
    t[67] = op("fstore_0", 1, 1, 0);
    t[68] = op("fstore_1", 1, 1, 0);
    t[69] = op("fstore_2", 1, 1, 0);
    t[70] = op("fstore_3", 1, 1, 0);
    t[71] = op("dstore_0", 1, 2, 0);
    t[72] = op("dstore_1", 1, 2, 0);
    t[73] = op("dstore_2", 1, 2, 0);
    t[74] = op("dstore_3", 1, 2, 0);
    t[75] = op("astore_0", 1, 1, 0);
    t[76] = op("astore_1", 1, 1, 0);
    t[77] = op("astore_2", 1, 1, 0);
    t[78] = op("astore_3", 1, 1, 0);
    t[79] = op("iastore", 1, 3, 0);
    t[80] = op("lastore", 1, 4, 0);
    t[81] = op("fastore", 1, 3, 0);
    t[82] = op("dastore", 1, 4, 0);
    t[83] = op("aastore", 1, 3, 0);
    t[84] = op("bastore", 1, 3, 0);
    t[85] = op("castore", 1, 3, 0);
    t[86] = op("sastore", 1, 3, 0);
    t[87] = op("pop", 1, 1, 0);
    t[88] = op("pop2", 1, 2, 0);
    t[89] = op("dup", 1, 1, 2);
    t[90] = op("dup_x1", 1, 2, 3);
    t[91] = op("dup_x2", 1, 3, 4);
    t[92] = op("dup2", 1, 2, 4);
    t[93] = op("dup2_x1", 1, 3, 5);
    t[94] = op("dup2_x2", 1, 4, 6);
    t[95] = op("swap", 1, 2, 2);
    t[96] = op("iadd", 1, 2, 1);
    t[97] = op("ladd", 1, 4, 2);
    t[98] = op("fadd", 1, 2, 1);
    t[99] = op("dadd", 1, 4, 2);
    t[100] = op("isub", 1, 2, 1);
    t[101] = op("lsub", 1, 4, 2);
    t[102] = op("fsub", 1, 2, 1);
    t[103] = op("dsub", 1, 4, 2);
    t[104] = op("imul", 1, 2, 1);
    t[105] = op("lmul", 1, 4, 2);
    t[106] = op("fmul", 1, 2, 1);
    t[107] = op("dmul", 1, 4, 2);
    t[108] = op("idiv", 1, 2, 1);
    t[109] = op("ldiv", 1, 4, 2);
    t[110] = op("fdiv", 1, 2, 1);
    t[111] = op("ddiv", 1, 4, 2);
    t[112] = op("irem", 1, 2, 1);
    t[113] = op("lrem", 1, 4, 2);
    t[114] = op("frem", 1, 2, 1);
    t[115] = op("drem", 1, 4, 2);
    t[116] = op("ineg", 1, 1, 1);
    t[117] = op("lneg", 1, 2, 2);
    t[118] = op("fneg", 1, 1, 1);
    t[119] = op("dneg", 1, 2, 2);
    t[120] = op("ishl", 1, 2, 1);
    t[121] = op("lshl", 1, 3, 2);
    t[122] = op("ishr", 1, 2, 1);
    t[123] = op("lshr", 1, 3, 2);
    t[124] = op("iushr", 1, 2, 1);
    t[125] = op("lushr", 1, 3, 2);
    t[126] = op("iand", 1, 2, 1);
    t[127] = op("land", 1, 4, 2);
    t[128] = op("ior", 1, 2, 1);
    t[129] = op("lor", 1, 4, 2);
    t[130] = op("ixor", 1, 2, 1);
    t[131] = op("lxor", 1, 4, 2);
    t[132] = op("iinc", 3, 0, 0);
    t[133] = op("i2l", 1, 1, 2);
    t[134] = op("i2f", 1, 1, 1);
    t[135] = op("i2d", 1, 1, 2);
    t[136] = op("l2i", 1, 2, 1);
    t[137] = op("l2f", 1, 2, 1);
    t[138] = op("l2d", 1, 2, 2);
    t[139] = op("f2i", 1, 1, 1);
    t[140] = op("f2l", 1, 1, 2);
    t[141] = op("f2d", 1, 1, 2);
    t[142] = op("d2i", 1, 2, 1);
    t[143] = op("d2l", 1, 2, 2);
    t[144] = op("d2f", 1, 2, 1);
    t[145] = op("i2b", 1, 1, 1);
    t[146] = op("i2c", 1, 1, 1);
    t[147] = op("i2s", 1, 1, 1);
    t[148] = op("lcmp", 1, 4, 1);
    t[149] = op("fcmpl", 1, 2, 1);
    t[150] = op("fcmpg", 1, 2, 1);
    t[151] = op("dcmpl", 1, 4, 1);
    t[152] = op("dcmpg", 1, 4, 1);
    t[153] = op("ifeq", 3, 1, 0);
    t[154] = op("ifne", 3, 1, 0);
    t[155] = op("iflt", 3, 1, 0);
    t[156] = op("ifge", 3, 1, 0);
    t[157] = op("ifgt", 3, 1, 0);
    t[158] = op("ifle", 3, 1, 0);
    t[159] = op("if_icmpeq", 3, 2, 0);
    t[160] = op("if_icmpne", 3, 2, 0);
    t[161] = op("if_icmplt", 3, 2, 0);
    t[162] = op("if_icmpge", 3, 2, 0);
    t[163] = op("if_icmpgt", 3, 2, 0);
    t[164] = op("if_icmple", 3, 2, 0);
    t[165] = op("if_acmpeq", 3, 2, 0);
    t[166] = op("if_acmpne", 3, 2, 0);
    t[167] = op("goto", 3, 0, 0);
    t[168] = op("jsr", 3, 0, 1);
    t[169] = op("ret", 2, 0, 0);
    t[170] = op("tableswitch", V, 1, 0);
    t[171] = op("lookupswitch", V, 1, 0);
    t[172] = op("ireturn", 1, 1, 0);
    t[173] = op("lreturn", 1, 2, 0);
    t[174] = op("freturn", 1, 1, 0);
    t[175] = op("dreturn", 1, 2, 0);
    t[176] = op("areturn", 1, 1, 0);
    t[177] = op("return", 1, 0, 0);
    t[178] = op("getstatic", 3, S, S);
    t[179] = op("putstatic", 3, S, S);
    t[180] = op("getfield", 3, S, S);
    t[181] = op("putfield", 3, S, S);
    t[182] = op("invokevirtual", 3, S, S);
    t[183] = op("invokespecial", 3, S, S);
    t[184] = op("invokestatic", 3, S, S);
    t[185] = op("invokeinterface", 5, S, S);
    t[186] = op("invokedynamic", 5, S, S);
    t[187] = op("new", 3, 0, 1);
    t[188] = op("newarray", 2, 1, 1);
    t[189] = op("anewarray", 3, 1, 1);
    t[190] = op("arraylength", 1, 1, 1);
    t[191] = op("athrow", 1, 1, 0);
    t[192] = op("checkcast", 3, 1, 1);
    t[193] = op("instanceof", 3, 1, 1);
    t[194] = op("monitorenter", 1, 1, 0);
    t[195] = op("monitorexit", 1, 1, 0);
    t[196] = op("wide", V, 0, 0);
    t[197] = op("multianewarray", 4, S, 1);
    t[198] = op("ifnull", 3, 1, 0);
    t[199] = op("ifnonnull", 3, 1, 0);
    t[200] = op("goto_w", 5, 0, 0);
    t[201] = op("jsr_w", 5, 0, 1);
    t
};

/// The mnemonic of an opcode, or `"<undefined>"`.
pub fn name(opcode: u8) -> &'static str {
    OPCODES[opcode as usize].map_or("<undefined>", |o| o.name)
}

/// The length in bytes of the instruction at `pc`, or `None` when it is undefined or
/// runs past the end of `code`.
pub fn length(code: &[u8], pc: usize) -> Option<usize> {
    let opcode = *code.get(pc)?;
    let info = OPCODES[opcode as usize]?;
    let len = if info.len != VARIABLE {
        info.len as usize
    } else {
        match opcode {
            196 => match *code.get(pc + 1)? {
                132 => 6,
                21..=25 | 54..=58 | 169 => 4,
                _ => return None,
            },
            170 | 171 => {
                let pad = 3 - (pc % 4);
                let base = pc + 1 + pad;
                let word = |at: usize| -> Option<i32> {
                    let b = code.get(at..at + 4)?;
                    Some(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
                };
                if opcode == 170 {
                    let low = word(base + 4)? as i64;
                    let high = word(base + 8)? as i64;
                    if high < low || high - low > 65535 {
                        return None;
                    }
                    1 + pad + 12 + 4 * (high - low + 1) as usize
                } else {
                    let n = word(base + 4)?;
                    if !(0..=65535).contains(&n) {
                        return None;
                    }
                    1 + pad + 8 + 8 * n as usize
                }
            }
            _ => return None,
        }
    };
    (pc + len <= code.len()).then_some(len)
}
