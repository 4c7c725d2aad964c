//! The disk panel: attach a disk (built by vmlab, or image files the user picks), the
//! qcow2 mapping as a picture (L1 entries → L2 tables → guest clusters, by where their
//! bytes are), refcounts, and a click on a guest sector showing its cluster.

use yew::prelude::*;

use super::{use_ctx, Panel};
use crate::diskview::{ClusterView, Controller, DiskSource, DiskSpec, DiskView, Where};
use crate::protocol::Command;
use crate::state::Action;

/// Sectors the sector strip shows at most.
const STRIP: u64 = 512;

/// What a built disk gets: 64 sectors, 4 KiB clusters.
fn built(format: &str, controller: Controller) -> DiskSpec {
    DiskSpec {
        controller,
        source: DiskSource::Built {
            format: format.into(),
            sectors: 64,
            seed: 7,
            cluster_bits: 12,
            backing: format == "qcow2",
        },
        virtio_service: [0; 2],
    }
}

/// The disk panel.
#[function_component(Disk)]
pub fn disk() -> Html {
    let ctx = use_ctx();
    let controller = use_state(|| Controller::Ata);
    let backing = use_state(Vec::<(String, Vec<u8>)>::new);
    let selected = use_state(|| None::<u64>);
    let Some(view) = ctx.state.view.as_ref() else {
        return html! {};
    };
    let running = ctx.state.running();
    let attach = |format: &'static str| {
        let (send, c) = (ctx.send.clone(), *controller);
        Callback::from(move |_: MouseEvent| send.emit(Command::SetDisk(Some(built(format, c)))))
    };
    let on_controller = {
        let controller = controller.clone();
        Callback::from(move |e: Event| {
            let v = e
                .target_dyn_into::<web_sys::HtmlSelectElement>()
                .map(|s| s.value())
                .unwrap_or_default();
            if let Ok(c) = Controller::parse(&v) {
                controller.set(c);
            }
        })
    };
    let on_backing = {
        let backing = backing.clone();
        super::file_picker(&ctx, move |ctx, name, bytes| {
            let mut files = (*backing).clone();
            files.retain(|(n, _)| n != name);
            files.push((name.to_string(), bytes));
            backing.set(files);
            ctx.dispatch(Action::Status(format!("backing file {name} ready")));
        })
    };
    let on_image = {
        let (backing, c) = (backing.clone(), *controller);
        super::file_picker(&ctx, move |ctx, name, bytes| {
            ctx.dispatch(Action::Status(format!("attaching {name}…")));
            ctx.send.emit(Command::SetDisk(Some(DiskSpec {
                controller: c,
                source: DiskSource::Files {
                    name: name.to_string(),
                    bytes,
                    format: None,
                    backing: (*backing).clone(),
                },
                virtio_service: [0; 2],
            })));
        })
    };
    let on_snapshot = {
        let send = ctx.send.clone();
        let n = view.disks.first().map_or(0, |d| d.snapshots.len()) + 1;
        Callback::from(move |_: MouseEvent| send.emit(Command::DiskSnapshot(format!("snap{n}"))))
    };
    let qcow = view.disks.iter().any(|d| d.format == "qcow2");
    html! {
        <Panel id="panel-disk" title="Disk" hint="The machine's disk: where each guest sector's bytes are. A qcow2 image maps guest clusters through its L1 and L2 tables to host clusters; unallocated ones read from the backing file. Click a sector.">
            <div class="disk-attach" data-testid="disk-attach">
                <select aria-label="controller" data-testid="disk-controller" onchange={on_controller} disabled={running}>
                    <option value="ata" selected={*controller == Controller::Ata}>{"ATA (PIO)"}</option>
                    <option value="virtio" selected={*controller == Controller::Virtio}>{"virtio-blk"}</option>
                </select>
                <button data-testid="btn-disk-qcow2" onclick={attach("qcow2")} disabled={running}
                        title="an empty qcow2 overlay (vmlab's qcow2 writer) over a raw backing file">{"qcow2 overlay"}</button>
                <button data-testid="btn-disk-raw" onclick={attach("raw")} disabled={running}>{"raw disk"}</button>
                <label class="filebtn" title="a raw or qcow2 image file">{"Image…"}
                    <input type="file" data-testid="disk-file" aria-label="attach a disk image" onchange={on_image} disabled={running}/>
                </label>
                <label class="filebtn" title="pick the backing file before a qcow2 image that names it">{"Backing file…"}
                    <input type="file" data-testid="disk-backing-file" aria-label="a backing file" onchange={on_backing} disabled={running}/>
                </label>
                if !backing.is_empty() {
                    <span class="small">{ format!("backing: {}", backing.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", ")) }</span>
                }
                if qcow {
                    <button data-testid="btn-disk-snapshot" onclick={on_snapshot} disabled={running}>{"Snapshot"}</button>
                }
                if !view.disks.is_empty() {
                    <button data-testid="btn-disk-detach" onclick={ctx.send_on(Command::SetDisk(None))} disabled={running}>{"Detach"}</button>
                }
            </div>
            if view.disks.is_empty() {
                <p class="small" data-testid="disk-none">{"No disk: attach one (the guest restarts with it)."}</p>
            }
            { for view.disks.iter().map(|d| drive(d, &selected)) }
        </Panel>
    }
}

