//! The learning-switch component: a switch with MAC learning, ageing and a flow table
//! of prioritized rules, driven by packet traces (one trace per case line).

use super::parse_hex;

/// What a rule does with a frame it matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuleAction {
    /// Send out of this port (even the one the frame came in on).
    Output(u16),
    /// Send out of every port but the one the frame came in on.
    Flood,
    /// Forward as the learning switch would.
    Normal,
    /// Discard.
    Drop,
}

/// One flow rule; `None` fields match anything.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule {
    /// Higher wins; among equal priorities the rule added first wins.
    pub priority: u16,
    /// The port the frame came in on.
    pub in_port: Option<u16>,
    /// Source MAC (bytes 6..12 of the frame).
    pub eth_src: Option<[u8; 6]>,
    /// Destination MAC (bytes 0..6).
    pub eth_dst: Option<[u8; 6]>,
    /// Ethertype (bytes 12..14, big-endian).
    pub ethertype: Option<u16>,
    /// IP protocol: only IPv4 frames (ethertype 0x0800) have one, at byte 23.
    pub ip_proto: Option<u8>,
    /// The action.
    pub action: RuleAction,
}

/// A switch a submission builds for each trace.
pub trait SwitchModel {
    /// Adds a rule to the flow table.
    fn add_rule(&mut self, rule: &Rule);
    /// A frame arrives on `in_port` at time `now` (ticks, never decreasing): returns
    /// the ports it goes out of, in any order, each once.
    fn receive(&mut self, now: u64, in_port: u16, frame: &[u8]) -> Vec<u16>;
    /// Frames the rule added `index`-th (from 0) has matched so far.
    fn rule_packets(&self, index: usize) -> u64;
}

/// What a submission implements: it builds switches.
pub trait FlowSwitch {
    /// A switch with ports `0..ports` whose learned addresses expire `ageing` ticks
    /// after they were last seen as a source (an entry seen at `t` is valid while `now - t < ageing`).
    fn new_switch(&self, ports: u16, ageing: u64) -> Box<dyn SwitchModel>;
}

/// One event of a trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A rule is added.
    Rule(Rule),
    /// A frame arrives.
    Frame {
        /// When.
        now: u64,
        /// On which port.
        in_port: u16,
        /// The frame.
        frame: Vec<u8>,
    },
}

/// A packet trace: a fresh switch, then events in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trace {
    /// A name for messages.
    pub name: String,
    /// Ports of the switch.
    pub ports: u16,
    /// MAC ageing time.
    pub ageing: u64,
    /// The events.
    pub events: Vec<Event>,
}

fn mac_text(m: Option<[u8; 6]>) -> String {
    match m {
        None => "*".into(),
        Some(b) => b.iter().map(|x| format!("{x:02x}")).collect(),
    }
}

fn opt_text<T: std::fmt::LowerHex>(v: Option<T>) -> String {
    v.map_or("*".into(), |x| format!("{x:x}"))
}

fn parse_opt(f: Option<&str>) -> Result<Option<u32>, String> {
    match f {
        Some("*") => Ok(None),
        other => parse_hex(other).map(Some),
    }
}

fn parse_mac(f: Option<&str>) -> Result<Option<[u8; 6]>, String> {
    let f = f.ok_or("missing MAC")?;
    if f == "*" {
        return Ok(None);
    }
    let bytes = parse_bytes(f)?;
    <[u8; 6]>::try_from(bytes.as_slice())
        .map(Some)
        .map_err(|_| format!("bad MAC {f:?}"))
}

fn parse_bytes(f: &str) -> Result<Vec<u8>, String> {
    if !f.len().is_multiple_of(2) || !f.is_ascii() {
        return Err(format!("bad hex bytes {f:?}"));
    }
    (0..f.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&f[i..i + 2], 16).map_err(|_| format!("bad hex bytes {f:?}")))
        .collect()
}

fn narrow<T: TryFrom<u32>>(v: Option<u32>, what: &str) -> Result<Option<T>, String> {
    v.map(|x| T::try_from(x).map_err(|_| format!("{what} out of range")))
        .transpose()
}

impl Trace {
    /// The line sent to the submission:
    /// `ports ageing` then events, `;`-separated: `r PRIO IN SRC DST TYPE PROTO ACTION`
    /// (hex, `*` for any; actions `o:N`, `flood`, `normal`, `drop`) or `f NOW PORT FRAMEHEX`.
    pub fn to_line(&self) -> String {
        let mut parts = vec![format!("{:x} {:x}", self.ports, self.ageing)];
        for e in &self.events {
            parts.push(match e {
                Event::Rule(r) => format!(
                    "r {:x} {} {} {} {} {} {}",
                    r.priority,
                    opt_text(r.in_port),
                    mac_text(r.eth_src),
                    mac_text(r.eth_dst),
                    opt_text(r.ethertype),
                    opt_text(r.ip_proto),
                    match r.action {
                        RuleAction::Output(p) => format!("o:{p:x}"),
                        RuleAction::Flood => "flood".into(),
                        RuleAction::Normal => "normal".into(),
                        RuleAction::Drop => "drop".into(),
                    }
                ),
                Event::Frame {
                    now,
                    in_port,
                    frame,
                } => format!(
                    "f {now:x} {in_port:x} {}",
                    frame.iter().map(|b| format!("{b:02x}")).collect::<String>()
                ),
            });
        }
        parts.join(";")
    }

