"""`agentops llm ask`, `agentops doctor`, `agentops replay` (owned by app/llm)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    return None
