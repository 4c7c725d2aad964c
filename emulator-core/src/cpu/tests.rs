//! Per-instruction and table-driven state tests.