fn place_text(c: &ClusterView) -> String {
    let host = c
        .host
        .map(|h| format!("{h:#x}"))
        .unwrap_or_else(|| "—".into());
    match c.place {
        Where::Allocated if c.written => {
            format!("copied-on-write into this image at host offset {host}")
        }
        Where::Allocated => format!("in this image at host offset {host}"),
        Where::Backing => {
            format!("shared with the backing file (unallocated here), backing offset {host}")
        }
        Where::Zero => "reads as zeros (zero flag)".into(),
        Where::Unallocated => "unallocated: reads as zeros".into(),
        Where::Compressed => "compressed in this image".into(),
    }
}

fn cluster_cell(c: &ClusterView, fresh: bool) -> Html {
    let mut class = classes!("dcl", c.place.name());
    if c.written {
        class.push("cow");
    }
    if fresh {
        class.push("fresh");
    }
    let title = format!(
        "guest cluster {}: {}{}",
        c.guest,
        place_text(c),
        c.refcount
            .map(|r| format!(", refcount {r}"))
            .unwrap_or_default()
    );
    html! {
        <span class={class} title={title} data-testid="disk-cluster" data-place={c.place.name()}
              data-cluster={c.guest.to_string()}>{ c.guest }</span>
    }
}

/// L1 entries → L2 tables → guest clusters, one row per L1 entry.
fn mapping(d: &DiskView) -> Html {
    let rows = d.l1.iter().enumerate().map(|(i, l2)| {
        let cells = d
            .clusters
            .iter()
            .filter(|c| c.l1_index == i as u64)
            .map(|c| cluster_cell(c, d.fresh.contains(&c.guest)));
        let l2 = if *l2 == 0 {
            html! { <span class="dl2 none">{"no L2 table"}</span> }
        } else {
            html! { <span class="dl2">{ format!("L2 @{l2:#x}") }</span> }
        };
        html! {
            <div class="dmap-row" data-testid="disk-l1-entry">
                <span class="dl1">{ format!("L1[{i}]") }</span><span class="darrow">{"→"}</span>{ l2 }
                <span class="darrow">{"→"}</span><span class="dclusters">{ for cells }</span>
            </div>
        }
    });
    let legend = [
        Where::Allocated,
        Where::Backing,
        Where::Unallocated,
        Where::Zero,
    ]
    .map(|w| html! { <span class={classes!("dcl", w.name())}>{ w.name() }</span> });
    html! {
        <div class="dmap" data-testid="disk-mapping">
            <p class="small">{ for legend }<span class="dcl allocated cow">{"copied-on-write"}</span></p>
            { for rows }
        </div>
    }
}

fn sector_strip(d: &DiskView, selected: &UseStateHandle<Option<u64>>) -> Html {
    let per = (d.cluster_size / 512).max(1);
    let cells = (0..d.sectors.min(STRIP)).map(|s| {
        let place = d.cluster_of(s).map_or("raw", |c| c.place.name());
        let mut class = classes!("dsec", place);
        if d.written.binary_search(&s).is_ok() {
            class.push("written");
        }
        if **selected == Some(s) {
            class.push("sel");
        }
        if d.fresh.contains(&(s / per)) {
            class.push("fresh");
        }
        let sel = selected.clone();
        html! {
            <span class={class} data-testid="disk-sector" data-sector={s.to_string()}
                  title={format!("sector {s}")} onclick={Callback::from(move |_| sel.set(Some(s)))}></span>
        }
    });
    html! { <div class="dstrip" data-testid="disk-sectors">{ for cells }</div> }
}

fn sector_detail(d: &DiskView, s: u64) -> Html {
    let text = match d.cluster_of(s) {
        Some(c) => format!(
            "sector {s}: guest cluster {} ({} bytes) · L1[{}] → L2 {} [{}] · {}{}",
            c.guest,
            d.cluster_size,
            c.l1_index,
            if c.l2_table == 0 {
                "none".to_string()
            } else {
                format!("@{:#x}", c.l2_table)
            },
            c.l2_index,
            place_text(c),
            c.refcount
                .map(|r| format!(" · refcount {r}"))
                .unwrap_or_default()
        ),
        None => format!(
            "sector {s}: host offset {:#x} in the raw image · {}",
            s * 512,
            if d.written.binary_search(&s).is_ok() {
                "written by the guest"
            } else {
                "not written"
            }
        ),
    };
    html! { <p class="mono small" data-testid="disk-sector-detail">{ text }</p> }
}

fn drive(d: &DiskView, selected: &UseStateHandle<Option<u64>>) -> Html {
    let refcounts = d.refcounts.iter().map(|(h, n)| {
        let class = if *n >= 2 { "chip shared" } else { "chip" };
        html! { <span class={class} data-testid="disk-refcount">{ format!("{h:#x}: {n}") }</span> }
    });
    html! {
        <section class="drive" data-testid="disk-drive" data-controller={d.controller.clone()}>
            <h4>{ format!("{} · {}", d.controller, d.describe) }</h4>
            <p class="small" data-testid="disk-counts">{ format!(
                "{} sectors read, {} written by the guest · {} KiB clusters",
                d.sectors_read, d.sectors_written, d.cluster_size / 1024
            ) }
            if !d.snapshots.is_empty() { { format!(" · snapshots: {}", d.snapshots.join(", ")) } }
            </p>
            if let Some(e) = &d.error { <p class="error" data-testid="disk-error">{ e.clone() }</p> }
            if d.format == "qcow2" {
                { mapping(d) }
                <p class="small" data-testid="disk-refcounts">{"refcounts (host cluster: references) "}{ for refcounts }</p>
            }
            { sector_strip(d, selected) }
            if let Some(s) = **selected { { sector_detail(d, s) } }
        </section>
    }
}
