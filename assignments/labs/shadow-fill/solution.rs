// reference solution: shadow-fill (vmlab component lab 6)
//! The shadow-page-table fill, as the rules in `assignments::component::shadow` state them.

use assignments::component::shadow::{FillInput, FillResult, ShadowFill, A, D, P, PS, RW, US};

/// The reference implementation.
#[derive(Debug)]
pub struct Submission;

impl ShadowFill for Submission {
    fn fill(&self, i: &FillInput) -> FillResult {
        let access_bits = if i.write { RW } else { 0 } | if i.user { US } else { 0 };
        if i.pde & P == 0 {
            return FillResult::TrueFault {
                error_code: access_bits,
            };
        }
        let large = i.pse && i.pde & PS != 0;
        if !large && i.pte & P == 0 {
            return FillResult::TrueFault {
                error_code: access_bits,
            };
        }
        let (rights, frame) = if large {
            (i.pde, (i.pde & 0xffc0_0000) | (i.linear & 0x003f_f000))
        } else {
            (i.pde & i.pte, i.pte & 0xffff_f000)
        };
        let user_ok = rights & US != 0;
        let write_ok = rights & RW != 0;
        let denied = (i.user && !user_ok) || (i.write && !write_ok && (i.user || i.wp));
        if denied {
            return FillResult::TrueFault {
                error_code: P | access_bits,
            };
        }
        let mut pde = i.pde | A;
        let mut pte = i.pte;
        let dirty = if large {
            if i.write {
                pde |= D;
            }
            pde & D != 0
        } else {
            pte |= A;
            if i.write {
                pte |= D;
            }
            pte & D != 0
        };
        let host = i.host_base.wrapping_add(frame) & 0xffff_f000;
        let (writable, user) = if write_ok {
            (dirty, user_ok)
        } else if i.write {
            // A supervisor write allowed only because CR0.WP is clear.
            (true, false)
        } else {
            (false, user_ok)
        };
        let mut shadow = host | P | A;
        if writable {
            shadow |= RW | D;
        }
        if user {
            shadow |= US;
        }
        FillResult::Fill {
            shadow_pte: shadow,
            guest_pde: pde,
            guest_pte: pte,
        }
    }
}
