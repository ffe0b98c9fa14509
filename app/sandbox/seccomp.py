"""A small seccomp filter for the sandbox (x86_64), as classic BPF built by hand (pure).

bwrap loads it (`--seccomp FD`) right before it starts the command. It refuses the
system calls that widen the kernel surface a test suite never needs:

- new user namespaces (`clone`/`unshare` with CLONE_NEWUSER, `clone3` answers ENOSYS so
  that libc falls back to `clone`), and joining namespaces (`setns`): the gateway to most
  kernel privilege escalations;
- kernel keyrings, eBPF, perf events, userfaultfd, io_uring (runtimes fall back to
  plain I/O), reading the kernel log, modules, kexec, mounts, swap, reboot, accounting,
  quotas, `open_by_handle_at`;
- 32-bit (`int 0x80`) and x32 system calls, whose numbers differ.

Everything else is allowed. Other architectures get no filter (`seccomp_program`
returns None) and rely on the rest of the sandbox.
"""

from __future__ import annotations

import errno
import platform
import struct
from dataclasses import dataclass

AUDIT_ARCH_X86_64 = 0xC000003E
X32_SYSCALL_BIT = 0x40000000
CLONE_NEWUSER = 0x10000000

# x86_64 numbers (arch/x86/entry/syscalls/syscall_64.tbl)
CLONE, UNSHARE, CLONE3 = 56, 272, 435
DENIED = {
    "syslog": 103,
    "pivot_root": 155,
    "acct": 163,
    "mount": 165,
    "umount2": 166,
    "swapon": 167,
    "swapoff": 168,
    "reboot": 169,
    "init_module": 175,
    "delete_module": 176,
    "quotactl": 179,
    "kexec_load": 246,
    "add_key": 248,
    "request_key": 249,
    "keyctl": 250,
    "perf_event_open": 298,
    "open_by_handle_at": 304,
    "setns": 308,
    "finit_module": 313,
    "kexec_file_load": 320,
    "bpf": 321,
    "userfaultfd": 323,
    "io_uring_setup": 425,
    "io_uring_enter": 426,
    "io_uring_register": 427,
    "open_tree": 428,
    "move_mount": 429,
    "fsopen": 430,
    "fsconfig": 431,
    "fsmount": 432,
    "fspick": 433,
    "mount_setattr": 442,
}

# classic BPF opcodes and seccomp return values (linux/filter.h, linux/seccomp.h)
LD_W_ABS = 0x20
JEQ_K = 0x15
JGE_K = 0x35
JSET_K = 0x45
RET_K = 0x06
RET_ALLOW = 0x7FFF0000
RET_ERRNO = 0x00050000
OFFSET_NR, OFFSET_ARCH, OFFSET_ARG0 = 0, 4, 16


@dataclass(frozen=True)
class _Op:
    code: int
    k: int
    jt: str | int = 0  # a label, or 0 for "the next instruction"
    jf: str | int = 0


def _program() -> list[tuple[_Op, str | None]]:
    """(instruction, label) pairs; jumps name labels and are resolved by `assemble`."""
    ops: list[tuple[_Op, str | None]] = [
        (_Op(LD_W_ABS, OFFSET_ARCH), None),
        (_Op(JEQ_K, AUDIT_ARCH_X86_64, 0, "enosys"), None),
        (_Op(LD_W_ABS, OFFSET_NR), None),
        (_Op(JGE_K, X32_SYSCALL_BIT, "enosys", 0), None),
        (_Op(JEQ_K, CLONE3, "enosys", 0), None),
        (_Op(JEQ_K, CLONE, "flags", 0), None),
        (_Op(JEQ_K, UNSHARE, "flags", 0), None),
    ]
    ops += [(_Op(JEQ_K, nr, "eperm", 0), None) for nr in sorted(DENIED.values())]
    ops += [
        (_Op(RET_K, RET_ALLOW), None),
        (_Op(LD_W_ABS, OFFSET_ARG0), "flags"),  # low 32 bits of the flags argument
        (_Op(JSET_K, CLONE_NEWUSER, "eperm", 0), None),
        (_Op(RET_K, RET_ALLOW), None),
        (_Op(RET_K, RET_ERRNO | errno.EPERM), "eperm"),
        (_Op(RET_K, RET_ERRNO | errno.ENOSYS), "enosys"),
    ]
    return ops


def assemble(ops: list[tuple[_Op, str | None]]) -> bytes:
    """struct sock_filter[] for the program, jumps resolved to relative offsets."""
    labels = {label: index for index, (_, label) in enumerate(ops) if label}
    out = bytearray()
    for index, (op, _) in enumerate(ops):
        jumps = []
        for target in (op.jt, op.jf):
            offset = 0 if target == 0 else labels[str(target)] - index - 1
            if not 0 <= offset <= 255:
                raise ValueError(f"jump out of range at {index}")
            jumps.append(offset)
        out += struct.pack("<HBBI", op.code, jumps[0], jumps[1], op.k)
    return bytes(out)


def seccomp_program(machine: str | None = None) -> bytes | None:
    """The filter for this machine's architecture, or None where we have none."""
    if (machine or platform.machine()) not in ("x86_64", "amd64", "AMD64"):
        return None
    return assemble(_program())
