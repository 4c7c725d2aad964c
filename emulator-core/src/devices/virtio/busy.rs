//! A virtio device's service time: the requests a notify hands over keep the device busy
//! for a modeled number of guest cycles, during which it suppresses the driver's kicks.
//!
//! A notify finds the device idle: it takes every chain on the available ring (one
//! round) and is busy until the round's service time ends. Then it publishes the
//! round's completions on the used ring with one interrupt decision (the transport's
//! coalescing and `used_event`), goes idle and looks at the available ring once more
//! (virtio 1.x §2.7.10's race rule): chains the driver added while it was busy start
//! the next round without a kick. While busy, without `VIRTIO_F_RING_EVENT_IDX` it
//! sets `VIRTQ_USED_F_NO_NOTIFY` in the used ring's flags; with event indexes it
//! publishes `avail_event` only when it goes idle, so `vring_need_event` tells the
//! driver not to kick. A zero service time serves each notify at once.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use super::queue::{self, Desc, Dma};
use super::transport::Transport;

/// Used-ring flag: the device asks the driver not to notify (it polls the ring).
pub const USED_F_NO_NOTIFY: u16 = 1;

/// How long the device takes over a request, in guest cycles (virtual time).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct ServiceTime {
    /// The fixed latency of each request.
    pub fixed: u64,
    /// The cost of every 512 bytes a request moves (a sector; part of a frame).
    pub per_unit: u64,
}

impl ServiceTime {
    /// The service time of a request that moves `bytes`.
    pub fn cost(&self, bytes: u64) -> u64 {
        self.fixed
            .saturating_add(self.per_unit.saturating_mul(bytes.div_ceil(512)))
    }

    /// Whether the device serves each notify at once (never busy).
    pub fn instant(&self) -> bool {
        self.fixed == 0 && self.per_unit == 0
    }

    /// Parses `FIXED` or `FIXED+PER_UNIT` (cycles, `PER_UNIT` per 512 bytes).
    pub fn parse(s: &str) -> Result<ServiceTime, String> {
        let (fixed, per_unit) = s.split_once('+').unwrap_or((s, "0"));
        let num = |v: &str| {
            v.trim()
                .parse::<u64>()
                .map_err(|_| format!("{v:?} is not a cycle count (FIXED or FIXED+PER_512_BYTES)"))
        };
        Ok(ServiceTime {
            fixed: num(fixed)?,
            per_unit: num(per_unit)?,
        })
    }
}

/// The requests the device is working through on one queue.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct Round {
    /// The queue.
    pub queue: u16,
    /// The guest cycle at which the round's service time ends.
    pub due: u64,
    /// The completions it publishes then: `(head, bytes written)`.
    pub done: Vec<(u16, u32)>,
    /// The queue's notify count when the round started.
    pub notifies_at: u64,
}

/// The device's service model, the round in progress and its counters.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct Busy {
    /// The service time per request.
    pub service: ServiceTime,
    /// The round in progress: the device is busy while there is one.
    pub round: Option<Round>,
    /// Chains the device took when a busy period ended, without a notify of their own:
    /// kicks the driver skipped.
    pub skipped: u64,
    /// Notifies that came while the device was busy (a driver ignoring suppression).
    pub busy_notifies: u64,
    /// Rounds served.
    pub rounds: u64,
}

/// Serves one chain: `(bytes written into the chain, bytes the request moved)`.
pub type Serve<'a> = dyn FnMut(&mut Dma, u16, Vec<Desc>) -> Result<(u32, u64), String> + 'a;

impl Busy {
    /// After a register write through either interface: a reset (device status 0)
    /// drops the requests in service, so a round never completes onto rings the
    /// driver set up again.
    pub fn after_write(&mut self, t: &Transport) {
        if t.status == 0 {
            self.round = None;
        }
    }

    /// When the round in progress ends.
    pub fn deadline(&self) -> Option<u64> {
        self.round.as_ref().map(|r| r.due)
    }

    /// Whether the device is working on queue `q`.
    pub fn busy_on(&self, q: u16) -> bool {
        self.round.as_ref().is_some_and(|r| r.queue == q)
    }

    /// Whether the round in progress is over at `now`.
    pub fn due(&self, now: u64) -> bool {
        self.round.as_ref().is_some_and(|r| r.due <= now)
    }

    /// The driver notified queue `qi` at `now`: an idle device starts a round (or,
    /// with no service time, serves the chains at once); a busy one takes the new
    /// chains when its round ends.
    pub fn notified(
        &mut self,
        t: &mut Transport,
        dma: &mut Dma,
        qi: u16,
        now: u64,
        serve: &mut Serve,
    ) -> Result<(), String> {
        if self.round.is_some() {
            self.busy_notifies += 1;
            return Ok(());
        }
        self.start(t, dma, qi, now, true, serve)
    }

