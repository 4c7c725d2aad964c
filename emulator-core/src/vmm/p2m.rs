//! The physical-to-machine map: where a VM's guest-physical frames live in host memory.
//!
//! Under a VMM the guest's RAM is not at host address 0: guest frame `g` lives in
//! host frame `g + OFFSET_FRAMES`, and the host frames below hold the VMM's own
//! structures. The shadow tables, the nested table and the TLB hold host frames;
//! the guest's own tables, `Machine::translate` and the debugger stay
//! guest-physical. The machine's frame store holds the VM's frames, so a
//! host-physical access reaches it through [`guest_of`]. Bare, there is no VMM and
//! guest-physical is host-physical.

/// How many host frames lie below the guest's frame 0.
pub const OFFSET_FRAMES: u32 = 0x1_0000;

/// The same offset in bytes (256 MiB).
pub const OFFSET: u32 = OFFSET_FRAMES << 12;

/// The host-physical address of guest-physical `gpa`.
#[inline(always)]
pub const fn host_of(gpa: u32) -> u32 {
    gpa.wrapping_add(OFFSET)
}

/// The guest-physical address behind host-physical `hpa` (the inverse of [`host_of`]).
#[inline(always)]
pub const fn guest_of(hpa: u32) -> u32 {
    hpa.wrapping_sub(OFFSET)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_map_moves_every_frame_and_inverts() {
        for gpa in [0u32, 0x7c00, 0x0008_0000, 0x00ff_f000, 0xffff_f000] {
            assert_ne!(host_of(gpa), gpa);
            assert_eq!(guest_of(host_of(gpa)), gpa);
            assert_eq!(host_of(gpa) & 0xfff, gpa & 0xfff);
        }
    }
}
