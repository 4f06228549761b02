#!/usr/bin/python3
"""Fault injection for the fail-closed tests: runs a command under a seccomp
filter that makes the kernel refuse one system call with EPERM, as a kernel
without that feature (or a hostile container runtime) would.

usage: deny.py seccomp|landlock_restrict_self PROGRAM [ARGS...]
"""
import ctypes
import os
import struct
import sys

AUDIT_ARCH_X86_64 = 0xC000003E
NR = {"seccomp": 317, "landlock_restrict_self": 446}
PRCTL, PR_SET_SECCOMP, PR_SET_NO_NEW_PRIVS = 157, 22, 38
SECCOMP_SET_MODE_FILTER = 1
RET_ALLOW, RET_EPERM = 0x7FFF0000, 0x00050000 | 1
LD_W_ABS, JEQ_K, RET_K = 0x20, 0x15, 0x06

which = sys.argv[1]
nr = NR[which]
prog = [
    (LD_W_ABS, 0, 0, 4),            # arch
    (JEQ_K, 1, 0, AUDIT_ARCH_X86_64),
    (RET_K, 0, 0, RET_ALLOW),
    (LD_W_ABS, 0, 0, 0),            # syscall number
    (JEQ_K, 4, 0, nr),              # -> deny
    (JEQ_K, 0, 2, PRCTL),
    (LD_W_ABS, 0, 0, 16),           # prctl option (low word of arg0)
    (JEQ_K, 1, 0, PR_SET_SECCOMP if which == "seccomp" else 0xFFFFFFFF),
    (RET_K, 0, 0, RET_ALLOW),
    (RET_K, 0, 0, RET_EPERM),
]
raw = b"".join(struct.pack("HBBI", *i) for i in prog)
buf = ctypes.create_string_buffer(raw, len(raw))
fprog = struct.pack("HxxxxxxQ", len(prog), ctypes.addressof(buf))
fbuf = ctypes.create_string_buffer(fprog, len(fprog))
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
    sys.exit("deny.py: PR_SET_NO_NEW_PRIVS failed")
if libc.syscall(ctypes.c_long(317), ctypes.c_long(SECCOMP_SET_MODE_FILTER), ctypes.c_long(0), ctypes.c_void_p(ctypes.addressof(fbuf))) != 0:
    sys.exit("deny.py: installing the filter failed: errno %d" % ctypes.get_errno())
os.execv(sys.argv[2], sys.argv[2:])
