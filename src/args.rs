//! The command line: subcommands, their arguments and options, as clap parses them.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::error::ParallelError;

#[derive(Debug, Parser)]
#[command(
    name = "runbook",
    version,
    about = "Validated, planned, checkpointed and resumable disaster-recovery runbooks."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

pub const DEFAULT_STATE_DIR: &str = ".runbook";

/// Where runs are recorded: only on the commands that read or write runs.
#[derive(Debug, Args, Clone)]
pub struct StateArgs {
    /// Where runs are recorded.
    #[arg(long, env = "RUNBOOK_STATE_DIR", default_value = DEFAULT_STATE_DIR)]
    pub state_dir: PathBuf,
}

/// The output form: only on the commands that print in both forms.
#[derive(Debug, Args, Clone, Copy)]
pub struct OutputArgs {
    /// `human` for people, `json` for machines (one JSON object per line).
    #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
    pub output: OutputFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Human,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check runbooks without contacting anything.
    #[command(after_help = concat!("Examples:\n  runbook validate runbooks/*/*.yaml\n  runbook validate runbooks/platform/restore-all.yaml --config-dir \"$CK8S_CONFIG_PATH\" --cluster sc\n\n", "Exit codes: 0 valid, 2 a problem was found (each at its file:line:column)."))]
    Validate {
        /// Runbook files (YAML) to check.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[command(flatten)]
        inputs: InputArgs,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Show what would run, rendered, with secrets masked. Contacts nothing.
    #[command(after_help = concat!("Examples:\n  runbook plan runbooks/velero/restore.yaml --config-dir \"$CK8S_CONFIG_PATH\" --cluster sc\n  runbook plan runbooks/examples/restore-drill.yaml --set 'databases=[a, b]'\n\n", "Exit codes: 0 planned, 2 invalid runbook or input."))]
    Plan {
        /// The runbook file (YAML).
        file: PathBuf,
        #[command(flatten)]
        inputs: InputArgs,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Run a runbook.
    #[command(after_help = concat!("Examples:\n  runbook run runbooks/examples/restore-drill.yaml --yes\n  runbook run runbooks/velero/restore.yaml --config-dir \"$CK8S_CONFIG_PATH\" --cluster sc --set 'namespaces=[monitoring]'\n  runbook run drill.yaml --parallel 1 --output json > events.jsonl\n\n", "Exit codes: 0 success, 1 a step failed (resumable), 2 invalid runbook or input, \
3 interrupted (resumable), 4 refused (lock held, confirmation missing, runbook changed), \
5 the run's state cannot be read or written, or is damaged."))]
    Run {
        /// The runbook file (YAML).
        file: PathBuf,
        #[command(flatten)]
        inputs: InputArgs,
        #[command(flatten)]
        exec: ExecArgs,
        #[command(flatten)]
        state: StateArgs,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Continue an interrupted or failed run where it stopped.
    #[command(after_help = concat!("Examples:\n  runbook resume 20261123-154401-a3f9\n  runbook resume 20261123-154401-a3f9 --rerun-interrupted\n  runbook resume 20261123-154401-a3f9 --skip drop-databases --yes\n\n", "Exit codes: 0 success, 1 a step failed (resumable), 2 invalid input or no such run, \
3 interrupted (resumable), 4 refused (lock held, confirmation missing, runbook changed, an interrupted \
step needs --rerun-interrupted or --skip, already finished), 5 the run's state cannot be read or written, or is damaged."))]
    Resume {
        /// The run to continue, as `run` printed it (`runbook status` lists them).
        run_id: String,
        #[command(flatten)]
        exec: ExecArgs,
        /// Run again the non-idempotent steps that were running when the run was interrupted.
        #[arg(long)]
        rerun_interrupted: bool,
        /// Run this step and everything after it again (repeatable).
        #[arg(long, value_name = "STEP")]
        from: Vec<String>,
        /// Record that this step was done by hand (repeatable).
        #[arg(long, value_name = "STEP")]
        skip: Vec<String>,
        /// Override inputs the run started with (config and secrets are always re-read).
        #[command(flatten)]
        inputs: InputArgs,
        #[command(flatten)]
        state: StateArgs,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// List runs, or show one run's steps with state and timings.
    #[command(after_help = concat!("Examples:\n  runbook status\n  runbook status 20261123-154401-a3f9 --output json\n\n", "Exit codes: 0 shown, 2 no such run, 5 the run's state cannot be read or is damaged (named with its file and line)."))]
    Status {
        /// One run to show step by step; without it, every run.
        run_id: Option<String>,
        #[command(flatten)]
        state: StateArgs,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Print the dependency graph.
    #[command(after_help = concat!("Examples:\n  runbook graph runbooks/platform/restore-all.yaml | dot -Tsvg > graph.svg\n  runbook graph runbooks/platform/restore-all.yaml --format mermaid\n\n", "Exit codes: 0 printed, 2 invalid runbook."))]
    Graph {
        /// The runbook file (YAML).
        file: PathBuf,
        #[arg(long, value_enum, default_value_t = GraphFormat::Dot)]
        format: GraphFormat,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Timings per step, the critical path and the total recovery time of a run.
    #[command(after_help = concat!("Examples:\n  runbook report 20261123-154401-a3f9\n  runbook report 20261123-154401-a3f9 --format junit > drill.xml\n\n", "Exit codes: 0 printed, 2 no such run or the runbook no longer loads, 5 the run's state cannot be read or is damaged."))]
    Report {
        /// The run to report on.
        run_id: String,
        #[arg(long, value_enum, default_value_t = ReportFormat::Md)]
        format: ReportFormat,
        #[command(flatten)]
        state: StateArgs,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Print the JSON Schema of the runbook format (for editors).
    #[command(
        after_help = "Examples:\n  runbook schema > runbook.schema.json\n  # VS Code YAML: \"yaml.schemas\": {\"runbook.schema.json\": \"runbooks/**/*.yaml\"}\n\nExit codes: 0 printed."
    )]
    Schema,
    /// Inspect the config a runbook would read.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Print a shell completion script.
    #[command(
        after_help = "Examples:\n  runbook completions bash > ~/.local/share/bash-completion/completions/runbook\n  runbook completions fish > ~/.config/fish/completions/runbook.fish\n\nExit codes: 0 printed."
    )]
    Completions {
        /// The shell to complete for.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff).
    #[command(
        after_help = "Examples:\n  runbook man > ~/.local/share/man/man1/runbook.1\n  runbook man | man -l -\n\nExit codes: 0 printed."
    )]
    Man,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// The merged config with the file each value came from, and the secrets by key, masked.
    #[command(
        after_help = "Examples:\n  runbook config show --config-dir \"$CK8S_CONFIG_PATH\" --cluster sc\n  runbook config show --config-dir ~/ck8s --cluster wc --output json\n\nExit codes: 0 shown, 2 the config or secrets cannot be read or decrypted."
    )]
    Show {
        #[command(flatten)]
        inputs: InputArgs,
        #[command(flatten)]
        output: OutputArgs,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    Dot,
    Mermaid,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Md,
    Json,
    Junit,
}

#[derive(Debug, Args, Default, Clone)]
pub struct InputArgs {
    /// A Compliant Kubernetes config directory.
    #[arg(long, env = "CK8S_CONFIG_PATH", value_name = "DIR")]
    pub config_dir: Option<PathBuf>,
    /// Which cluster's config to merge: `sc` (service cluster) or `wc` (workload cluster).
    #[arg(long, value_name = "sc|wc")]
    pub cluster: Option<String>,
    /// Set a param: `--set name=value` (the value is read as YAML: numbers, lists).
    #[arg(long = "set", value_name = "NAME=VALUE")]
    pub set: Vec<String>,
    /// A YAML file of params.
    #[arg(long, value_name = "FILE")]
    pub params: Option<PathBuf>,
    /// A YAML file of secrets (plain, or sops-encrypted).
    #[arg(long, value_name = "FILE")]
    pub secrets: Option<PathBuf>,
    /// A YAML file whose values override the runbook's `vars`.
    #[arg(long, value_name = "FILE")]
    pub vars: Option<PathBuf>,
}

#[derive(Debug, Args, Clone)]
pub struct ExecArgs {
    /// Confirm destructive steps and approvals without asking (for scripts).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// How many steps may run at once (at least 1).
    #[arg(long, default_value_t = 4, value_parser = at_least_one)]
    pub parallel: usize,
}

fn at_least_one(text: &str) -> Result<usize, ParallelError> {
    match text.parse::<usize>()? {
        0 => Err(ParallelError::Zero),
        n => Ok(n),
    }
}
