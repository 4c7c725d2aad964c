//! The lab's pictures, drawn as SVG from the views: the page walk, shadow paging,
//! the nested two-dimensional walk, the cost of virtualization and the shadow/nested
//! crossover. Each is a panel a demo step can focus (`walk`, `shadow`, `nested`,
//! `cost`, `crossover`).

pub mod cost;
pub mod crossover;
pub mod nested;
pub mod shadow;
pub mod svg;
pub mod walk;

use emulator_core::{ExecMode, GuestPaging};
use yew::prelude::*;

use super::{use_ctx, Ctx, Panel};

/// A picture's panel: the SVG, or `missing` when there is nothing to draw. Outside
/// a step that focuses it, a picture with nothing to draw is not shown at all.
fn picture_panel(
    ctx: &Ctx,
    id: &'static str,
    title: &'static str,
    hint: &'static str,
    svg: Option<String>,
    missing: &str,
) -> Html {
    let focused = matches!(crate::demos::focus_rank(&ctx.state, id), Some(Some(_)));
    match svg {
        None if !focused => Html::default(),
        None => html! {
            <Panel {id} {title} {hint} class="pic">
                <p class="pic-missing" data-testid="picture-missing">{ missing.to_string() }</p>
            </Panel>
        },
        Some(svg) => html! {
            <Panel {id} {title} {hint} class="pic">
                { Html::from_html_unchecked(AttrValue::from(svg)) }
            </Panel>
        },
    }
}

/// The page walk of the page-table panel's address, as a picture.
#[function_component(WalkPicture)]
pub fn walk_picture() -> Html {
    let ctx = use_ctx();
    let svg = ctx.state.view.as_ref().and_then(|v| {
        v.walk
            .as_ref()
            .and_then(|w| walk::picture(w, v.mode != ExecMode::Bare))
    });
    picture_panel(
        &ctx,
        "panel-walk",
        "Page walk",
        "The linear address's bit fields pick a directory entry and a table entry; the arrows light in the order the walk reads them.",
        svg,
        "No walk to draw: with paging on, walk an address in the page-table panel.",
    )
}

/// The guest's entries beside their shadows, with the faults.
#[function_component(ShadowPicture)]
pub fn shadow_picture() -> Html {
    let ctx = use_ctx();
    let svg = ctx.state.view.as_ref().and_then(|v| {
        let shadowed = matches!(
            v.mode,
            ExecMode::TrapEmulate { .. }
                | ExecMode::HwAssist {
                    paging: GuestPaging::Shadow
                }
        );
        let (guest, vmm) = (v.guest_tables.as_ref()?, v.vmm_tables.as_ref()?);
        let log: Vec<_> = ctx
            .state
            .log
            .read(|l| l.iter().filter(|e| e.page.is_some()).cloned().collect());
        shadowed.then(|| {
            shadow::picture(&shadow::rows(
                guest,
                vmm,
                v.walk.as_ref().map(|w| w.linear),
                &log,
            ))
        })
    });
    picture_panel(
        &ctx,
        "panel-shadow",
        "Shadow paging",
        "Each guest page: where the guest's tables put it, and where the shadow entry the MMU uses puts it in host memory. Hidden faults fill the shadow; true faults go to the guest.",
        svg,
        "No shadow tables: shadow paging runs under trap-emulate with the guest's paging on.",
    )
}

/// The two-dimensional walk of the page-table panel's address.
#[function_component(NestedPicture)]
pub fn nested_picture() -> Html {
    let ctx = use_ctx();
    let svg = ctx
        .state
        .view
        .as_ref()
        .and_then(|v| v.walk.as_ref()?.nested.as_ref().map(nested::picture));
    picture_panel(
        &ctx,
        "panel-nested",
        "Two-dimensional walk",
        "Under nested paging every guest table reference, and the data's address, goes through the nested table first.",
        svg,
        "No two-dimensional walk: under hw-assist with the guest's paging on, walk an address in the page-table panel.",
    )
}

/// The cost of virtualization: one bar per mode of the side-by-side run, or the
/// current run's bar.
#[function_component(CostPicture)]
pub fn cost_picture() -> Html {
    let ctx = use_ctx();
    let bars: Vec<cost::Bar> = match (&ctx.state.comparison, &ctx.state.view) {
        (Some(runs), _) => runs
            .iter()
            .map(|r| cost::bar(r.mode, &r.counters))
            .collect(),
        (None, Some(v))
            if v.counters.vmm.is_some()
                || crate::demos::focus_rank(&ctx.state, "panel-cost").is_some() =>
        {
            vec![cost::bar(v.mode, &v.counters)]
        }
        _ => Vec::new(),
    };
    let svg = (!bars.is_empty()).then(|| cost::picture(&bars));
    picture_panel(
        &ctx,
        "panel-cost",
        "Cost",
        "Cycles on one scale: the guest's own work (one per instruction) and what each kind of VM exit cost.",
        svg,
        "Nothing has run yet.",
    )
}

/// The exit cycles of each phase of the demo's guest, one bar per mode it ran in.
#[function_component(CrossoverPicture)]
pub fn crossover_picture() -> Html {
    let ctx = use_ctx();
    let names = ctx
        .state
        .demo
        .and_then(|(d, i)| d.steps().get(i))
        .map(|s| s.crossover.clone())
        .unwrap_or_default();
    let svg = ctx.state.crossover.as_ref().and_then(|runs| {
        let phases = crossover::phases(&names, runs);
        (!phases.is_empty()).then(|| crossover::picture(&phases))
    });
    picture_panel(
        &ctx,
        "panel-crossover",
        "Crossover",
        "VM-exit cycles of each phase of the guest, one bar per mode, on one scale: the lowest bar of a phase is the mode that pays least for it.",
        svg,
        "No crossover: a demo step that names the guest's phases runs it in each mode.",
    )
}
