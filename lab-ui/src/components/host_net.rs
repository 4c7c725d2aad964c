//! A host scenario's network handed from the Host view to the network panel: the `[net]` section (or a chosen mode) turned into its network by `vmlab_host::net`, and the panel told to open it.

use std::cell::RefCell;

use gloo_events::EventListener;
use vmlab_host::net::{HostNet, NetMode};
use vmlab_host::scenario::Report;
use vmlab_host::scenario_file;

/// The window event that tells the network panel a host network waits for it.
const EVENT: &str = "vmlab-host-net";

thread_local! {
    static PENDING: RefCell<Option<(String, HostNet)>> = const { RefCell::new(None) };
}

/// The network of host scenario `file` (its `text`): its `[net]` section, with the
/// mode `over` in its place when one is chosen (`None` when the VMs are not
/// networked). With `follow_shares`, each machine's slice follows the VM's CPU
/// share in `report`, as `vmlab host` does.
pub fn network(
    file: &str,
    text: &str,
    over: Option<NetMode>,
    report: &Report,
) -> Result<Option<HostNet>, String> {
    let (_, net) = scenario_file::parse_networked(file, text, over).map_err(|e| e.to_string())?;
    Ok(net.map(|mut n| {
        if n.follow_shares {
            n.follow_shares(|name| {
                let vm = report.vms.iter().find(|v| v.name == name)?;
                Some(vm.cpu_share_permille)
            });
        }
        n
    }))
}

/// Hands `net` (of host scenario `file`) to the network panel and scrolls to it.
pub fn open(file: String, net: HostNet) {
    PENDING.with(|p| *p.borrow_mut() = Some((file, net)));
    let Some(w) = web_sys::window() else { return };
    if let Ok(e) = web_sys::Event::new(EVENT) {
        let _ = w.dispatch_event(&e);
    }
    if let Some(el) = w
        .document()
        .and_then(|d| d.get_element_by_id("panel-network"))
    {
        el.scroll_into_view();
    }
}

/// Calls `f` with each host network handed to the panel, while the listener lives.
pub fn listen(f: impl Fn(String, HostNet) + 'static) -> Option<EventListener> {
    let w = web_sys::window()?;
    Some(EventListener::new(&w, EVENT, move |_| {
        if let Some((file, net)) = PENDING.with(|p| p.borrow_mut().take()) {
            f(file, net);
        }
    }))
}
