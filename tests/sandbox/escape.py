#!/usr/bin/python3
"""Escape attempts, run INSIDE `latchgate sandbox` by tests/sandbox_run.rs.

Every attempt must be refused. Each one is harmless if the sandbox were
broken (CI runs as root on a real machine): writes create new, uniquely
named files the test then looks for and removes; ptrace uses SEIZE (never
stops anything) and detaches; sockets and kernel objects are closed at once.

Prints one JSON line per check: {"check": NAME, "ok": true|false, "detail": ...}.
"ok" means "refused as it must be" (or, for state checks, "as expected").

argv: MARKER HOST_FILE HOST_TCP_PORT HOST_IP LANDLOCK_ABI
"""
import ctypes
import errno
import json
import os
import socket
import subprocess
import sys

MARKER, HOST_FILE, HOST_PORT, HOST_IP, LANDLOCK_ABI = sys.argv[1:6]
HOST_PORT = int(HOST_PORT)
LANDLOCK_ABI = int(LANDLOCK_ABI)
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long


def report(name, ok, detail=""):
    print(json.dumps({"check": name, "ok": bool(ok), "detail": str(detail)}), flush=True)


def refused(name, fn):
    """fn() must raise (or return a failure); success is an escape."""
    try:
        result = fn()
    except Exception as e:  # the refusal we want
        report(name, True, repr(e))
        return
    report(name, False, "succeeded: %r" % (result,))


def run(argv, **kw):
    p = subprocess.run(argv, capture_output=True, text=True, timeout=20, **kw)
    if p.returncode == 0:
        return p.stdout.strip()[:200]
    raise RuntimeError("exit %d: %s" % (p.returncode, p.stderr.strip()[:200]))


def sys_errno(nr, *args):
    """A raw syscall; returns errno (0 on success, after closing any fd)."""
    ctypes.set_errno(0)
    r = libc.syscall(ctypes.c_long(nr), *[ctypes.c_long(a) for a in args])
    if r >= 0:
        if r > 2 and nr in (321, 425):  # fds from bpf, io_uring_setup
            os.close(r)
        return 0
    return ctypes.get_errno()


def must_fail_errno(name, nr, *args):
    e = sys_errno(nr, *args)
    report(name, e != 0, "errno %d (%s)" % (e, errno.errorcode.get(e, "?")) if e else "succeeded")


# --- state -----------------------------------------------------------------
status = dict(
    line.split(":", 1) for line in open("/proc/self/status").read().splitlines() if ":" in line
)
for key in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
    v = status.get(key, "").strip()
    report("status " + key + " is 0", v == "0000000000000000", v)
report("status NoNewPrivs is 1", status.get("NoNewPrivs", "").strip() == "1", status.get("NoNewPrivs"))
report("status Seccomp is 2", status.get("Seccomp", "").strip() == "2", status.get("Seccomp"))
report("uid is not root", os.getuid() != 0 and os.geteuid() != 0, os.getuid())
report("HOME is /workspace", os.environ.get("HOME") == "/workspace", os.environ.get("HOME"))
report("host variable not passed", "LG_HOST_MARKER" not in os.environ, sorted(os.environ))

# --- network ---------------------------------------------------------------
def tcp(host, port):
    s = socket.create_connection((host, port), timeout=3)
    s.close()
    return "connected"

refused("tcp to an outside address (python)", lambda: tcp("1.1.1.1", 80))
refused("tcp to the host's address (python)", lambda: tcp(HOST_IP, HOST_PORT))
refused("tcp to a host loopback service (python)", lambda: tcp("127.0.0.1", HOST_PORT))
refused("tcp to an outside address (curl)", lambda: run(["curl", "-sS", "--noproxy", "*", "-m", "5", "http://1.1.1.1/"]))
refused("tcp to the host's address (curl)", lambda: run(["curl", "-sS", "--noproxy", "*", "-m", "5", "http://%s:%d/" % (HOST_IP, HOST_PORT)]))
refused("tcp to an outside address (bash /dev/tcp)", lambda: run(["bash", "-c", "exec 3<>/dev/tcp/1.1.1.1/80"]))
refused("tcp to the host's address (bash /dev/tcp)", lambda: run(["bash", "-c", "exec 3<>/dev/tcp/%s/%d" % (HOST_IP, HOST_PORT)]))


def udp():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    s.sendto(b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07example\x03com\x00\x00\x01\x00\x01", ("1.1.1.1", 53))
    return s.recvfrom(512)

refused("udp to an outside address", udp)
refused("dns lookup (getaddrinfo)", lambda: socket.getaddrinfo("example.com", 443))
refused("dns lookup (getent)", lambda: run(["getent", "hosts", "example.com"]))
refused("raw socket", lambda: socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP).close())
refused("packet socket", lambda: socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0).close())
if LANDLOCK_ABI >= 4:
    # Loopback is private to the sandbox; Landlock still allows only the forwarder port.
    def loopback_other_port():
        try:
            tcp("127.0.0.1", 9)
        except OSError as e:
            if e.errno == errno.EACCES:
                raise
            return "errno %s, not EACCES: Landlock did not refuse it" % e.errno
        return "connected"
    refused("tcp to another loopback port (Landlock)", loopback_other_port)

    def bind_tcp():
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", 0))
            s.listen()
            return "listening on %d" % s.getsockname()[1]
        finally:
            s.close()
    refused("tcp bind (Landlock)", bind_tcp)