    /// Ends the round in progress when it is due at `now`: publishes its completions,
    /// decides the interrupt, goes idle and re-checks the ring.
    pub fn tick(
        &mut self,
        t: &mut Transport,
        dma: &mut Dma,
        now: u64,
        serve: &mut Serve,
    ) -> Result<(), String> {
        if !self.due(now) {
            return Ok(());
        }
        let Some(r) = self.round.take() else {
            return Ok(());
        };
        let qi = usize::from(r.queue);
        let mut q = t.queues.get(qi).cloned().ok_or("no such queue")?;
        let old_used = q.used_idx;
        for &(head, len) in &r.done {
            queue::complete(dma, &mut q, head, len)?;
        }
        let kicks = q.notifies.saturating_sub(r.notifies_at);
        if let Some(s) = t.queues.get_mut(qi) {
            *s = q.clone();
        }
        if !t.event_idx() {
            set_used_flags(dma, t, r.queue, 0)?;
        }
        t.finish(dma, &q, old_used, r.done.len() as u32)?;
        // The race rule: chains added while busy are taken now, without a kick.
        let before = self.skipped;
        self.start(t, dma, r.queue, r.due, false, serve)?;
        let taken = self.skipped - before;
        self.skipped = before + taken.saturating_sub(kicks);
        Ok(())
    }

    /// Takes every chain on queue `qi`'s available ring at `now`. `kicked`: a notify
    /// handed them over (else they are counted as skipped kicks).
    fn start(
        &mut self,
        t: &mut Transport,
        dma: &mut Dma,
        qi: u16,
        now: u64,
        kicked: bool,
        serve: &mut Serve,
    ) -> Result<(), String> {
        let Some(mut q) = t.queues.get(usize::from(qi)).cloned() else {
            return Ok(());
        };
        let instant = self.service.instant();
        let old_used = q.used_idx;
        let mut done = Vec::new();
        let mut cost = 0u64;
        let service = self.service;
        let taken = take_chains(dma, &mut q, instant, &mut done, &mut cost, |d, h, c| {
            let (written, bytes) = serve(d, h, c)?;
            Ok((written, service.cost(bytes)))
        });
        let notifies_at = q.notifies;
        if let Some(s) = t.queues.get_mut(usize::from(qi)) {
            *s = q.clone();
        }
        let taken = taken?;
        if kicked {
            t.unkicked += u64::from(taken.saturating_sub(1));
        } else {
            self.skipped += u64::from(taken);
        }
        if instant {
            return t.finish(dma, &q, old_used, taken);
        }
        if taken == 0 {
            if t.event_idx() {
                queue::put_avail_event(dma, &q)?;
            }
            return Ok(());
        }
        if !t.event_idx() {
            set_used_flags(dma, t, qi, USED_F_NO_NOTIFY)?;
        }
        self.rounds += 1;
        self.round = Some(Round {
            queue: qi,
            due: now.saturating_add(cost.max(1)),
            done,
            notifies_at,
        });
        Ok(())
    }
}

/// Pops and serves every available chain of `q`: completed at once when `instant`,
/// else kept in `done` with their service times summed in `cost`. How many.
fn take_chains(
    dma: &mut Dma,
    q: &mut queue::QueueState,
    instant: bool,
    done: &mut Vec<(u16, u32)>,
    cost: &mut u64,
    mut serve: impl FnMut(&mut Dma, u16, Vec<Desc>) -> Result<(u32, u64), String>,
) -> Result<u32, String> {
    let mut n = 0;
    while let Some((head, chain)) = queue::pop(dma, q)? {
        let (written, c) = serve(dma, head, chain)?;
        if instant {
            queue::complete(dma, q, head, written)?;
        } else {
            done.push((head, written));
            *cost = cost.saturating_add(c);
        }
        n += 1;
    }
    Ok(n)
}

