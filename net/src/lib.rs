//! vmlab's virtual network between machines: frames, a switch with a learning bridge and a flow table, NAT, a VXLAN overlay, endpoint stubs, ports for real machines and pcap capture.
#![no_std]

extern crate alloc;
#[cfg(feature = "scenario-file")]
extern crate std;

pub mod bridge;
pub mod endpoint;
pub mod flow;
pub mod nat;
pub mod network;
pub mod pcap;
pub mod scenario;
#[cfg(feature = "scenario-file")]
pub mod scenario_file;
pub mod switch;
#[cfg(feature = "scenario-file")]
pub mod toml_de;
pub mod vmport;
pub mod vxlan;
pub mod wire;

pub use wire::{Ipv4Addr, MacAddr};
