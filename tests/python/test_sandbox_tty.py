"""An interactive session through `latchgate sandbox`, driven through a real
pseudo-terminal the way a user's terminal drives Claude Code's TUI: the
agent sees a terminal with the user's size, resizes arrive (SIGWINCH),
Ctrl-C is a SIGINT in cooked mode and a byte in raw mode, TIOCSTI is
refused, and the agent's exit code comes back."""
import fcntl
import os
import pty
import select
import socket
import struct
import subprocess
import tempfile
import termios
import time

from conftest import _bin

AGENT = r'''
import fcntl, os, signal, struct, sys, termios, tty
def size():
    return struct.unpack("hh", fcntl.ioctl(0, termios.TIOCGWINSZ, b"\0" * 4))
print("isatty", os.isatty(0), os.isatty(1), flush=True)
print("size %d %d" % size(), flush=True)
signal.signal(signal.SIGWINCH, lambda *a: print("winch %d %d" % size(), flush=True))
signal.signal(signal.SIGINT, lambda *a: print("sigint", flush=True))
print("ready", flush=True)
line = sys.stdin.readline()
print("line", line.strip(), flush=True)
tty.setraw(0)
ch = os.read(0, 1)
sys.stdout.write("raw %s\r\n" % ch.hex()); sys.stdout.flush()
try:
    fcntl.ioctl(0, termios.TIOCSTI, b"x")
    sys.stdout.write("tiocsti allowed\r\n")
except OSError as e:
    sys.stdout.write("tiocsti errno %d\r\n" % e.errno)
sys.stdout.flush()
sys.exit(3)
'''


class Term:
    def __init__(self, master):
        self.master = master
        self.seen = b""

    def expect(self, text, timeout=20):
        deadline = time.time() + timeout
        while text.encode() not in self.seen:
            left = deadline - time.time()
            assert left > 0, "did not see %r in %r" % (text, self.seen)
            r, _, _ = select.select([self.master], [], [], left)
            if r:
                try:
                    chunk = os.read(self.master, 4096)
                except OSError:
                    chunk = b""
                assert chunk, "terminal closed before %r; output: %r" % (text, self.seen)
                self.seen += chunk

    def send(self, data):
        os.write(self.master, data)


def test_interactive_terminal_session():
    d = tempfile.mkdtemp(prefix="lg-tty-")
    ws = os.path.join(d, "ws")
    os.mkdir(ws)
    with open(os.path.join(ws, "agent.py"), "w") as f:
        f.write(AGENT)
    with open(os.path.join(d, "none.toml"), "w") as f:
        f.write('data_dir = "%s/data"\n' % d)
    if os.geteuid() == 0:
        # Root-assisted mode runs the agent as the workspace's owner: a plain user.
        import pwd
        try:
            pw = pwd.getpwnam("latchgate-sbx")
        except KeyError:
            subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                            "latchgate-sbx"], check=True)
            pw = pwd.getpwnam("latchgate-sbx")
        os.chmod(d, 0o755)
        os.chown(ws, pw.pw_uid, pw.pw_gid)
    gate = socket.socket(socket.AF_UNIX)
    gate.bind(os.path.join(d, "gate.sock"))
    gate.listen()

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))

    def controlling_tty():
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    env = {"PATH": "/usr/bin:/bin", "TERM": "xterm", "LATCHGATE_CONFIG": os.path.join(d, "none.toml")}
    proc = subprocess.Popen(
        [_bin(), "sandbox", "--workspace", ws, "--gate-socket", os.path.join(d, "gate.sock"),
         "--", "/usr/bin/python3", "/workspace/agent.py"],
        stdin=slave, stdout=slave, stderr=slave, env=env,
        start_new_session=True, preexec_fn=controlling_tty,
    )
    os.close(slave)
    t = Term(master)
    try:
        t.expect("isatty True True")
        t.expect("size 24 80")
        t.expect("ready")
        # The user resizes the window: the agent hears of it.
        fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 100, 0, 0))
        t.expect("winch 40 100")
        # Ctrl-C in cooked mode: a SIGINT for the agent, not the end of latchgate.
        t.send(b"\x03")
        t.expect("sigint")
        t.send(b"hello\r")
        t.expect("line hello")
        # Raw mode (as a TUI): Ctrl-C arrives as the byte 0x03.
        time.sleep(0.3)
        t.send(b"\x03")
        t.expect("raw 03")
        t.expect("tiocsti errno 1")
        assert proc.wait(timeout=20) == 3
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
