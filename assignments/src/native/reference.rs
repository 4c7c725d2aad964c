//! The reference implementations component submissions are compared with: the labs'
//! own reference solutions, compiled into the native grader only.

#[path = "../../labs/shift-rotate/solution.rs"]
pub mod shift_rotate;

#[path = "../../labs/shadow-fill/solution.rs"]
pub mod shadow_fill;
