//! The score and test list of one run of a component lab's visible tests, which the lab pages show for the reference and the starter side by side.

use assignments::TestOutcome;
use yew::prelude::*;

/// The scores of one run of the visible tests under `testid` (`TESTID-score` holds
/// `TITLE: total / max`), each test an item marked `item_testid`.
pub fn results(testid: &str, item_testid: &str, title: &str, rs: &[TestOutcome]) -> Html {
    let total: f64 = rs.iter().map(|r| r.score).sum();
    let max: f64 = rs.iter().map(|r| r.max_score).sum();
    html! {
        <div data-testid={testid.to_string()}>
            <p data-testid={format!("{testid}-score")}><strong>{ format!("{title}: {total} / {max}") }</strong></p>
            <ul class="lab-tests">
                { for rs.iter().map(|r| html! {
                    <li class={if r.passed { "pass" } else { "fail" }} data-testid={item_testid.to_string()} data-passed={r.passed.to_string()}>
                        <strong>{ if r.passed { "✔ " } else { "✖ " } }{ r.name.clone() }</strong>
                        { format!(" ({}/{}) ", r.score, r.max_score) }
                        if !r.message.is_empty() { <pre class="test-message">{ r.message.clone() }</pre> }
                    </li>
                }) }
            </ul>
        </div>
    }
}
