//! Plays a host demo step by step and prints each step's claims and every figure.

fn main() {
    let id = std::env::args().nth(1).unwrap_or_default();
    let Some(d) = vmlab_hostlab::demo::find(&id) else {
        eprintln!("no host demo {id:?}");
        std::process::exit(2);
    };
    let mut lab = match vmlab_hostlab::demo::start(d) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    for (i, s) in d.steps().iter().enumerate() {
        let Some(h) = &s.host else { continue };
        if let Err(e) = vmlab_hostlab::demo::step(&mut lab, h) {
            eprintln!("step {}: {e}", i + 1);
            std::process::exit(1);
        }
        println!("== step {} ({}) at {} ms", i + 1, s.title, lab.now_ms());
        for c in vmlab_hostlab::demo::check(&lab, h) {
            println!(
                "  {} {} = {}",
                if c.holds { "ok  " } else { "FAIL" },
                c.figure,
                c.shown
            );
        }
        let r = lab.report();
        for n in vmlab_hostlab::figures::HOST_FIGURES {
            print!(
                " {n}={}",
                vmlab_hostlab::figures::figure(&lab, n)
                    .unwrap_or_default()
                    .0
            );
        }
        println!();
        for v in &r.vms {
            print!("  vm {}:", v.name);
            for f in vmlab_hostlab::figures::VM_FIGURES {
                let name = format!("vm.{}.{f}", v.name);
                print!(
                    " {f}={}",
                    vmlab_hostlab::figures::figure(&lab, &name)
                        .unwrap_or_default()
                        .0
                );
            }
            println!();
        }
    }
}
