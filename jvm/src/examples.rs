//! The example programs embedded in the crate (`jvm/examples/*.class`, javac's output
//! of `jvm/java/`), as a class source the lab's demos and labs run.

use alloc::vec::Vec;

use crate::ClassSource;

/// Every embedded class file, by class name.
pub static FILES: &[(&str, &[u8])] = &[
    ("Garbage", include_bytes!("../examples/Garbage.class")),
    ("Node", include_bytes!("../examples/Node.class")),
    ("Tree", include_bytes!("../examples/Tree.class")),
    ("Shapes", include_bytes!("../examples/Shapes.class")),
    ("Shape", include_bytes!("../examples/Shape.class")),
    ("Base", include_bytes!("../examples/Base.class")),
    ("Rect", include_bytes!("../examples/Rect.class")),
    ("Square", include_bytes!("../examples/Square.class")),
    ("Circle", include_bytes!("../examples/Circle.class")),
    ("Switch", include_bytes!("../examples/Switch.class")),
    ("Loops", include_bytes!("../examples/Loops.class")),
    ("Hot", include_bytes!("../examples/Hot.class")),
];

/// The embedded classes that have a `main` method.
pub const MAINS: &[&str] = &["Garbage", "Shapes", "Switch", "Loops", "Hot"];

/// The embedded class files as a [`ClassSource`].
#[derive(Clone, Copy, Debug, Default)]
pub struct Examples;

impl ClassSource for Examples {
    fn load(&self, name: &str) -> Option<Vec<u8>> {
        FILES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, b)| b.to_vec())
    }
}

/// The embedded class source, borrowed for as long as a [`crate::Vm`] needs.
pub static EXAMPLES: Examples = Examples;
