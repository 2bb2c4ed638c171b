//! `command`: run a program (`argv`, no shell) or a shell line (`shell`, by `sh -c`).

use std::collections::BTreeMap;
use std::process::Stdio;

use async_trait::async_trait;
use runbook_engine::kind::{Kind, StepContext, StepError, Templated};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

pub struct Command;

/// Captured output beyond this is cut (the tail is kept): outputs live in the journal.
const MAX_CAPTURE: usize = 1 << 20;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CommandInput {
    /// Program and arguments, run directly without a shell.
    pub argv: Option<Templated<Vec<Arg>>>,
    /// A shell command line, run by `sh -c`.
    pub shell: Option<String>,
    /// Environment variables added to the command's environment.
    #[serde(default)]
    pub env: BTreeMap<String, Arg>,
    /// Working directory (default: where `runbook` was started).
    pub cwd: Option<String>,
    /// Text written to the command's standard input.
    pub stdin: Option<String>,
}

/// A command-line argument: strings, numbers and booleans are all passed as text.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Arg {
    Text(String),
    Integer(i64),
    Number(f64),
    Flag(bool),
}

impl std::fmt::Display for Arg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Arg::Text(s) => f.write_str(s),
            Arg::Integer(i) => write!(f, "{i}"),
            Arg::Number(n) => write!(f, "{n}"),
            Arg::Flag(b) => write!(f, "{b}"),
        }
    }
}

#[async_trait]
impl Kind for Command {
    type Input = CommandInput;

    fn name(&self) -> &'static str {
        "command"
    }

    fn about(&self) -> &'static str {
        "Run a program (`argv`, no shell) or a shell line (`shell`); a non-zero exit fails the step. Outputs stdout, stderr, exit_code, and json when stdout is JSON."
    }

    fn outputs(&self) -> &'static [&'static str] {
        &["stdout", "stderr", "exit_code", "json"]
    }

    fn check(&self, input: &CommandInput) -> Vec<String> {
        match (&input.argv, &input.shell) {
            (Some(_), Some(_)) => vec!["`command` takes either `argv` or `shell`, not both".into()],
            (None, None) => {
                vec!["`command` needs `argv: [program, args...]` or `shell: \"a | b\"`".into()]
            }
            (Some(Templated::Value(a)), None) if a.is_empty() => {
                vec!["`argv` is empty; the first item is the program to run".into()]
            }
            _ => Vec::new(),
        }
    }

    fn describe(&self, input: &CommandInput) -> String {
        match (&input.argv, &input.shell) {
            (Some(Templated::Value(argv)), _) => argv
                .iter()
                .map(|a| quote(&a.to_string()))
                .collect::<Vec<_>>()
                .join(" "),
            (_, Some(shell)) => format!("sh -c {}", quote(shell)),
            _ => "run a command".into(),
        }
    }

    async fn run(&self, ctx: &StepContext, input: CommandInput) -> Result<Value, StepError> {
        let argv = input
            .argv
            .as_ref()
            .map(|a| a.rendered("argv"))
            .transpose()?;
        let mut command = match (argv, &input.shell) {
            (Some(argv), None) if !argv.is_empty() => {
                let mut c = tokio::process::Command::new(argv[0].to_string());
                c.args(argv[1..].iter().map(ToString::to_string));
                c
            }
            (None, Some(shell)) => {
                let mut c = tokio::process::Command::new("sh");
                c.arg("-c").arg(shell);
                c
            }
            _ => {
                return Err(StepError::permanent(
                    "`command` needs exactly one of `argv` or `shell`",
                ));
            }
        };
        command.envs(input.env.iter().map(|(k, v)| (k, v.to_string())));
        // Like a shell: relative paths are relative to where the operator started `runbook`.
        if let Some(dir) = &input.cwd {
            command.current_dir(dir);
        }
        command.stdin(if input.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        command.stdout(Stdio::piped()).stderr(Stdio::piped());
        // Its own process group: the terminal's Ctrl-C drains the run instead of killing the
        // command, and an abort can kill the whole group (a shell and what it started).
        command.process_group(0);
        command.kill_on_drop(true);
        let program = describe_program(argv, input.shell.as_deref());
        let mut child = command
            .spawn()
            .map_err(|e| StepError::permanent(format!("cannot start `{program}`: {e}")))?;
        let _group = GroupGuard(child.id());
        if let (Some(text), Some(mut stdin)) = (input.stdin, child.stdin.take()) {
            stdin
                .write_all(text.as_bytes())
                .await
                .map_err(|e| StepError::new(format!("writing stdin: {e}")))?;
        }
        let stdout = child.stdout.take().expect("piped");
        let stderr = child.stderr.take().expect("piped");
        let (out, err, status) = tokio::join!(
            capture(stdout, Some(ctx)),
            capture(stderr, None),
            child.wait()
        );
        let status = status.map_err(|e| StepError::new(format!("waiting for `{program}`: {e}")))?;
        let code = status.code().unwrap_or(-1);
        if !status.success() {
            let detail = last_lines(if err.trim().is_empty() { &out } else { &err }, 10);
            let how = match status.code() {
                Some(c) => format!("exited with code {c}"),
                None => "was killed by a signal".into(),
            };
            return Err(StepError::new(format!(
                "`{program}` {how}{}",
                if detail.is_empty() {
                    String::new()
                } else {
                    format!(":\n{detail}")
                }
            )));
        }
        let mut outputs = json!({"stdout": out, "stderr": err, "exit_code": code});
        if !out.trim().is_empty()
            && let Ok(parsed) = serde_json::from_str::<Value>(out.trim())
        {
            outputs["json"] = parsed;
        }
        Ok(outputs)
    }
}

