//! `cargo xtask serve | test | bench`.
fn main() {}
