//! The devices panel's notification and interrupt picture for one virtio device: driver-to-device notifies, requests taken without a notify of their own, kicks a busy device let the driver skip, used-buffer interrupts raised and suppressed, and the requests each interrupt announced, as bars on one scale.

use yew::prelude::*;

use crate::protocol::VirtioView;

/// One bar: label, value, colour and what it means.
fn bar(label: &str, n: u64, max: u64, colour: &str, title: &str) -> Html {
    let width = if max == 0 {
        0.0
    } else {
        100.0 * n as f64 / max as f64
    };
    html! {
        <tr data-testid="virtio-counter" data-name={label.to_string()} data-value={n.to_string()} title={title.to_string()}>
            <td>{ label }</td>
            <td class="mono">{ n }</td>
            <td style="width: 60%">
                <span style={format!("display: inline-block; height: 0.8em; width: {width:.1}%; background: {colour}")}></span>
            </td>
        </tr>
    }
}

/// The counters of `v` as bars, with the requests per interrupt.
pub fn notifications(v: &VirtioView) -> Html {
    let requests: u64 = v.queues.iter().map(|q| q.completed).sum();
    let notifies: u64 = v.queues.iter().map(|q| q.notifies).sum();
    let (raised, suppressed) = v.interrupts;
    let (announced, unkicked) = v.coalescing;
    let max = requests.max(notifies).max(raised + suppressed).max(1);
    let per = if raised == 0 {
        "no interrupt raised".to_string()
    } else {
        format!(
            "{:.1} requests per interrupt",
            announced as f64 / raised as f64
        )
    };
    let event = if v.event_idx {
        "VIRTIO_F_RING_EVENT_IDX negotiated: used_event and avail_event decide"
    } else {
        "ring flags decide (AVAIL_F_NO_INTERRUPT)"
    };
    html! {
        <div class="virtio-irq" data-testid="virtio-notifications">
            <table class="small">
                <tbody>
                    { bar("requests completed", requests, max, "#888", "chains the device put on the used ring") }
                    { bar("notifies", notifies, max, "#3a7bd5", "driver → device: writes to the queue-notify register, each one exit under a VMM") }
                    { bar("unkicked requests", unkicked, max, "#7fb3ff", "requests the device took without a notify of their own (a batch)") }
                    { bar("kicks skipped", v.busy.0, max, "#5cb85c", "requests a busy device took off the ring while it asked for no notify (VIRTQ_USED_F_NO_NOTIFY or avail_event)") }
                    { bar("notifies while busy", v.busy.1, max, "#9b59b6", "notifies that came while the device was busy: a driver ignoring the suppression") }
                    { bar("interrupts raised", raised, max, "#d9534f", "device → driver: used-buffer interrupts on INTx") }
                    { bar("interrupts suppressed", suppressed, max, "#f0ad4e", "completions the driver asked not to be interrupted for") }
                </tbody>
            </table>
            <p class="small" data-testid="virtio-per-interrupt">{ format!("{per} · {event}{}", if v.busy.2 { " · device busy" } else { "" }) }</p>
        </div>
    }
}