fn describe_program(argv: Option<&Vec<Arg>>, shell: Option<&str>) -> String {
    match (argv, shell) {
        (Some(argv), _) => argv.first().map(ToString::to_string).unwrap_or_default(),
        (_, Some(shell)) => format!("sh -c {}", quote(&first_line(shell, 60))),
        _ => String::new(),
    }
}

/// A script's first line, cut to `max` characters, for error messages that must stay readable.
fn first_line(script: &str, max: usize) -> String {
    let line = script.trim().lines().next().unwrap_or_default();
    let more = script.trim().lines().count() > 1 || line.chars().count() > max;
    let cut: String = line.chars().take(max).collect();
    if more { format!("{cut}…") } else { cut }
}

/// Kills the command's process group if the step is dropped (aborted) while it runs.
struct GroupGuard(Option<u32>);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if let Some(pid) = self.0.and_then(|p| libc::pid_t::try_from(p).ok()) {
            // Harmless if the group is gone already (ESRCH).
            unsafe { libc::kill(-pid, libc::SIGKILL) };
        }
    }
}

/// Reads a stream to its end as bytes, whatever it holds, keeping the last [`MAX_CAPTURE`] bytes
/// (a command that prints gigabytes costs no more memory than one that prints a megabyte), and
/// turns them into text, invalid UTF-8 replaced by U+FFFD. Each complete line is also progress.
async fn capture(mut stream: impl AsyncRead + Unpin, progress: Option<&StepContext>) -> String {
    /// A progress line longer than this is shown cut.
    const MAX_LINE: usize = 4096;
    let mut kept: Vec<u8> = Vec::new();
    let mut total = 0usize;
    let mut line: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = match stream.read(&mut chunk).await {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        let bytes = &chunk[..n];
        total += n;
        kept.extend_from_slice(bytes);
        if kept.len() > MAX_CAPTURE * 2 {
            kept.drain(..kept.len() - MAX_CAPTURE);
        }
        if let Some(ctx) = progress {
            for piece in bytes.split_inclusive(|b| *b == b'\n') {
                if line.len() < MAX_LINE {
                    line.extend_from_slice(&piece[..piece.len().min(MAX_LINE - line.len())]);
                }
                if piece.ends_with(b"\n") {
                    let text = String::from_utf8_lossy(&line);
                    ctx.progress.message(text.trim_end().to_string());
                    line.clear();
                }
            }
        }
    }
    if total <= MAX_CAPTURE {
        return String::from_utf8_lossy(&kept).into_owned();
    }
    let mut tail = &kept[kept.len().saturating_sub(MAX_CAPTURE)..];
    // Start on a character, not inside one (UTF-8 continuation bytes are 0b10xxxxxx).
    while tail.first().is_some_and(|b| b & 0xC0 == 0x80) {
        tail = &tail[1..];
    }
    format!(
        "[... output cut to the last {} bytes of {total} ...]\n{}",
        tail.len(),
        String::from_utf8_lossy(tail)
    )
}

fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.trim_end().lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

fn quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::first_line;

    #[test]
    fn long_scripts_are_cut_to_their_first_line() {
        assert_eq!(first_line("echo hi", 60), "echo hi");
        assert_eq!(first_line("a=1\nb=2", 60), "a=1…");
        assert_eq!(
            first_line(&"x".repeat(70), 60),
            format!("{}…", "x".repeat(60))
        );
    }
}
