//! `kube-emulator`: the Kubernetes emulator of test support as a standalone server, so kubectl
//! (or any client) can be pointed at it by hand.
//!
//! ```text
//! cargo run -p runbook-testsupport --bin kube-emulator -- --kubeconfig-out /tmp/emu.kubeconfig
//! KUBECONFIG=/tmp/emu.kubeconfig kubectl get namespaces
//! ```
//!
//! It serves on a free port of 127.0.0.1 with all controllers running, prints the URL and the
//! kubeconfig path, and stays up until it is killed.

use std::path::PathBuf;
use std::process::ExitCode;

use runbook_testsupport::kube::KubeEmulator;

const USAGE: &str = "usage: kube-emulator [--kubeconfig-out FILE]";

fn main() -> ExitCode {
    let mut kubeconfig_out: Option<PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--kubeconfig-out" => match args.next() {
                Some(path) => kubeconfig_out = Some(PathBuf::from(path)),
                None => {
                    eprintln!("--kubeconfig-out needs a file\n{USAGE}");
                    return ExitCode::from(2);
                }
            },
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            other => {
                eprintln!("unknown argument {other:?}\n{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    let k8s = KubeEmulator::start();
    let kubeconfig = match &kubeconfig_out {
        Some(path) => {
            if let Err(e) = std::fs::copy(k8s.kubeconfig_path(), path) {
                eprintln!("cannot write the kubeconfig to {}: {e}", path.display());
                return ExitCode::FAILURE;
            }
            path.clone()
        }
        None => k8s.kubeconfig_path().to_path_buf(),
    };
    println!("kube-emulator listening on {}", k8s.url());
    println!("kubeconfig: {}", kubeconfig.display());
    // The server runs on the emulator's own thread; this one only keeps the handle alive.
    loop {
        std::thread::park();
    }
}
