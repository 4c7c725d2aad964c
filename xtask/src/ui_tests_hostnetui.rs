//! Browser tests of a host scenario's network: `two-vms-net` picked in the Host view, its network opened in the network panel and run to the end (both VMs in br0's MAC table, every port's counters non-zero, both consoles answered), then the same VMs behind NAT, with screenshots.

use crate::browser::Browser;
use crate::ui_tests::{count, js, open, select, tid, wait_text};
use crate::ui_tests_host::{press, show};
use anyhow::{ensure, Context, Result};

/// The received and sent packets of each port of br0, as the panel shows them.
fn br0_counters(b: &Browser) -> Result<Vec<(u64, u64)>> {
    let rows = js(
        b,
        "return [...document.querySelectorAll('[data-testid=net-ports-br0] tr[data-port]')]
            .map(r => [...r.querySelectorAll('td')].map(td => td.textContent));",
    )?;
    let mut out = Vec::new();
    for r in rows.as_array().context("the port rows")? {
        let cell = |i: usize| -> Result<u64> {
            r.get(i)
                .and_then(|v| v.as_str())
                .and_then(|s| s.trim().parse().ok())
                .with_context(|| format!("a port row's cell {i}: {r}"))
        };
        out.push((cell(1)?, cell(2)?));
    }
    Ok(out)
}

/// `two-vms-net` in the Host view, its network opened and run to the pings' end.
pub fn host_scenario_network(b: &Browser) -> Result<()> {
    open(b, "demo=fetch-decode-execute")?;
    select(b, "host-source", "scenario:two-vms-net")?;
    wait_text(b, "host-status", "two-vms-net")?;
    wait_text(b, "host-net-status", "switch br0 (bridge)")?;
    press(b, "host-open-net")?;
    wait_text(b, "net-status", "two-vms-net.toml: tick 0 of 600")?;
    ensure!(
        count(b, "[data-testid=net-topology-svg] g[data-node]")? == 3,
        "the picture shows a, b and br0"
    );
    press(b, "net-run-end")?;
    wait_text(b, "net-status", "tick 600 of 600")?;
    wait_text(b, "net-console-a", "4 sent, 4 answered")?;
    wait_text(b, "net-console-b", "4 sent, 4 answered")?;
    for mac in ["52:54:00:00:00:01", "52:54:00:00:00:02"] {
        ensure!(
            count(
                b,
                &format!("[data-testid=net-macs-br0] tr[data-mac='{mac}']")
            )? == 1,
            "br0 has learned {mac}"
        );
    }
    let ports = br0_counters(b)?;
    ensure!(ports.len() == 2, "one port per VM: {ports:?}");
    ensure!(
        ports.iter().all(|&(rx, tx)| rx > 0 && tx > 0),
        "every port carried packets: {ports:?}"
    );
    show(b, &tid("net-macs-part"))?;
    b.screenshot("lab-host-network-bridge")?;

    // the same VMs behind NAT: the gateway on a third port of br0
    select(b, "host-net-mode", "nat")?;
    wait_text(b, "host-net-status", "switch br0 (nat)")?;
    press(b, "host-open-net")?;
    wait_text(b, "net-status", "two-vms-net.toml: tick 0 of 600")?;
    press(b, "net-run-end")?;
    wait_text(b, "net-status", "tick 600 of 600")?;
    wait_text(b, "net-console-a", "4 sent, 4 answered")?;
    let ports = br0_counters(b)?;
    ensure!(ports.len() == 3, "two VMs and the NAT: {ports:?}");
    ensure!(
        ports.iter().all(|&(rx, tx)| rx > 0 && tx > 0),
        "every port carried packets: {ports:?}"
    );
    ensure!(
        count(
            b,
            "[data-testid=net-macs-br0] tr[data-mac='52:54:00:00:00:fe']"
        )? == 1,
        "br0 has learned the NAT's inside MAC"
    );
    show(b, &tid("net-ports-part"))?;
    b.screenshot("lab-host-network-nat")?;
    Ok(())
}
