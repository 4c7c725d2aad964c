//! Enums written and read by one name each: `Display`, `FromStr` and serde from a type's
//! `ALL` list and `name()`, so a value has the same spelling in JSON, TOML, URLs and on
//! the command line.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// A name that is none of a type's names.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct UnknownName {
    /// What was being named (`mode`, `entry`, `exit reason`).
    pub what: &'static str,
    /// The name given.
    pub name: String,
    /// The names there are.
    pub expected: Vec<&'static str>,
}

impl fmt::Display for UnknownName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown {} {:?}: expected ", self.what, self.name)?;
        for (i, n) in self.expected.iter().enumerate() {
            let sep = match i {
                0 => "",
                _ if i + 1 == self.expected.len() => " or ",
                _ => ", ",
            };
            write!(f, "{sep}{n}")?;
        }
        Ok(())
    }
}

impl core::error::Error for UnknownName {}

/// Implements `Display` as `$t::name()`, `FromStr` over `$t::ALL` (also accepting
/// `$t::alias()` where given), and serde through both. `$what` names the type in the
/// error.
macro_rules! by_name {
    ($t:ty, $what:literal $(, alias = $alias:path)?) => {
        impl core::fmt::Display for $t {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str(self.name())
            }
        }

        impl core::str::FromStr for $t {
            type Err = $crate::named::UnknownName;

            fn from_str(s: &str) -> Result<$t, $crate::named::UnknownName> {
                <$t>::ALL
                    .into_iter()
                    .find(|v| v.name() == s $(|| $alias(*v) == s)?)
                    .ok_or_else(|| $crate::named::UnknownName {
                        what: $what,
                        name: alloc::string::String::from(s),
                        expected: <$t>::ALL.into_iter().map(<$t>::name).collect(),
                    })
            }
        }

        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.name())
            }
        }

        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<$t, D::Error> {
                let name = <alloc::string::String as serde::Deserialize>::deserialize(d)?;
                name.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

pub(crate) use by_name;