/// Writes queue `qi`'s used-ring flags.
fn set_used_flags(dma: &mut Dma, t: &Transport, qi: u16, flags: u16) -> Result<(), String> {
    let l = t
        .queues
        .get(usize::from(qi))
        .and_then(|q| q.layout())
        .ok_or("used before its ring was set up")?;
    dma.put_u16(l.used, flags, "the used ring's flags")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devices::virtio::transport::{reg, status};
    use crate::memory::Memory;

    #[test]
    fn service_times_parse_and_cost() {
        let s = ServiceTime::parse("100+8").expect("parses");
        assert_eq!((s.fixed, s.per_unit), (100, 8));
        assert_eq!(s.cost(0), 100);
        assert_eq!(s.cost(513), 116, "two 512-byte units");
        assert_eq!(ServiceTime::parse("7").expect("parses").per_unit, 0);
        assert!(ServiceTime::parse("x+1").is_err());
        assert!(ServiceTime::default().instant());
    }

    /// A live device with one queue of 8 at 0x1000 accepting `features`, eight
    /// one-descriptor chains written to its available ring but none published yet;
    /// returns the transport and the queue's layout.
    fn setup(mem: &mut Memory, features: u32) -> (Transport, queue::Layout) {
        let mut t = Transport::new(queue::F_RING_EVENT_IDX, &[8]);
        t.write(reg::QUEUE_PFN, 4, 1);
        t.write(reg::GUEST_FEATURES, 4, features);
        t.write(reg::STATUS, 1, u32::from(status::DRIVER_OK));
        let l = t.queues[0].layout().expect("set up");
        for i in 0..8u32 {
            mem.write_u32(l.desc + 16 * i, 0x8000);
            mem.write_u32(l.desc + 16 * i + 8, 512);
            mem.write_u16(l.avail + 4 + 2 * i, i as u16);
        }
        (t, l)
    }

    fn publish(mem: &mut Memory, l: &queue::Layout, idx: u16) {
        mem.write_u16(l.avail + 2, idx);
    }

    #[test]
    fn a_busy_device_flags_no_notify_and_takes_late_chains_without_a_kick() {
        let mut mem = Memory::new(1 << 20);
        let (mut t, l) = setup(&mut mem, 0);
        let mut b = Busy {
            service: ServiceTime {
                fixed: 100,
                per_unit: 0,
            },
            ..Busy::default()
        };
        let mut serve = |_: &mut Dma, _: u16, _: Vec<Desc>| Ok((0, 512));
        publish(&mut mem, &l, 1);
        let mut dma = Dma {
            mem: &mut mem,
            ram: 1 << 20,
        };
        b.notified(&mut t, &mut dma, 0, 1000, &mut serve)
            .expect("ok");
        assert_eq!(b.deadline(), Some(1100));
        assert_eq!(dma.u16(l.used, "").ok(), Some(USED_F_NO_NOTIFY), "busy");
        assert_eq!(dma.u16(l.used + 2, "").ok(), Some(0), "not done yet");
        // The driver adds two chains without a kick; the round ends at 1100.
        dma.put_u16(l.avail + 2, 3, "").expect("in RAM");
        b.tick(&mut t, &mut dma, 1099, &mut serve).expect("ok");
        assert_eq!(dma.u16(l.used + 2, "").ok(), Some(0), "before the deadline");
        b.tick(&mut t, &mut dma, 1100, &mut serve).expect("ok");
        assert_eq!(dma.u16(l.used + 2, "").ok(), Some(1));
        assert_eq!((b.skipped, b.deadline()), (2, Some(1300)), "the re-check");
        assert_eq!(dma.u16(l.used, "").ok(), Some(USED_F_NO_NOTIFY));
        b.tick(&mut t, &mut dma, 1300, &mut serve).expect("ok");
        assert_eq!(dma.u16(l.used + 2, "").ok(), Some(3));
        assert_eq!(dma.u16(l.used, "").ok(), Some(0), "idle: notify again");
        assert_eq!((b.round.clone(), b.rounds, t.interrupts), (None, 2, 2));
    }

    #[test]
    fn under_event_indexes_avail_event_stays_behind_while_busy() {
        let mut mem = Memory::new(1 << 20);
        let (mut t, l) = setup(&mut mem, queue::F_RING_EVENT_IDX);
        let avail_event = l.used + 4 + 8 * 8;
        let mut b = Busy {
            service: ServiceTime {
                fixed: 50,
                per_unit: 0,
            },
            ..Busy::default()
        };
        let mut serve = |_: &mut Dma, _: u16, _: Vec<Desc>| Ok((0, 0));
        publish(&mut mem, &l, 1);
        let mut dma = Dma {
            mem: &mut mem,
            ram: 1 << 20,
        };
        b.notified(&mut t, &mut dma, 0, 0, &mut serve).expect("ok");
        assert_eq!(
            dma.u16(l.used, "").ok(),
            Some(0),
            "no flag under event indexes"
        );
        dma.put_u16(l.avail + 2, 2, "").expect("in RAM");
        // The driver's check for the second chain: avail_event 0 is not passed by 1 → 2.
        let event = dma.u16(avail_event, "").unwrap_or(0);
        assert!(!queue::need_event(event, 2, 1), "the kick is suppressed");
        t.write(reg::QUEUE_NOTIFY, 2, 0);
        assert_eq!(t.take_pending(), Some(0));
        b.notified(&mut t, &mut dma, 0, 10, &mut serve).expect("ok");
        assert_eq!(b.busy_notifies, 1, "a notify while busy changes nothing");
        b.tick(&mut t, &mut dma, 50, &mut serve).expect("ok");
        b.tick(&mut t, &mut dma, 100, &mut serve).expect("ok");
        assert_eq!(b.round, None);
        assert_eq!(
            dma.u16(avail_event, "").ok(),
            Some(2),
            "published when idle"
        );
        assert_eq!(b.skipped, 0, "the second chain had its kick");
    }
}
