"""Who the operators are (pure): `AGENTOPS_OPERATOR_LOGINS` parsed, and whether a signed-in
person is one of them.

A login alone does not prove a person: renamed, a GitHub login (or a GitLab username) is free
for anyone to register. So an operator is a login *and* the forge's numeric user id, which
never changes: pinned in the entry (`github:rita#583231`), or else recorded when the login
first signs in (`app/store/operator_pins.py`). An id in the entry overrides the recorded one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

SETTING = "AGENTOPS_OPERATOR_LOGINS"
_LOGIN = re.compile(r"[A-Za-z0-9_.-]+")
_ID = re.compile(r"[0-9]+")


@dataclass(frozen=True)
class OperatorEntry:
    forge: str
    login: str  # lower case: logins are compared without regard to case
    person_id: str | None  # the forge's user id the entry pins; None: pinned on first use

    @property
    def key(self) -> tuple[str, str]:
        return (self.forge, self.login)


def parse_operator_logins(
    raw: str, kinds: Iterable[str] | None = None
) -> dict[tuple[str, str], str | None]:
    """`FORGE:LOGIN[#ID], …` → {(forge, lower-case login): pinned id or None}. A ValueError
    names the first entry that is not of that form (`kinds`: the forges it may name; None,
    any), or a login listed twice with different ids."""
    known = sorted(kinds) if kinds is not None else None
    found: dict[tuple[str, str], str | None] = {}
    for entry in filter(None, (e.strip() for e in raw.split(","))):
        parsed = _parse_entry(entry, known)
        if parsed.key in found and found[parsed.key] != parsed.person_id:
            raise ValueError(
                f"{SETTING}: {parsed.forge}:{parsed.login} is listed twice with different ids "
                "(keep one entry; with `#ID` if the account is pinned)"
            )
        found[parsed.key] = parsed.person_id
    return found


def _parse_entry(entry: str, kinds: list[str] | None) -> OperatorEntry:
    forge, colon, rest = entry.partition(":")
    login, hash_sign, person_id = rest.partition("#")
    forge, login, person_id = forge.strip(), login.strip(), person_id.strip()
    if not colon or not login or (kinds is not None and forge not in kinds):
        forges = f" (FORGE one of {', '.join(kinds)})" if kinds is not None else ""
        raise ValueError(f"{SETTING}: {entry!r} is not FORGE:LOGIN or FORGE:LOGIN#ID{forges}")
    if not _LOGIN.fullmatch(login):
        raise ValueError(
            f"{SETTING}: {entry!r}: {login!r} is not a login (letters, digits, '-', '_', '.')"
        )
    if hash_sign and not _ID.fullmatch(person_id):
        raise ValueError(
            f"{SETTING}: {entry!r}: after '#' comes the forge's numeric user id, digits only "
            f"(e.g. {forge}:{login}#583231)"
        )
    return OperatorEntry(forge, login.lower(), str(int(person_id)) if hash_sign else None)


def is_operator(
    entries: Mapping[tuple[str, str], str | None],
    forge: str,
    login: str,
    person_id: str,
    recorded_id: str | None,
) -> bool:
    """Whether the person `person_id`, signed in with `forge:login`, is an operator: the
    login is listed, and the id is the one its entry pins or, without one, the one recorded
    at its first sign-in."""
    key = (forge, login.lower())
    if key not in entries:
        return False
    expected = entries[key] if entries[key] is not None else recorded_id
    return expected is not None and expected == person_id


def not_the_operator(
    forge: str, login: str, person_id: str, expected_id: str, pinned_in_setting: bool
) -> str:
    """The log line of a sign-in with an operator's login by another account (ids and
    logins only: nothing secret)."""
    where = (
        f"{SETTING} pins {forge}:{login.lower()} to the account id {expected_id}"
        if pinned_in_setting
        else f"{forge}:{login.lower()} of {SETTING} was pinned to the account id "
        f"{expected_id} when it first signed in"
    )
    return (
        f"{forge} login {login!r} signed in as account id {person_id}: not an operator, an "
        f"ordinary person ({where}; the login was renamed and taken by another account, or "
        f"the account was made anew). If account {person_id} is the operator's, set "
        f"{forge}:{login.lower()}#{person_id} in {SETTING}, which overrides the recorded id"
    )