    /// Parses [`Trace::to_line`]'s output.
    pub fn from_line(line: &str) -> Result<Trace, String> {
        let mut parts = line.split(';');
        let mut head = parts.next().unwrap_or_default().split_whitespace();
        let ports = narrow::<u16>(Some(parse_hex(head.next())?), "ports")?.unwrap_or(0);
        let ageing = u64::from(parse_hex(head.next())?);
        let mut events = Vec::new();
        for p in parts {
            let mut f = p.split_whitespace();
            match f.next() {
                Some("r") => {
                    let priority =
                        narrow::<u16>(Some(parse_hex(f.next())?), "priority")?.unwrap_or(0);
                    let in_port = narrow(parse_opt(f.next())?, "in_port")?;
                    let eth_src = parse_mac(f.next())?;
                    let eth_dst = parse_mac(f.next())?;
                    let ethertype = narrow(parse_opt(f.next())?, "ethertype")?;
                    let ip_proto = narrow(parse_opt(f.next())?, "ip_proto")?;
                    let action = match f.next() {
                        Some("flood") => RuleAction::Flood,
                        Some("normal") => RuleAction::Normal,
                        Some("drop") => RuleAction::Drop,
                        Some(o) if o.starts_with("o:") => RuleAction::Output(
                            narrow::<u16>(Some(parse_hex(Some(&o[2..]))?), "output port")?
                                .unwrap_or(0),
                        ),
                        other => return Err(format!("bad action {other:?}")),
                    };
                    events.push(Event::Rule(Rule {
                        priority,
                        in_port,
                        eth_src,
                        eth_dst,
                        ethertype,
                        ip_proto,
                        action,
                    }));
                }
                Some("f") => {
                    let now = u64::from(parse_hex(f.next())?);
                    let in_port = narrow::<u16>(Some(parse_hex(f.next())?), "port")?.unwrap_or(0);
                    let frame = parse_bytes(f.next().ok_or("missing frame")?)?;
                    events.push(Event::Frame {
                        now,
                        in_port,
                        frame,
                    });
                }
                other => return Err(format!("bad event {other:?}")),
            }
        }
        Ok(Trace {
            name: String::new(),
            ports,
            ageing,
            events,
        })
    }

    /// Runs the trace on a switch `imp` builds. The answer: per frame the sorted
    /// output ports (`-` for none), `/`-separated; then `|` and each rule's packet count.
    pub fn answer(&self, imp: &dyn FlowSwitch) -> String {
        let mut sw = imp.new_switch(self.ports, self.ageing);
        let mut outs = Vec::new();
        let mut rules = 0;
        for e in &self.events {
            match e {
                Event::Rule(r) => {
                    sw.add_rule(r);
                    rules += 1;
                }
                Event::Frame {
                    now,
                    in_port,
                    frame,
                } => {
                    let mut ports = sw.receive(*now, *in_port, frame);
                    ports.sort_unstable();
                    outs.push(if ports.is_empty() {
                        "-".to_string()
                    } else {
                        ports
                            .iter()
                            .map(|p| p.to_string())
                            .collect::<Vec<_>>()
                            .join(",")
                    });
                }
            }
        }
        let counts: Vec<String> = (0..rules).map(|i| sw.rule_packets(i).to_string()).collect();
        format!("{}|{}", outs.join("/"), counts.join(","))
    }

    /// Compares a submission's answer with the reference's; `Err` says what differed first.
    pub fn compare(&self, want: &str, got: &str) -> Result<(), String> {
        if want == got {
            return Ok(());
        }
        let (wf, wc) = want.split_once('|').unwrap_or((want, ""));
        let (gf, gc) = got.split_once('|').unwrap_or((got, ""));
        let frames: Vec<(&Event, usize)> = self
            .events
            .iter()
            .filter(|e| matches!(e, Event::Frame { .. }))
            .zip(0..)
            .collect();
        let gv: Vec<&str> = gf.split('/').collect();
        for ((e, i), w) in frames.iter().zip(wf.split('/')) {
            let g = gv.get(*i).copied().unwrap_or("(nothing)");
            if g != w {
                if let Event::Frame {
                    now,
                    in_port,
                    frame,
                } = e
                {
                    return Err(format!(
                        "{}: frame {} (at {now} on port {in_port}, {}): expected ports {w}, got {g}",
                        self.name,
                        i + 1,
                        describe(frame)
                    ));
                }
            }
        }
        if wc != gc {
            return Err(format!(
                "{}: rule packet counts: expected [{wc}], got [{gc}]",
                self.name
            ));
        }
        Err(format!("{}: answered {got:?}", self.name))
    }
}

/// `src > dst type` of a frame, for messages.
pub fn describe(frame: &[u8]) -> String {
    if frame.len() < 14 {
        return format!("{} bytes", frame.len());
    }
    let mac = |b: &[u8]| {
        b.iter()
            .map(|x| format!("{x:02x}"))
            .collect::<Vec<_>>()
            .join(":")
    };
    let ty = u16::from_be_bytes([frame[12], frame[13]]);
    let proto = match (ty, frame.get(23)) {
        (0x0800, Some(1)) => " ICMP",
        (0x0800, Some(17)) => " UDP",
        (0x0800, Some(6)) => " TCP",
        _ => "",
    };
    format!(
        "{} > {} type {ty:#06x}{proto}",
        mac(&frame[6..12]),
        mac(&frame[..6])
    )
}

/// The component's program body: answers traces on standard input with `imp`.
pub fn serve(imp: &dyn FlowSwitch) {
    super::serve(&|line| Trace::from_line(line).map(|t| t.answer(imp)));
}
