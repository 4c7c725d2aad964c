//! vmlab's labs and the harness that runs their tests on the core.
