//! `vmlab`: run guests, assemble, list labs and grade submissions.
fn main() {}
