//! The guests a network scenario in the lab may run (`guests/net/*.asm`, embedded), found by the path the scenario names and assembled with their defines and the shared includes.

use vmlab_net::scenario::Scenario;

/// The guests a scenario may name, by their path under `guests/` (their text is
/// [`vmlab_demos::guest`]'s).
static GUESTS: [&str; 1] = ["net/peer.asm"];

/// The source of the guest a scenario names as `path` (relative to the scenario, so
/// `../../guests/net/peer.asm` from a demo folder): the embedded guest whose path
/// under `guests/` it ends with.
pub fn source(path: &str) -> Option<&'static str> {
    let under = path.rsplit_once("guests/").map(|(_, p)| p)?;
    GUESTS
        .iter()
        .find(|p| **p == under)
        .and_then(|p| vmlab_demos::guest(p))
}

/// Assembles `source` (named `name` in messages) with `defines` (`NAME` or
/// `NAME=VALUE`); `%include "NAME"` reads the shared include `guests/include/NAME`.
pub fn assemble(name: &str, source: &str, defines: &[String]) -> Result<Vec<u8>, String> {
    let include = |file: &str| vmlab_demos::include(file).map(str::to_string);
    let options = vmlab_asm::Options {
        include: Some(&include),
        defines: defines.iter().map(|d| vmlab_asm::parse_define(d)).collect(),
        ..vmlab_asm::Options::default()
    };
    vmlab_asm::assemble(name, source, &options)
        .map(|o| o.bytes)
        .map_err(|e| e.to_string().trim_end().to_string())
}

/// Every machine's image, in the scenario's order; an error names `vm[I].guest`.
pub fn images(scenario: &Scenario) -> Result<Vec<Vec<u8>>, String> {
    scenario
        .vms
        .iter()
        .enumerate()
        .map(|(i, vm)| {
            let src = source(&vm.guest).ok_or_else(|| {
                format!(
                    "vm[{i}].guest: {:?} is not one of the lab's guests ({})",
                    vm.guest,
                    GUESTS.map(|p| format!("guests/{p}")).join(", ")
                )
            })?;
            assemble(&vm.guest, src, &vm.guest_defines()).map_err(|e| format!("vm[{i}].guest: {e}"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guests_are_found_by_their_path_under_guests() {
        assert!(source("../../guests/net/peer.asm").is_some_and(|s| s.contains("virtio")));
        assert_eq!(source("peer.asm"), None);
        assert_eq!(source("../../guests/net/nope.asm"), None);
    }

    #[test]
    fn defines_reach_the_guest_and_errors_name_the_line() {
        let src = "bits 32\norg 0x10000\ndb ME\n";
        assert_eq!(assemble("x.asm", src, &["ME=7".into()]), Ok(vec![7]));
        let e = assemble("x.asm", "bits 32\nfrobnicate eax\n", &[]).unwrap_err();
        assert!(e.contains('2'), "{e}");
    }
}
