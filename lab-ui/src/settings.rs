//! The reader's display settings (theme and font size): kept in local storage and
//! applied to the page's root element as `data-theme` and the `--scale` variable.

use serde::{Deserialize, Serialize};

const SETTINGS_KEY: &str = "vmlab.settings";

/// The colour theme the reader chose.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Theme {
    /// Follows the system's `prefers-color-scheme`.
    #[default]
    System,
    /// Dark text on a light background.
    Light,
    /// Light text on a dark background.
    Dark,
}

impl Theme {
    /// Every choice, in menu order.
    pub const ALL: [Theme; 3] = [Theme::System, Theme::Light, Theme::Dark];

    /// The name the menu and local storage use.
    pub fn name(self) -> &'static str {
        match self {
            Theme::System => "system",
            Theme::Light => "light",
            Theme::Dark => "dark",
        }
    }

    /// The choice of this name.
    pub fn from_name(name: &str) -> Option<Theme> {
        Theme::ALL.into_iter().find(|t| t.name() == name)
    }

    /// `light` or `dark`: what the page shows when the system prefers dark or not.
    pub fn resolve(self, system_dark: bool) -> &'static str {
        match self {
            Theme::Light => "light",
            Theme::Dark => "dark",
            Theme::System if system_dark => "dark",
            Theme::System => "light",
        }
    }
}

/// The smallest and largest font size, in percent of the normal one.
pub const SCALE_RANGE: (u32, u32) = (70, 250);
/// How much A− and A+ change the font size, in percent.
pub const SCALE_STEP: u32 = 10;

/// Everything kept: theme and font size.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// The colour theme.
    pub theme: Theme,
    /// The font size in percent of the normal one.
    pub scale: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            theme: Theme::System,
            scale: 100,
        }
    }
}

impl Settings {
    /// Settings read from their JSON; anything unreadable gives the defaults, and a
    /// font size out of range is brought into it.
    pub fn from_json(json: &str) -> Settings {
        let s: Settings = serde_json::from_str(json).unwrap_or_default();
        s.with_scale(s.scale)
    }

    /// These settings with the font size `scale` percent, kept within [`SCALE_RANGE`].
    pub fn with_scale(self, scale: u32) -> Settings {
        Settings {
            scale: scale.clamp(SCALE_RANGE.0, SCALE_RANGE.1),
            ..self
        }
    }

    /// One step bigger (`up`) or smaller.
    pub fn step_scale(self, up: bool) -> Settings {
        let scale = if up {
            self.scale.saturating_add(SCALE_STEP)
        } else {
            self.scale.saturating_sub(SCALE_STEP)
        };
        self.with_scale(scale)
    }
}

fn local() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok()?
}

/// The settings from an earlier visit, or the defaults.
pub fn load() -> Settings {
    local()
        .and_then(|s| s.get_item(SETTINGS_KEY).ok()?)
        .map_or_else(Settings::default, |json| Settings::from_json(&json))
}

/// Keeps the settings for the next visit (best effort).
pub fn save(s: Settings) {
    if let (Some(store), Ok(json)) = (local(), serde_json::to_string(&s)) {
        let _ = store.set_item(SETTINGS_KEY, &json);
    }
}

/// The system's colour-scheme preference, which also reports its changes.
pub fn system_dark_query() -> Option<web_sys::MediaQueryList> {
    web_sys::window()?
        .match_media("(prefers-color-scheme: dark)")
        .ok()?
}

/// Applies the settings to the page's root element.
pub fn apply(s: Settings) {
    let dark = system_dark_query().is_some_and(|q| q.matches());
    let Some(root) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.document_element())
    else {
        return;
    };
    let _ = root.set_attribute("data-theme", s.theme.resolve(dark));
    let _ = root.set_attribute("data-theme-choice", s.theme.name());
    if let Some(el) = wasm_bindgen::JsCast::dyn_ref::<web_sys::HtmlElement>(&root) {
        let _ = el
            .style()
            .set_property("--scale", &format!("{}", f64::from(s.scale) / 100.0));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_round_trip_and_bad_input_gives_defaults() {
        let s = Settings {
            theme: Theme::Dark,
            scale: 130,
        };
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(json, r#"{"theme":"dark","scale":130}"#);
        assert_eq!(Settings::from_json(&json), s);
        assert_eq!(Settings::from_json("not json"), Settings::default());
        assert_eq!(
            Settings::from_json(r#"{"theme":"sepia"}"#),
            Settings::default()
        );
        let partial = Settings::from_json(r#"{"theme":"light"}"#);
        assert_eq!((partial.theme, partial.scale), (Theme::Light, 100));
        assert_eq!(
            Settings::from_json(r#"{"scale":9000}"#).scale,
            SCALE_RANGE.1
        );
        assert_eq!(Settings::from_json(r#"{"scale":1}"#).scale, SCALE_RANGE.0);
    }

    #[test]
    fn font_steps_stop_at_the_ends() {
        let mut s = Settings::default();
        for _ in 0..100 {
            s = s.step_scale(true);
        }
        assert_eq!(s.scale, SCALE_RANGE.1);
        for _ in 0..100 {
            s = s.step_scale(false);
        }
        assert_eq!(s.scale, SCALE_RANGE.0);
        assert_eq!(Settings::default().step_scale(true).scale, 110);
    }

    #[test]
    fn system_follows_the_preference_and_a_choice_overrides_it() {
        assert_eq!(Theme::System.resolve(true), "dark");
        assert_eq!(Theme::System.resolve(false), "light");
        assert_eq!(Theme::Light.resolve(true), "light");
        assert_eq!(Theme::Dark.resolve(false), "dark");
        for t in Theme::ALL {
            assert_eq!(Theme::from_name(t.name()), Some(t));
        }
    }
}