def denied_connect():
    port = int(os.environ["HTTPS_PROXY"].rsplit(":", 1)[1])
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n")
    try:
        data = s.recv(100)
    except ConnectionResetError:
        raise
    finally:
        s.close()
    return "answered %r instead of a reset" % data

refused("CONNECT to a denied host gets a TCP reset", denied_connect)
report("forwarder reachable", tcp("127.0.0.1", int(os.environ["HTTPS_PROXY"].rsplit(":", 1)[1])) == "connected")


def gate():
    s = socket.socket(socket.AF_UNIX)
    s.connect("/run/latchgate/gate.sock")
    s.close()
    return True
report("gate socket reachable", gate())

# --- files -----------------------------------------------------------------
refused("read /etc/shadow", lambda: open("/etc/shadow").read())
refused("read the host home (/root)", lambda: os.listdir("/root"))
refused("read the host home (/home)", lambda: os.listdir("/home"))
refused("read a host file outside the workspace", lambda: open(HOST_FILE).read())


def create(path):
    with open(path, "x") as f:
        f.write(MARKER)
    return path

for d in ("/etc", "/usr", "/usr/local/bin", "/", "/run/latchgate", "/run", "/var", "/opt", "/proc/sys/kernel"):
    refused("write outside /workspace: " + d, lambda d=d: create(os.path.join(d, "lg-escape-" + MARKER)))
refused("write /proc/sys (hostname)", lambda: open("/proc/sys/kernel/hostname", "w").write("x"))
refused("write .git/hooks/", lambda: create("/workspace/.git/hooks/pre-commit"))
refused("replace .git/config", lambda: open("/workspace/.git/config", "w").write("[core]\n"))
refused("rename .git/hooks away", lambda: os.rename("/workspace/.git/hooks", "/workspace/hooks-moved"))
refused("write .mcp.json", lambda: open("/workspace/.mcp.json", "w").write("{}"))
refused("write .claude/settings.json", lambda: create("/workspace/.claude/settings.json"))
refused("write .vscode/tasks.json", lambda: create("/workspace/.vscode/tasks.json"))
report("write /workspace", create("/workspace/written-inside-" + MARKER) is not None)

# --- kernel interfaces -----------------------------------------------------
refused("mount tmpfs", lambda: run(["mount", "-t", "tmpfs", "none", "/workspace"]))
refused("unshare a user namespace", lambda: run(["unshare", "-U", "true"]))
refused("unshare a network namespace", lambda: run(["unshare", "-n", "true"]))
NR = {"ptrace": 101, "bpf": 321, "keyctl": 250, "io_uring_setup": 425, "unshare": 272, "mount": 165, "setns": 308}
must_fail_errno("unshare(CLONE_NEWUSER) syscall", NR["unshare"], 0x10000000)
must_fail_errno("mount syscall", NR["mount"], 0, 0, 0, 0, 0)
PTRACE_SEIZE, PTRACE_DETACH = 0x4206, 17


def seize(pid):
    e = sys_errno(NR["ptrace"], PTRACE_SEIZE, pid, 0, 0)
    if e == 0:
        sys_errno(NR["ptrace"], PTRACE_DETACH, pid, 0, 0)
        return "attached"
    raise OSError(e, os.strerror(e))

refused("ptrace the forwarder (pid 1)", lambda: seize(1))
refused("read the forwarder's memory (/proc/1/mem)", lambda: open("/proc/1/mem", "rb").read(1))
refused("read the forwarder's environment", lambda: open("/proc/1/environ", "rb").read())
params = ctypes.create_string_buffer(120)
must_fail_errno("io_uring_setup", NR["io_uring_setup"], 4, ctypes.addressof(params))
# BPF_MAP_CREATE of a 1-entry array: harmless if it worked.
attr = (ctypes.c_uint32 * 30)(2, 4, 4, 1)
must_fail_errno("bpf", NR["bpf"], 0, ctypes.addressof(attr), ctypes.sizeof(attr))
must_fail_errno("keyctl", NR["keyctl"], 0, -3, 0)  # KEYCTL_GET_KEYRING_ID, session keyring


def tiocsti():
    import fcntl, termios
    # On a non-terminal fd the kernel says ENOTTY; only the filter says EPERM.
    fd = os.open("/dev/null", os.O_RDWR)
    try:
        fcntl.ioctl(fd, termios.TIOCSTI, b"x")
    except OSError as e:
        os.close(fd)
        if e.errno == errno.EPERM:
            raise
        return "errno %d: reached the kernel, the seccomp filter did not stop it" % e.errno
    return "injected"

refused("TIOCSTI (seccomp, by argument)", tiocsti)

# --- other processes -------------------------------------------------------
pids = [p for p in os.listdir("/proc") if p.isdigit()]
report("only the sandbox's processes are visible", len(pids) < 10, pids)
leaked = []
for p in pids:
    try:
        if MARKER.encode() in open("/proc/%s/environ" % p, "rb").read():
            leaked.append(p)
    except OSError:
        pass
report("no host process environment readable", not leaked, leaked)
print(json.dumps({"done": True}), flush=True)
