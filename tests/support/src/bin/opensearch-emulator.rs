//! The OpenSearch emulator on its own, for curl, opensearch-py or a runbook by hand:
//!
//! `cargo run -p runbook-testsupport --bin opensearch-emulator -- [--port N]
//!  [--username U --password P] [--s3-endpoint URL]`
//!
//! prints the URL it listens on (one line) and serves until killed.

use std::io::Write;

use runbook_testsupport::opensearch::OpenSearchEmulator;

const USAGE: &str =
    "usage: opensearch-emulator [--port N] [--username U --password P] [--s3-endpoint URL]";

fn main() {
    let mut port: u16 = 9200;
    let mut username = "admin".to_string();
    let mut password = "admin".to_string();
    let mut s3_endpoint: Option<String> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next().unwrap_or_else(|| {
                eprintln!("{arg} needs a value\n{USAGE}");
                std::process::exit(2)
            })
        };
        match arg.as_str() {
            "--port" => {
                port = value().parse().unwrap_or_else(|e| {
                    eprintln!("--port: {e}\n{USAGE}");
                    std::process::exit(2)
                })
            }
            "--username" => username = value(),
            "--password" => password = value(),
            "--s3-endpoint" => s3_endpoint = Some(value()),
            "-h" | "--help" => {
                println!(
                    "{USAGE}\nDefaults: port 9200, admin/admin, an in-memory object store for s3 repositories."
                );
                return;
            }
            other => {
                eprintln!("unknown argument {other}\n{USAGE}");
                std::process::exit(2);
            }
        }
    }
    let os = OpenSearchEmulator::start_on(port, &username, &password);
    if let Some(endpoint) = &s3_endpoint {
        os.with(|c| c.use_s3(endpoint));
    }
    println!("{}", os.url());
    let _ = std::io::stdout().flush();
    loop {
        std::thread::park();
    }
}
