//! Browser tests of the network panel: a scenario with two machines run tick by tick with its topology, MAC table, flow table, port counters, last frames and consoles; a port's pcap downloaded (real pcap bytes); a machine opened in the lab's panels; and every network demo step by step with its claims, with screenshots.

use crate::browser::Browser;
use crate::ui_comfort::{download, CAPTURE_DOWNLOADS};
use crate::ui_tests::{count, js, open, reg, select, tid, wait_text};
use crate::ui_tests_host::{machine_in_panels, play_demos, press, show};
use anyhow::{ensure, Context, Result};

/// The vm-ping scenario run in ticks and to its end: the bridge learns both MACs,
/// the frames are decoded, both guests report every ping answered.
pub fn net_panel_scenario(b: &Browser) -> Result<()> {
    open(b, "demo=fetch-decode-execute")?;
    select(b, "net-source", "scenario:vm-ping")?;
    wait_text(b, "net-status", "tick 0 of 400")?;
    ensure!(
        count(b, "[data-testid=net-topology-svg] g[data-node]")? == 3,
        "the picture shows a, b and sw0"
    );
    ensure!(
        count(b, "[data-testid=net-macs-sw0] tr[data-mac]")? == 0,
        "nothing learned before the first tick"
    );
    press(b, "net-run-1")?;
    wait_text(b, "net-status", "tick 1 of 400")?;
    wait_text(b, "net-frame-list", "ARP who-has 10.0.0.2 tell 10.0.0.1")?;
    ensure!(
        count(b, "[data-testid=net-macs-sw0] tr[data-mac]")? == 2,
        "both MACs learned from the ARP exchange"
    );
    press(b, "net-run-10")?;
    wait_text(b, "net-status", "tick 11 of 400")?;
    wait_text(b, "net-frame-list", "ICMP echo reply")?;
    show(b, &tid("net-topology-part"))?;
    b.screenshot("lab-net-topology-macs")?;
    press(b, "net-run-end")?;
    wait_text(b, "net-status", "tick 400 of 400")?;
    wait_text(b, "net-console-a", "4 sent, 4 answered")?;
    wait_text(b, "net-console-b", "4 sent, 4 answered")?;
    let ports = b.text_testid("net-ports-sw0")?;
    ensure!(ports.contains("packets per port"), "{ports:?}");
    show(b, &tid("net-ports-part"))?;
    b.screenshot("lab-net-ports-consoles")?;
    Ok(())
}

/// A port's capture offered as a file: the bytes are a pcap file (its magic, the
/// 24-byte header and one record per frame the panel counts).
pub fn net_pcap_download(b: &Browser) -> Result<()> {
    open(b, "demo=fetch-decode-execute")?;
    js(b, CAPTURE_DOWNLOADS)?;
    select(b, "net-source", "scenario:vm-overlay")?;
    wait_text(b, "net-status", "tick 0 of 400")?;
    press(b, "net-run-end")?;
    wait_text(b, "net-status", "tick 400 of 400")?;
    press(b, "net-pcap-vtep1-1")?;
    let d = download(b, 0)?;
    ensure!(d["name"] == "vtep1-port1.pcap", "named {}", d["name"]);
    let bytes: Vec<u8> = d["bytes"]
        .as_array()
        .context("the download's bytes")?
        .iter()
        .filter_map(|v| v.as_u64().and_then(|x| u8::try_from(x).ok()))
        .collect();
    ensure!(
        bytes.get(..4) == Some(&[0xd4, 0xc3, 0xb2, 0xa1][..]),
        "pcap magic (little-endian), got {:?}",
        bytes.get(..4)
    );
    ensure!(
        bytes.get(20..24) == Some(&[1, 0, 0, 0][..]),
        "link type Ethernet"
    );
    // walk the records: 16-byte header with the captured length at 8..12
    let mut at = 24;
    let mut records = 0;
    while at + 16 <= bytes.len() {
        let len =
            u32::from_le_bytes([bytes[at + 8], bytes[at + 9], bytes[at + 10], bytes[at + 11]]);
        at += 16 + len as usize;
        records += 1;
    }
    ensure!(at == bytes.len(), "records end at the file's end");
    ensure!(records == 20, "ten VXLAN datagrams each way, got {records}");
    show(b, &tid("net-ports-part"))?;
    b.screenshot("lab-net-pcap-download")?;
    Ok(())
}

/// A machine of the network opened in the lab's panels: its registers show the
/// guest's state after the run.
pub fn net_vm_in_panels(b: &Browser) -> Result<()> {
    open(b, "demo=fetch-decode-execute")?;
    ensure!(reg(b, "icount")? == "0", "the demo starts fresh");
    select(b, "net-source", "scenario:vm-ping")?;
    press(b, "net-run-10")?;
    wait_text(b, "net-status", "tick 10 of 400")?;
    press(b, "net-open-vm-b")?;
    machine_in_panels(b, "lab-net-vm-in-panels")
}

/// Every network demo, step by step: its narration, its claims (all hold), the
/// parts it focuses, a screenshot of each step.
pub fn net_demos(b: &Browser) -> Result<()> {
    open(b, "demo=fetch-decode-execute")?;
    play_demos(b, "net", &["two-vms-ping", "vxlan-overlay", "flow-rule"])
}
