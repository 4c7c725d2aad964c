//! Region modules the embedder compiles in the background: the function-table places
//! handed out before their module is there, by the ticket of the compile that will fill
//! them, and the places whose compile failed.
//!
//! A place can be given out again while an older compile for it is still running (its
//! generation started over), so a compile that ends is installed only when its ticket
//! is the place's latest.

/// The mark of a place whose latest compile failed (tickets are never 0): its regions
/// stay with the IR interpreter.
const FAILED: u32 = 0;

/// Background compiles not yet ended, and failed places.
#[derive(Debug, Default)]
pub struct Pending {
    /// Places whose latest compile is running (its ticket) or failed ([`FAILED`]), as
    /// `(place, ticket)`; the others are ready. A few at a time: a list.
    places: Vec<(u32, u32)>,
    /// The last ticket given out.
    next: u32,
}

impl Pending {
    /// A ticket for the next compile, which the embedder hands back when it ends.
    pub fn ticket(&mut self) -> u32 {
        self.next = self.next.wrapping_add(1).max(1);
        self.next
    }

    /// The place's latest ticket or [`FAILED`], when it is not ready.
    fn get(&self, index: u32) -> Option<u32> {
        self.places.iter().find(|p| p.0 == index).map(|p| p.1)
    }

    /// Marks place `index` with `ticket`.
    fn set(&mut self, index: u32, ticket: u32) {
        self.ready_now(index);
        self.places.push((index, ticket));
    }

    /// Place `index` holds a module that can be called now (compiled at once).
    pub fn ready_now(&mut self, index: u32) {
        self.places.retain(|p| p.0 != index);
    }

    /// Place `index` will hold the module of compile `ticket` when it ends.
    pub fn wait(&mut self, index: u32, ticket: u32) {
        self.set(index, ticket);
    }

    /// Whether `ticket` is the latest compile for place `index`, still running.
    pub fn is_latest(&self, index: u32, ticket: u32) -> bool {
        ticket != FAILED && self.get(index) == Some(ticket)
    }

    /// Compile `ticket` for place `index` ended (`ok`: with a module to put there).
    /// Whether the embedder is to put it there: only when the ticket is the place's
    /// latest and the compile succeeded.
    pub fn finished(&mut self, index: u32, ticket: u32, ok: bool) -> bool {
        if !self.is_latest(index, ticket) {
            return false;
        }
        if ok {
            self.ready_now(index);
        } else {
            self.set(index, FAILED);
        }
        ok
    }

    /// Whether the module at place `index` can be called.
    pub fn ready(&self, index: u32) -> bool {
        self.get(index).is_none()
    }

    /// Compiles still running.
    pub fn waiting(&self) -> usize {
        self.places.iter().filter(|p| p.1 != FAILED).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_place_is_ready_when_its_latest_compile_ends_well() {
        let mut p = Pending::default();
        let t = p.ticket();
        p.wait(7, t);
        assert!(!p.ready(7));
        assert!(p.is_latest(7, t));
        assert_eq!(p.waiting(), 1);
        assert!(p.finished(7, t, true));
        assert!(p.ready(7));
        assert_eq!(p.waiting(), 0);
        assert!(!p.finished(7, t, true), "a compile ends once");
    }

    #[test]
    fn an_older_compile_for_a_place_given_out_again_is_not_installed() {
        let mut p = Pending::default();
        let old = p.ticket();
        p.wait(3, old);
        let new = p.ticket();
        p.wait(3, new);
        assert!(
            !p.finished(3, old, true),
            "the old module must not overwrite"
        );
        assert!(!p.ready(3));
        assert!(p.finished(3, new, true));
        assert!(p.ready(3));
    }

    #[test]
    fn tickets_skip_the_failed_mark_when_they_wrap() {
        let mut p = Pending {
            next: u32::MAX,
            ..Pending::default()
        };
        assert_eq!(p.ticket(), 1);
        assert!(!p.is_latest(4, FAILED));
    }

    #[test]
    fn a_failed_place_stays_unready_until_it_is_given_out_again() {
        let mut p = Pending::default();
        let t = p.ticket();
        p.wait(9, t);
        assert!(!p.finished(9, t, false));
        assert!(!p.ready(9));
        p.ready_now(9);
        assert!(p.ready(9));
        let t = p.ticket();
        p.wait(9, t);
        assert!(!p.finished(9, t, false));
        let t = p.ticket();
        p.wait(9, t);
        assert!(p.finished(9, t, true));
        assert!(p.ready(9));
    }
}
