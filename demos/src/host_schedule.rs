//! A machine demo's host schedule: the top-level `host_slice`, `ple` and `cosched`
//! keys, a step's `host-schedule` that reruns the guest under another one, the
//! host-state names a CPU claim may use, and their checks.

use serde::Deserialize;

use super::Manifest;

/// The host states a CPU claim may name (`host = "descheduled"`).
pub const HOST_STATES: [&str; 3] = ["running", "descheduled", "spinning"];

/// A step's change of the host schedule (`host-schedule = { ple = true }`): it reruns
/// the guest from its start; a key left out keeps the demo's setting.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct HostScheduleSet {
    /// Instructions the host runs one vCPU before the next (0: none).
    pub slice: Option<u64>,
    /// Pause-loop exiting (hardware assistance).
    pub ple: Option<bool>,
    /// Co-scheduling (with a slice).
    pub cosched: Option<bool>,
}

/// A host schedule as the demo names it: slice, pause-loop exiting, co-scheduling.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct HostScheduleAt {
    /// Instructions the host runs one vCPU before the next (0: none).
    pub slice: u64,
    /// Pause-loop exiting.
    pub ple: bool,
    /// Co-scheduling.
    pub cosched: bool,
}

impl Manifest {
    /// The host schedule step `upto` runs under: the demo's keys, changed by every
    /// step up to it that sets `host-schedule`, in order.
    pub fn host_schedule_at(&self, upto: usize) -> HostScheduleAt {
        let mut s = HostScheduleAt {
            slice: self.host_slice.unwrap_or(0),
            ple: self.ple,
            cosched: self.cosched,
        };
        for set in self
            .steps
            .iter()
            .take(upto.saturating_add(1))
            .filter_map(|st| st.host_schedule)
        {
            s.slice = set.slice.unwrap_or(s.slice);
            s.ple = set.ple.unwrap_or(s.ple);
            s.cosched = set.cosched.unwrap_or(s.cosched);
        }
        s
    }

    /// Checks the host schedule of the demo and of each step against its mode and
    /// CPUs, and the host states its CPU claims name. The error names the key.
    pub(crate) fn validate_host_schedule(&self) -> Result<(), String> {
        let check = |key: &str, s: HostScheduleAt, mode: &str| -> Result<(), String> {
            let any = s.slice > 0 || s.ple || s.cosched;
            if any && mode == "bare" {
                return Err(format!(
                    "{key}: the demo runs in bare; a host schedule applies only under a VMM"
                ));
            }
            if any && self.cpu_count() < 2 {
                return Err(format!(
                    "{key}: the host schedules vCPUs; the machine has one (set cpus)"
                ));
            }
            if s.cosched && s.slice == 0 {
                return Err(format!("{key}: co-scheduling needs a host slice"));
            }
            if s.ple && !mode.starts_with("hw-assist") {
                return Err(format!(
                    "{key}: the step runs in {mode}; pause-loop exiting is hardware assistance's"
                ));
            }
            Ok(())
        };
        check("host_slice", self.host_schedule_at(0), &self.mode)?;
        for (i, st) in self.steps.iter().enumerate() {
            if st.host_schedule.is_some() {
                check(
                    &format!("step[{i}].host-schedule"),
                    self.host_schedule_at(i),
                    self.mode_at(i),
                )?;
            }
            for (j, c) in st.expect.cpus.iter().enumerate() {
                if let Some(h) = &c.host {
                    if !HOST_STATES.contains(&h.as_str()) {
                        return Err(format!(
                            "step[{i}].expect.cpus[{j}].host: {h:?} is not one of {}",
                            HOST_STATES.join(", ")
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GUEST: &str = "start:\n    hlt\n";

    fn manifest(top: &str, step: &str) -> Result<Manifest, String> {
        let m = Manifest::parse(&format!(
            "title = \"t\"\norder = 1\nguest = \"g.asm\"\n{top}\n[[step]]\ntitle = \"a\"\ntext = \"b\"\nfocus = [\"cpus\"]\n{step}\n"
        ))?;
        m.validate(GUEST)?;
        Ok(m)
    }

    #[test]
    fn the_schedule_holds_until_a_step_changes_it() {
        let m = manifest(
            "mode = \"hw-assist\"\ncpus = 4\nhost_slice = 5000",
            "[[step]]\ntitle = \"c\"\ntext = \"d\"\nfocus = [\"cpus\"]\nhost-schedule = { ple = true }\n\
             [[step]]\ntitle = \"e\"\ntext = \"f\"\nfocus = [\"cpus\"]\nhost-schedule = { ple = false, cosched = true }\n\
             [step.expect]\ncpus = [{ host = \"spinning\", spin = 3 }]",
        )
        .expect("valid");
        let at = |i| m.host_schedule_at(i);
        assert_eq!(
            at(0),
            HostScheduleAt {
                slice: 5000,
                ..HostScheduleAt::default()
            }
        );
        assert!(at(1).ple && !at(1).cosched && at(1).slice == 5000);
        assert!(!at(2).ple && at(2).cosched);
        assert_eq!(m.rerun_at(2), Some(2));
        assert_eq!(m.steps[2].expect.cpus[0].spin, Some(3));
    }

    #[test]
    fn a_schedule_the_machine_cannot_apply_is_refused_by_its_key() {
        for (top, step, want) in [
            (
                "mode = \"bare\"\ncpus = 4\nhost_slice = 10",
                "",
                "host_slice: the demo runs in bare",
            ),
            (
                "mode = \"hw-assist\"\nhost_slice = 10",
                "",
                "host_slice: the host schedules vCPUs; the machine has one",
            ),
            (
                "mode = \"hw-assist\"\ncpus = 2\ncosched = true",
                "",
                "host_slice: co-scheduling needs a host slice",
            ),
            (
                "mode = \"trap-emulate\"\ncpus = 2\nhost_slice = 10",
                "[[step]]\ntitle = \"c\"\ntext = \"d\"\nfocus = [\"cpus\"]\nhost-schedule = { ple = true }",
                "step[1].host-schedule: the step runs in trap-emulate; pause-loop exiting",
            ),
            (
                "mode = \"hw-assist\"\ncpus = 2",
                "[step.expect]\ncpus = [{ host = \"asleep\" }]",
                "step[0].expect.cpus[0].host: \"asleep\" is not one of",
            ),
        ] {
            let e = manifest(top, step).expect_err(want);
            assert!(e.starts_with(want), "{e}");
        }
        let e = manifest(
            "mode = \"hw-assist\"\ncpus = 2",
            "host-schedule = { slise = 1 }",
        )
        .expect_err("an unknown key");
        assert!(e.contains("unknown field `slise`"), "{e}");
    }
}
