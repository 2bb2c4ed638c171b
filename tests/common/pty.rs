//! The `runbook` binary on a pseudo-terminal, as an operator's terminal runs it: its own session
//! with the terminal as controlling tty, so Ctrl-C typed at it is SIGINT from the line discipline,
//! exactly as from a keyboard.

use std::io::{Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The size of the pseudo-terminal.
pub const ROWS: u16 = 40;
pub const COLUMNS: u16 = 100;

pub struct Terminal {
    pub child: Child,
    master: std::fs::File,
    screen: Arc<Mutex<String>>,
}

impl Terminal {
    /// Start `command` with the slave side of a new pty as stdin, stdout and stderr.
    pub fn spawn(mut command: Command) -> Terminal {
        let (mut master, mut slave) = (0, 0);
        // A terminal of a known size, so what is drawn can be read back as a screen.
        let size = libc::winsize {
            ws_row: ROWS,
            ws_col: COLUMNS,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        let opened = unsafe {
            libc::openpty(
                &mut master,
                &mut slave,
                std::ptr::null_mut(),
                std::ptr::null(),
                &size,
            )
        };
        assert_eq!(opened, 0, "openpty");
        let slave = unsafe { OwnedFd::from_raw_fd(slave) };
        command
            .stdin(Stdio::from(slave.try_clone().unwrap()))
            .stdout(Stdio::from(slave.try_clone().unwrap()))
            .stderr(Stdio::from(slave));
        // SAFETY: async-signal-safe calls only, between fork and exec.
        unsafe {
            command.pre_exec(|| {
                if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command.spawn().expect("runbook starts on the pty");
        let master = unsafe { std::fs::File::from_raw_fd(master) };
        let screen = Arc::new(Mutex::new(String::new()));
        let mut reader = master.try_clone().unwrap();
        let seen = screen.clone();
        std::thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            while let Ok(n) = reader.read(&mut buffer) {
                if n == 0 {
                    break;
                }
                seen.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buffer[..n]));
            }
        });
        Terminal {
            child,
            master,
            screen,
        }
    }

    pub fn screen(&self) -> String {
        self.screen.lock().unwrap().clone()
    }

    pub fn wait_for(&self, text: &str, limit: Duration) {
        let start = Instant::now();
        while !self.screen().contains(text) {
            assert!(
                start.elapsed() < limit,
                "timed out waiting for {text:?} on the terminal:\n{}",
                self.screen()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Whether the terminal echoes control characters (`^C`): the settings a program leaves.
    #[allow(dead_code)]
    pub fn echoes_control_characters(&self) -> bool {
        use std::os::fd::AsRawFd;
        // SAFETY: tcgetattr into a termios we own, on the pty's master (Linux reports the pty's
        // settings there).
        unsafe {
            let mut settings: libc::termios = std::mem::zeroed();
            assert_eq!(libc::tcgetattr(self.master.as_raw_fd(), &mut settings), 0);
            settings.c_lflag & libc::ECHOCTL != 0
        }
    }

    /// Type keys, as bytes (`"\x03"` is Ctrl-C).
    pub fn type_keys(&mut self, keys: &str) {
        self.master.write_all(keys.as_bytes()).unwrap();
        self.master.flush().unwrap();
    }

    /// The exit code, waiting at most `limit`.
    pub fn exit_code(&mut self, limit: Duration) -> Option<i32> {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            if start.elapsed() > limit {
                let _ = self.child.kill();
                panic!("still running after {limit:?}:\n{}", self.screen());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
