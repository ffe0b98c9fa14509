"""The seccomp program, run by a tiny classic-BPF interpreter (no kernel involved)."""

from __future__ import annotations

import errno
import struct

import pytest

from app.sandbox.seccomp import (
    AUDIT_ARCH_X86_64,
    CLONE_NEWUSER,
    DENIED,
    RET_ALLOW,
    RET_ERRNO,
    seccomp_program,
)

CLONE, UNSHARE, CLONE3, READ, WRITE, EXECVE = 56, 272, 435, 0, 1, 59
AUDIT_ARCH_I386 = 0x40000003


def run_filter(program: bytes, nr: int, arg0: int = 0, arch: int = AUDIT_ARCH_X86_64) -> int:
    data = struct.pack("<iIQ6Q", nr, arch, 0, arg0, 0, 0, 0, 0, 0)
    ops: list[tuple[int, int, int, int]] = [
        struct.unpack_from("<HBBI", program, i) for i in range(0, len(program), 8)
    ]
    acc, pc = 0, 0
    while True:
        code, jt, jf, k = ops[pc]
        if code == 0x20:  # ld [k]
            acc = struct.unpack_from("<I", data, k)[0]
            pc += 1
        elif code == 0x06:  # ret k
            return k
        else:
            taken = {0x15: acc == k, 0x35: acc >= k, 0x45: bool(acc & k)}[code]
            pc += 1 + (jt if taken else jf)


@pytest.fixture(scope="module")
def program() -> bytes:
    built = seccomp_program("x86_64")
    assert built is not None
    return built


def test_ordinary_calls_are_allowed(program: bytes) -> None:
    for nr in (READ, WRITE, EXECVE):
        assert run_filter(program, nr) == RET_ALLOW
    assert run_filter(program, CLONE, arg0=0x003D0F00) == RET_ALLOW  # a thread
    assert run_filter(program, CLONE, arg0=0x01200011) == RET_ALLOW  # fork()
    assert run_filter(program, UNSHARE, arg0=0x00020000) == RET_ALLOW  # then EPERM: no caps


def test_new_user_namespaces_are_refused(program: bytes) -> None:
    assert run_filter(program, UNSHARE, arg0=CLONE_NEWUSER) == RET_ERRNO | errno.EPERM
    assert run_filter(program, CLONE, arg0=CLONE_NEWUSER | 17) == RET_ERRNO | errno.EPERM
    assert run_filter(program, CLONE3) == RET_ERRNO | errno.ENOSYS  # libc falls back to clone


@pytest.mark.parametrize("name", sorted(DENIED))
def test_denied_calls(program: bytes, name: str) -> None:
    assert run_filter(program, DENIED[name]) == RET_ERRNO | errno.EPERM


def test_other_abis_are_refused(program: bytes) -> None:
    assert run_filter(program, READ, arch=AUDIT_ARCH_I386) == RET_ERRNO | errno.ENOSYS
    assert run_filter(program, 0x40000000 | READ) == RET_ERRNO | errno.ENOSYS  # x32


def test_no_filter_for_other_architectures() -> None:
    assert seccomp_program("aarch64") is None
