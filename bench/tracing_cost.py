"""What the intake's tracing and log-field calls cost one delivery, off and on.

    .venv/bin/python bench/tracing_cost.py [--deliveries 200000]

Times, in one process, exactly the calls `app/webhook_endpoints.py` and `app/intake.py`
make per accepted delivery (the webhook span, the delivery's and tenant's log fields, the
trace context to store, the run's attributes), first with tracing off (no
`OTEL_EXPORTER_OTLP_ENDPOINT`: nothing of the SDK imported), then on, exporting to the
OTLP receiver of the tests (`tests/sim/otlp_receiver.py`) in another process on loopback
(spans go in batches from the SDK's own thread, which takes the GIL from time to time).
The loop's own cost (a context per delivery, as each request has its task) is subtracted.
"""

from __future__ import annotations

import argparse
import contextvars
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app import tracing  # noqa: E402
from tests.e2e.harness import wait_for  # noqa: E402
from tests.sim.serve import free_port  # noqa: E402


def one_delivery(n: int) -> None:
    with tracing.webhook_span("github") as span:
        tracing.delivery_received(f"delivery-{n}")
        tracing.tenant_known(1)
        tracing.trace_parent()
        tracing.run_accepted(n, "implement")
        span.set("http.response.status_code", 202)


def no_calls(n: int) -> None:
    _ = f"delivery-{n}"  # the same argument as `one_delivery` makes


def per_delivery_ns(count: int, work: Callable[[int], None] = one_delivery) -> float:
    """Each delivery in a context of its own, as each request is its own task."""
    started = time.perf_counter_ns()
    for n in range(count):
        contextvars.Context().run(work, n)
    return (time.perf_counter_ns() - started) / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--deliveries", type=int, default=200_000)
    args = parser.parse_args()
    for name in tracing.ENDPOINT_VARIABLES:
        os.environ.pop(name, None)
    assert not tracing.start_tracing("bench")
    per_delivery_ns(1000)
    bare = per_delivery_ns(args.deliveries, no_calls)
    off = per_delivery_ns(args.deliveries) - bare
    sdk_loaded = any(m.startswith("opentelemetry.sdk") for m in sys.modules)
    print(f"tracing off: {off / 1000:.2f} µs per delivery (SDK imported: {sdk_loaded})")

    port = free_port()
    receiver = subprocess.Popen(
        [sys.executable, "-c", RECEIVER, str(port)], stderr=subprocess.DEVNULL, cwd=ROOT
    )
    try:
        wait_for(lambda: _listening(port), 10, what="the receiver")
        os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = f"http://127.0.0.1:{port}"
        assert tracing.start_tracing("bench")
        per_delivery_ns(1000)
        on = per_delivery_ns(args.deliveries // 10) - bare
        tracing.stop_tracing()
    finally:
        receiver.terminate()
        receiver.wait(10)
    print(f"tracing on:  {on / 1000:.2f} µs per delivery (its span, exported in batches)")


# The OTLP receiver of the tests, in a process of its own (not sharing this one's GIL).
RECEIVER = """
import sys
import uvicorn
from tests.sim.otlp_receiver import OtlpReceiver
uvicorn.run(OtlpReceiver().app, host="127.0.0.1", port=int(sys.argv[1]), log_level="error")
"""


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
    except OSError:
        return False
    return True


if __name__ == "__main__":
    main()
