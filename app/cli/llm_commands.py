"""What `agentops llm ask`, `doctor` and `replay` do (imported only when they run: the
provider SDKs take seconds to import)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from app.cli import CommandFailed
from app.config import Settings, load_settings
from app.llm import LLMError, LLMRequest, MemoryCallLog, Message, build_router
from app.llm.call_file import UnreadableRecording, read_call_file
from app.llm.doctor import Check, run_checks
from app.llm.errors import AllModelsFailed
from app.llm.model_ids import ModelIdError
from app.llm.provider_specs import not_running, provider_spec, shown_url
from app.llm.replay import RecordedCall, RunNotFound, load_recorded_run, replay_router
from app.llm.types import Completion, LLMResponse
from app.redaction import redact

# --- llm ask -------------------------------------------------------------------------------


def cmd_llm_ask(args: argparse.Namespace) -> int:
    settings = load_settings()
    request = LLMRequest(
        args.role, args.system, (Message.user(args.prompt),), max_tokens=args.max_tokens
    )
    completion = asyncio.run(_ask(settings, request))
    if args.json:
        print(json.dumps(ask_json(completion)))
    else:
        print(completion.text)
        for line in ask_summary(completion):
            print(line, file=sys.stderr)
    return 0


async def _ask(settings: Settings, request: LLMRequest) -> Completion:
    try:
        router, registry = build_router(settings, MemoryCallLog())
    except (ModelIdError, ValueError) as exc:
        raise CommandFailed(str(exc)) from None
    try:
        return await router.complete(request)
    except AllModelsFailed as exc:
        raise CommandFailed(unreachable_hint(exc, settings) or str(exc)) from None
    except LLMError as exc:
        raise CommandFailed(str(exc)) from None
    finally:
        await registry.close()


def unreachable_hint(exc: AllModelsFailed, settings: Settings) -> str | None:
    """One clear line when nothing answered because nothing could be reached."""
    if not exc.attempts or any(a.outcome != "connection" for a in exc.attempts):
        return None
    providers = {a.model_id.partition(":")[0] for a in exc.attempts}
    spec = provider_spec(providers.pop()) if len(providers) == 1 else None
    if spec is not None and spec.start_command:  # one local server, not running
        return not_running(spec, redact(shown_url(settings, spec)))
    tried = ", ".join(sorted({a.model_id for a in exc.attempts}))
    return f"no provider could be reached ({tried}): run `agentops doctor`"


def ask_json(completion: Completion) -> dict[str, Any]:
    usage = completion.response.usage
    return {
        "text": completion.text,
        "provider": completion.provider,
        "model": completion.model_id.partition(":")[2],
        "model_id": completion.model_id,
        "attempts": [
            {
                "model": a.model_id,
                "outcome": a.outcome,
                "latency_ms": a.latency_ms,
                "detail": a.detail,
            }
            for a in completion.attempts
        ],
        "usage": {
            "input_tokens": usage.input_tokens,
            "output_tokens": usage.output_tokens,
            "cached_tokens": usage.cached_tokens,
            "cache_write_tokens": usage.cache_write_tokens,
        },
        "cost_usd": round(completion.cost_usd, 6),
    }


def ask_summary(completion: Completion) -> list[str]:
    usage = completion.response.usage
    lines = [f"-- answered by {completion.model_id} (provider {completion.provider})"]
    if len(completion.attempts) > 1:
        tried = ", ".join(f"{a.model_id} {a.outcome}" for a in completion.attempts)
        lines.append(f"-- attempts: {tried}")
    lines.append(
        f"-- tokens: {usage.input_tokens} in, {usage.output_tokens} out, "
        f"{usage.cached_tokens} cached; cost ${completion.cost_usd:.6f}"
    )
    return lines


# --- doctor --------------------------------------------------------------------------------


def cmd_doctor(args: argparse.Namespace) -> int:
    settings = load_settings()
    checks = asyncio.run(run_checks(settings))
    for check in checks:
        print(format_check(check))
    failed = [c for c in checks if c.ok is False]
    if failed:
        print(f"{len(failed)} of {len(checks)} checks failed", file=sys.stderr)
        return 1
    return 0


def format_check(check: Check) -> str:
    mark = {True: "ok  ", False: "FAIL", None: "--  "}[check.ok]
    return f"{mark} {check.name}: {check.message}"


# --- replay --------------------------------------------------------------------------------


def cmd_replay(args: argparse.Namespace) -> int:
    settings = load_settings()
    run_id = int(args.run) if args.run.isdigit() else None
    if args.checkout is not None:
        if run_id is None:
            raise CommandFailed("--checkout replays a run of the service: give its RUN_ID")
        return _replay_workflow(settings, run_id, args.checkout, args.json)
    if run_id is None:
        report = asyncio.run(_replay_file(Path(args.run)))
    else:
        report = asyncio.run(_replay(settings, run_id))
    if args.json:
        print(json.dumps(report))
    else:
        for line in replay_lines(report):
            print(line)
    return 0 if report["missing"] == 0 else 1


def _replay_workflow(settings: Settings, run_id: int, checkout: Path, as_json: bool) -> int:
    from app.store import connect
    from app.workflow.replay import CannotReplay, replay_run

    where = checkout.resolve()

    async def go() -> Any:
        db = await connect(
            settings.database_url, min_size=1, max_size=2, tenant_dsn=settings.tenant_database_url
        )
        try:
            return await replay_run(
                settings, db, run_id, where, lambda line: print(line, file=sys.stderr, flush=True)
            )
        finally:
            await db.close()

    try:
        report = asyncio.run(go())
    except (CannotReplay, RunNotFound, LLMError) as exc:
        raise CommandFailed(str(exc).splitlines()[0]) from None
    same = report.plan_same and report.diff_same
    if as_json:
        print(
            json.dumps(
                {
                    "run_id": run_id,
                    "plan_same": report.plan_same,
                    "diff_same": report.diff_same,
                    "answers": report.answers,
                    "unused": report.unused,
                    "divergent": report.divergent,
                }
            )
        )
    else:
        print(
            f"run {run_id}: plan {'same' if report.plan_same else 'DIFFERENT'}, "
            f"diff {'same' if report.diff_same else 'DIFFERENT'}; "
            f"{report.answers} recorded answers, {report.unused} unused, "
            f"{report.divergent} given to requests that changed"
        )
        if not report.diff_same:
            print(report.diff)
    return 0 if same else 1


async def _replay(settings: Settings, run_id: int) -> dict[str, Any]:
    from app.store import connect
    from app.store.db import DatabaseUnavailable

    try:
        db = await connect(
            settings.database_url, min_size=1, max_size=2, tenant_dsn=settings.tenant_database_url
        )
    except DatabaseUnavailable as exc:
        raise CommandFailed(redact(str(exc))) from None
    try:
        recorded = await load_recorded_run(db, run_id)
    except RunNotFound as exc:
        raise CommandFailed(str(exc)) from None
    finally:
        await db.close()
    if not recorded.calls:
        raise CommandFailed(f"run {run_id} has no recorded LLM answers to replay")
    return await _replay_calls(run_id, recorded.status, recorded.calls)


async def _replay_file(path: Path) -> dict[str, Any]:
    """A local run's calls, recorded by `agentops run` in a file."""
    try:
        calls = read_call_file(path)
    except UnreadableRecording as exc:
        raise CommandFailed(str(exc)) from None
    if not calls:
        raise CommandFailed(f"{path} holds no answered model calls to replay")
    return await _replay_calls(str(path), "local", calls)


