//! While live progress is drawn, the terminal does not echo control characters: a Ctrl-C typed at
//! a full-width progress line would otherwise print `^C` on the line below, and the next redraw
//! would clear that line instead of the progress line, leaving a frozen spinner on the screen.
//! The settings found are put back when the command ends ([`restore`]).

use std::sync::Mutex;

static SAVED: Mutex<Option<libc::termios>> = Mutex::new(None);

/// Stop the terminal on stdin echoing `^C` and the like; typed answers are still echoed.
pub fn hide_control_characters() {
    // SAFETY: tcgetattr/tcsetattr on fd 0 with a termios we own; failure (not a terminal) is ignored.
    unsafe {
        if libc::isatty(0) != 1 {
            return;
        }
        let mut settings: libc::termios = std::mem::zeroed();
        if libc::tcgetattr(0, &mut settings) != 0 {
            return;
        }
        let mut saved = SAVED.lock().expect("terminal settings");
        if saved.is_none() {
            *saved = Some(settings);
        }
        settings.c_lflag &= !libc::ECHOCTL;
        libc::tcsetattr(0, libc::TCSANOW, &settings);
    }
}

/// Put back the terminal settings [`hide_control_characters`] changed, if it changed any.
pub fn restore() {
    if let Some(settings) = SAVED.lock().expect("terminal settings").take() {
        // SAFETY: the settings read from fd 0 by `hide_control_characters`.
        unsafe {
            libc::tcsetattr(0, libc::TCSANOW, &settings);
        }
    }
}
