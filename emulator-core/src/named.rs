//! Serde for the enums that are written and read by their one name (`name()` / `FromStr`).

/// Implements `Serialize` as `$t::name()` and `Deserialize` through `$t`'s `FromStr`, so a
/// value has the same spelling in JSON, TOML, URLs and on the command line.
macro_rules! serde_by_name {
    ($t:ty) => {
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

pub(crate) use serde_by_name;
