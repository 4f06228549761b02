//! Terminal echo control for reading a secret from a keyboard.

/// Turns echo off on stdin while alive, when stdin is a terminal; restores
/// the previous settings when dropped.
pub struct EchoOff {
    saved: Option<libc::termios>,
}

impl EchoOff {
    /// Disables echo on stdin if it is a terminal (otherwise does nothing).
    pub fn new() -> EchoOff {
        // SAFETY: isatty only inspects the descriptor.
        if unsafe { libc::isatty(libc::STDIN_FILENO) } != 1 {
            return EchoOff { saved: None };
        }
        // SAFETY: termios is plain data; zeroed is a valid value to be
        // overwritten by tcgetattr, whose return code is checked.
        let mut t: libc::termios = unsafe { std::mem::zeroed() };
        // SAFETY: `t` is a valid, writable termios for the duration of the call.
        if unsafe { libc::tcgetattr(libc::STDIN_FILENO, &mut t) } != 0 {
            return EchoOff { saved: None };
        }
        let saved = t;
        t.c_lflag &= !(libc::ECHO | libc::ECHONL);
        // SAFETY: `t` is a valid termios read from this terminal.
        if unsafe { libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &t) } != 0 {
            return EchoOff { saved: None };
        }
        EchoOff { saved: Some(saved) }
    }

    /// Whether stdin is a terminal (and echo was turned off).
    pub fn is_terminal(&self) -> bool {
        self.saved.is_some()
    }
}

impl Default for EchoOff {
    fn default() -> Self {
        EchoOff::new()
    }
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        if let Some(saved) = &self.saved {
            // SAFETY: restores settings previously read from this terminal.
            unsafe {
                libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, saved);
            }
        }
    }
}
