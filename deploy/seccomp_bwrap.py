"""Writes deploy/seccomp-bwrap.json: the seccomp profile the worker's container needs so
that bubblewrap can make the test sandbox, and no more than that.

An allowlist: every system call of the x86-64 table (Linux's own `unistd_64.h`, from the
`linux-libc-dev` package) except those a container never needs, the same ones Docker's
default profile refuses (loading kernel modules and kexec, keys, BPF, perf, clocks,
quotas, swap, reboot, handles to other filesystems, io_uring, the new mount API, ...).
The difference from Docker's default, and the reason this file exists: `clone` and
`unshare` with namespace flags, `mount`, `umount2`, `pivot_root` and `sethostname` are
allowed without CAP_SYS_ADMIN (each was tried away: without it bwrap fails), and
`clone3` is allowed rather than answered ENOSYS; `chroot`, `setdomainname` and `setns`,
which bwrap does not need, are refused. The kernel allows those calls only inside a user
namespace the process made itself (bwrap's), never on the container's own mounts, which
its uid (10001, no capabilities) cannot touch.

    python3 deploy/seccomp_bwrap.py [/usr/include/x86_64-linux-gnu/asm/unistd_64.h]
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

HEADER = Path("/usr/include/x86_64-linux-gnu/asm/unistd_64.h")
OUT = Path(__file__).with_name("seccomp-bwrap.json")

# What bwrap calls to build the sandbox; kept here so a reader sees why they are allowed.
NEEDED_BY_BWRAP = (
    "clone",
    "clone3",
    "unshare",
    "mount",
    "umount2",
    "pivot_root",
    "sethostname",
    "seccomp",
    "prctl",
    "capset",
    "capget",
)

# Refused, as by Docker's default profile (docs.docker.com, "Seccomp security profiles").
REFUSED = frozenset(
    """
    acct add_key bpf clock_adjtime clock_settime create_module delete_module
    finit_module get_kernel_syms get_mempolicy init_module ioperm iopl kcmp
    kexec_file_load kexec_load keyctl lookup_dcookie mbind move_pages
    name_to_handle_at nfsservctl open_by_handle_at perf_event_open query_module
    quotactl quotactl_fd reboot request_key set_mempolicy setns settimeofday
    stime swapon swapoff sysfs _sysctl uselib userfaultfd ustat vm86 vm86old
    syslog fanotify_init vhangup io_uring_setup io_uring_enter io_uring_register
    fsopen fsconfig fsmount fspick move_mount open_tree mount_setattr
    afs_syscall tuxcall security putpmsg getpmsg chroot setdomainname
    """.split()  # noqa: SIM905 (a text is easier to read and review than a list)
)

# `personality` only with the values Docker's default profile allows: the plain Linux
# persona, PER_LINUX32, UNAME26 (either), and the query; not, say, ADDR_NO_RANDOMIZE,
# which would turn address-space randomisation off for what the process runs next.
PERSONALITIES = (0x0, 0x8, 0x20000, 0x20008, 0xFFFFFFFF)

# Generic names that aarch64 has and x86-64 does not (resolved per architecture by runc;
# names an architecture lacks are skipped).
AARCH64_ONLY = ("renameat", "fstatat", "newfstatat", "sync_file_range2")


def syscall_names(header: Path) -> list[str]:
    names = re.findall(r"^#define __NR_(\w+)\s+\d+", header.read_text(), flags=re.M)
    return sorted(set(names) | set(AARCH64_ONLY))


def profile(names: list[str]) -> dict[str, object]:
    missing = [n for n in NEEDED_BY_BWRAP if n not in names]
    if missing:
        raise SystemExit(f"the syscall table lacks {missing}: wrong header?")
    return {
        "defaultAction": "SCMP_ACT_ERRNO",
        "archMap": [
            {
                "architecture": "SCMP_ARCH_X86_64",
                "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            },
            {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]},
        ],
        "syscalls": [
            {
                "names": [n for n in names if n not in REFUSED and n != "personality"],
                "action": "SCMP_ACT_ALLOW",
            },
            *(
                {
                    "names": ["personality"],
                    "action": "SCMP_ACT_ALLOW",
                    "args": [{"index": 0, "value": value, "op": "SCMP_CMP_EQ"}],
                }
                for value in PERSONALITIES
            ),
        ],
    }


def main() -> None:
    header = Path(sys.argv[1]) if len(sys.argv) > 1 else HEADER
    OUT.write_text(json.dumps(profile(syscall_names(header)), indent=1) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