async def _replay_calls(run: int | str, status: str, calls: list[RecordedCall]) -> dict[str, Any]:
    router, provider = replay_router(calls)
    transcript: list[dict[str, Any]] = []
    missing = 0
    for number, call in enumerate(calls, start=1):
        entry: dict[str, Any] = {
            "call": number,
            "role": call.request.role,
            "recorded_model": call.model_id,
            "asked": _last_message(call.request),
        }
        try:
            completion = await router.complete(call.request)
        except LLMError as exc:
            missing += 1
            entry.update(found=False, error=str(exc))
        else:
            entry.update(found=True, answer=_answer(completion.response))
        transcript.append(entry)
    return {
        "run_id": run,
        "status": status,
        "calls": len(calls),
        "missing": missing,
        "unused": provider.unused,
        "transcript": transcript,
    }


def _last_message(request: LLMRequest) -> str:
    if not request.messages:
        return ""
    last = request.messages[-1]
    label = "tool result" if last.role == "tool" else last.role
    return f"{label}: {last.text}"


def _answer(response: LLMResponse) -> str:
    parts = [response.text] if response.text else []
    parts += [f"tool call {c.name} {json.dumps(c.arguments)}" for c in response.tool_calls]
    return " | ".join(parts)


def replay_lines(report: dict[str, Any]) -> list[str]:
    lines = [
        f"run {report['run_id']} ({report['status']}): "
        f"{report['calls']} recorded LLM answers, replayed with no network"
    ]
    for entry in report["transcript"]:
        lines.append(f"[{entry['call']}] {entry['role']} ({entry['recorded_model']})")
        lines.append(f"    asked  {_short(entry['asked'])}")
        if entry["found"]:
            lines.append(f"    answer {_short(entry['answer'])}")
        else:
            lines.append(f"    MISSING {entry['error']}")
    found = report["calls"] - report["missing"]
    verdict = (
        "every answer was found"
        if report["missing"] == 0
        else (f"{report['missing']} answers were not found")
    )
    lines.append(f"{found} of {report['calls']} answers found: {verdict}")
    return lines


def _short(text: str, limit: int = 160) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
