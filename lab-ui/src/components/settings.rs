//! The toolbar's display controls: the theme menu and the font size (A− / A+).

use web_sys::HtmlSelectElement;
use yew::prelude::*;

use crate::settings::{self, Settings, Theme, SCALE_RANGE};

/// The theme menu and the font-size buttons; each change is applied and kept.
#[function_component(DisplaySettings)]
pub fn display_settings() -> Html {
    let current = use_state(settings::load);
    let set = {
        let current = current.clone();
        Callback::from(move |s: Settings| {
            settings::apply(s);
            settings::save(s);
            current.set(s);
        })
    };
    // A page that follows the system changes theme when the system does.
    use_effect_with(*current, move |s| {
        let s = *s;
        let listener = settings::system_dark_query()
            .map(|q| gloo_events::EventListener::new(&q, "change", move |_| settings::apply(s)));
        move || drop(listener)
    });
    let theme_ref = use_node_ref();
    let on_theme = {
        let set = set.clone();
        let current = *current;
        let r = theme_ref.clone();
        Callback::from(move |_: Event| {
            let v = r
                .cast::<HtmlSelectElement>()
                .map(|s| s.value())
                .unwrap_or_default();
            if let Some(theme) = Theme::from_name(&v) {
                set.emit(Settings { theme, ..current });
            }
        })
    };
    let step = |up: bool| {
        let set = set.clone();
        let current = *current;
        Callback::from(move |_: MouseEvent| set.emit(current.step_scale(up)))
    };
    let s = *current;
    html! {
        <span class="display-settings" data-testid="display-settings">
            <label>{"theme "}
                <select ref={theme_ref} onchange={on_theme} data-testid="theme-select" aria-label="colour theme">
                    { for Theme::ALL.iter().map(|t| html! {
                        <option value={t.name()} selected={*t == s.theme}>{ t.name() }</option>
                    }) }
                </select>
            </label>
            <span role="group" aria-label="font size">
                <button data-testid="btn-font-smaller" title="smaller text" aria-label="A− smaller text"
                        onclick={step(false)} disabled={s.scale <= SCALE_RANGE.0}>{"A−"}</button>
                <span class="small" data-testid="font-scale" aria-live="polite">{ format!(" {}% ", s.scale) }</span>
                <button data-testid="btn-font-larger" title="larger text" aria-label="A+ larger text"
                        onclick={step(true)} disabled={s.scale >= SCALE_RANGE.1}>{"A+"}</button>
            </span>
        </span>
    }
}
