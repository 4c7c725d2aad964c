//! TOML text into typed values: the one deserialization path of vmlab's scenario, demo and lab files.

use serde::de::DeserializeOwned;

/// Parses `text` as TOML into a `T`.
///
/// Natively the typed deserializer reads the text itself, so the error for a wrong value
/// names its line. In the browser the text is read once into a table and `T` is built from
/// that ([`from_str_via_table`]): every file type then shares one TOML reader, which keeps
/// the lab's Wasm bundle small. The files the lab loads were checked by the native build.
pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, toml::de::Error> {
    #[cfg(target_arch = "wasm32")]
    {
        from_str_via_table(text)
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        toml::from_str(text)
    }
}

/// Parses `text` into a TOML table, then builds a `T` from the table. Syntax errors keep
/// their position; an error in a value says what is wrong but not on which line.
pub fn from_str_via_table<T: DeserializeOwned>(text: &str) -> Result<T, toml::de::Error> {
    let table: toml::Table = toml::from_str(text)?;
    T::deserialize(table)
}
