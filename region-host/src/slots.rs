//! The function-table places of region modules: at most [`MAX_MODULES`] in use, given
//! out again a generation at a time, so a long run does not keep every module it ever
//! compiled alive.
//!
//! When a generation is full, every place it gave out becomes free and the generation
//! changes: machines drop their regions before they run one again (their handles may
//! now name other modules), and the modules compiled from then on overwrite the free
//! places, which lets the engine collect the old instances.

/// Modules given places in one generation before the places start over.
pub const MAX_MODULES: usize = 1024;

/// The places given out and the free ones.
#[derive(Debug)]
pub struct Slots {
    /// Places given out in this generation.
    issued: Vec<u32>,
    /// Places of older generations, free to reuse.
    free: Vec<u32>,
    /// Changes each time the places start over.
    generation: u64,
    /// Places a generation gives out ([`MAX_MODULES`] unless set).
    cap: usize,
}

impl Default for Slots {
    fn default() -> Self {
        Slots {
            issued: Vec::new(),
            free: Vec::new(),
            generation: 0,
            cap: MAX_MODULES,
        }
    }
}

/// The generation was full: it started over, and the handles given out before must not
/// be called.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct StartedOver;

impl Slots {
    /// Sets the places a generation gives out (at least 1): a smaller table, or a test
    /// that makes the places start over often.
    pub fn set_cap(&mut self, cap: usize) {
        self.cap = cap.max(1);
    }

    /// The generation now.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Where the next module goes: a free place to overwrite, or `None` for a new place
    /// at the end of the table.
    pub fn place(&mut self) -> Result<Option<u32>, StartedOver> {
        if self.issued.len() >= self.cap {
            self.free.append(&mut self.issued);
            self.generation += 1;
            return Err(StartedOver);
        }
        Ok(self.free.pop())
    }

    /// Records that a module now holds place `index`.
    pub fn taken(&mut self, index: u32) {
        self.issued.push(index);
    }

    /// Gives back a place [`Slots::place`] offered that was not used (the module did not
    /// compile).
    pub fn unused(&mut self, index: u32) {
        self.free.push(index);
    }

    /// Places in use in this generation.
    pub fn in_use(&self) -> usize {
        self.issued.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_generation_starts_over_and_its_places_are_reused() {
        let mut s = Slots::default();
        for i in 0..MAX_MODULES as u32 {
            assert_eq!(s.place(), Ok(None), "new places while the table grows");
            s.taken(100 + i);
        }
        assert_eq!(s.place(), Err(StartedOver));
        assert_eq!((s.generation(), s.in_use()), (1, 0));
        let mut reused = Vec::new();
        for _ in 0..MAX_MODULES {
            let Ok(Some(i)) = s.place() else {
                panic!("a free place is offered before the table grows");
            };
            s.taken(i);
            reused.push(i);
        }
        reused.sort_unstable();
        assert_eq!(reused, (100..100 + MAX_MODULES as u32).collect::<Vec<_>>());
        assert_eq!(s.place(), Err(StartedOver));
        assert_eq!(s.generation(), 2);
    }

    #[test]
    fn a_place_offered_but_not_used_is_offered_again() {
        let mut s = Slots::default();
        s.set_cap(2);
        s.taken(5);
        s.free.push(9);
        assert_eq!(s.place(), Ok(Some(9)));
        s.unused(9);
        assert_eq!(s.place(), Ok(Some(9)));
        s.taken(9);
        assert_eq!(s.place(), Err(StartedOver), "two places in use");
    }
}
