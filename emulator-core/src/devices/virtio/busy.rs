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
