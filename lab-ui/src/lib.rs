//! vmlab's browser lab.
