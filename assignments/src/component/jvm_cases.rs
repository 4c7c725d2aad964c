//! The JVM bytecodes lab's cases: one family instruction over a frame's locals and
//! operand stack per line, the frame a submission sees, and the answer line it gives.

use super::jvm_bytecodes::{self, Fault, IntBytecodes, IntFrame, Next};

/// One slot of a case's frame: an int, or something else (a reference, a long, unset).
pub type Slot = Option<i32>;

/// One case: an instruction and the top frame it runs on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Case {
    /// Where it comes from, for messages (`Switch.sparse(I)I pc 12`).
    pub origin: String,
    /// The instruction's bytes.
    pub code: Vec<u8>,
    /// The locals.
    pub locals: Vec<Slot>,
    /// The operand stack, bottom first.
    pub stack: Vec<Slot>,
}

fn slots_text(v: &[Slot]) -> String {
    if v.is_empty() {
        return "-".into();
    }
    v.iter()
        .map(|s| s.map_or("x".into(), |n| n.to_string()))
        .collect::<Vec<_>>()
        .join(",")
}

fn parse_slots(f: Option<&str>) -> Result<Vec<Slot>, String> {
    match f.ok_or("missing slots")? {
        "-" => Ok(Vec::new()),
        text => text
            .split(',')
            .map(|s| match s {
                "x" => Ok(None),
                n => n
                    .parse::<i32>()
                    .map(Some)
                    .map_err(|_| format!("bad slot {n:?}")),
            })
            .collect(),
    }
}

/// A frame made of a case's slots.
#[derive(Clone, Debug)]
pub struct CaseFrame {
    /// The locals.
    pub locals: Vec<Slot>,
    /// The operand stack, bottom first.
    pub stack: Vec<Slot>,
}

impl IntFrame for CaseFrame {
    fn pop_int(&mut self) -> Result<i32, Fault> {
        self.stack.pop().flatten().ok_or(Fault::Frame)
    }
    fn push_int(&mut self, value: i32) -> Result<(), Fault> {
        self.stack.push(Some(value));
        Ok(())
    }
    fn load_int(&self, index: usize) -> Result<i32, Fault> {
        self.locals
            .get(index)
            .copied()
            .flatten()
            .ok_or(Fault::Frame)
    }
    fn store_int(&mut self, index: usize, value: i32) -> Result<(), Fault> {
        let slot = self.locals.get_mut(index).ok_or(Fault::Frame)?;
        *slot = Some(value);
        Ok(())
    }
}

impl Case {
    /// The line sent to the submission: `CODEHEX LOCALS STACK`, slots comma-separated,
    /// `x` for a slot that holds no int, `-` for none.
    pub fn to_line(&self) -> String {
        let code: String = self.code.iter().map(|b| format!("{b:02x}")).collect();
        format!(
            "{code} {} {}",
            slots_text(&self.locals),
            slots_text(&self.stack)
        )
    }

    /// Parses [`Case::to_line`]'s output.
    pub fn from_line(line: &str) -> Result<Case, String> {
        let mut f = line.split_whitespace();
        let hex = f.next().ok_or("missing code")?;
        if !hex.len().is_multiple_of(2) || !hex.is_ascii() || hex.is_empty() {
            return Err(format!("bad code {hex:?}"));
        }
        let code = (0..hex.len())
            .step_by(2)
            .map(|i| {
                u8::from_str_radix(&hex[i..i + 2], 16).map_err(|_| format!("bad code {hex:?}"))
            })
            .collect::<Result<Vec<u8>, String>>()?;
        Ok(Case {
            origin: String::new(),
            code,
            locals: parse_slots(f.next())?,
            stack: parse_slots(f.next())?,
        })
    }

    /// Runs the case on `imp`. The answer: `fall` or `branch:OFFSET`, then the locals
    /// and the stack after it; or `fault:divide-by-zero`, `fault:frame`,
    /// `fault:unsupported`.
    pub fn answer(&self, imp: &dyn IntBytecodes) -> String {
        let mut frame = CaseFrame {
            locals: self.locals.clone(),
            stack: self.stack.clone(),
        };
        match imp.execute(&self.code, &mut frame) {
            Ok(next) => {
                let next = match next {
                    Next::Fall => "fall".to_string(),
                    Next::Branch(o) => format!("branch:{o}"),
                };
                format!(
                    "{next} {} {}",
                    slots_text(&frame.locals),
                    slots_text(&frame.stack)
                )
            }
            Err(Fault::DivideByZero) => "fault:divide-by-zero".into(),
            Err(Fault::Frame) => "fault:frame".into(),
            Err(Fault::Unsupported) => "fault:unsupported".into(),
        }
    }

    /// Compares a submission's answer with the reference's; `Err` says what differed.
    pub fn compare(&self, want: &str, got: &str) -> Result<(), String> {
        if want == got {
            return Ok(());
        }
        let what = |a: &str| {
            let mut f = a.split_whitespace();
            let next = f.next().unwrap_or("(nothing)").to_string();
            (
                next,
                f.next().unwrap_or("").to_string(),
                f.next().unwrap_or("").to_string(),
            )
        };
        let (wn, wl, ws) = what(want);
        let (gn, gl, gs) = what(got);
        let diff = if wn != gn {
            format!("expected {wn}, got {gn}")
        } else if wl != gl {
            format!("locals: expected [{wl}], got [{gl}]")
        } else {
            format!("stack: expected [{ws}], got [{gs}]")
        };
        Err(format!(
            "{} at {} (locals [{}], stack [{}]): {diff}",
            jvm_bytecodes::name(&self.code),
            if self.origin.is_empty() {
                "a random case"
            } else {
                &self.origin
            },
            slots_text(&self.locals),
            slots_text(&self.stack)
        ))
    }
}

/// The component's program body: answers cases on standard input with `imp`.
pub fn serve(imp: &dyn IntBytecodes) {
    super::serve(&|line| Case::from_line(line).map(|c| c.answer(imp)));
}
