"""`agentops index` and `agentops locate` (owned by app/codemap)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    return None
