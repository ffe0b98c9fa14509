"""The image, built and run (`make image-test`): what is in it, the web process and the
worker from it against real PostgreSQL/Redis and the simulators, a `/agentops help` round
trip, and an implement run whose tests are proven in the sandbox inside the container."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

from app.forges.markers import unmarked
from tests.e2e import github_events as events
from tests.e2e import implement_script as script
from tests.e2e.harness import wait_for
from tests.image.conftest import FIGURES, WebContainer, post_github, run_of
from tests.image.containers import IMAGE, ROOT, SANDBOX_OPTIONS, Container, docker, run_once
from tests.sim.github import GitHubSim
from tests.sim.llm_sim import LLMSimulator

HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")


def _config() -> dict[str, object]:
    found: list[dict[str, object]] = json.loads(docker("image", "inspect", IMAGE))
    config: dict[str, object] = found[0]["Config"]  # type: ignore[assignment]
    return config


def test_it_runs_as_a_user_with_a_healthcheck_a_stop_signal_and_labels() -> None:
    config = _config()
    assert config["User"] == "10001:10001"
    assert config["StopSignal"] == "SIGTERM"
    assert "healthcheck.py" in " ".join(config["Healthcheck"]["Test"])  # type: ignore[index]
    labels: dict[str, str] = config["Labels"]  # type: ignore[assignment]
    assert labels["org.opencontainers.image.title"] == "AgentOps"
    assert re.fullmatch(r"[0-9a-f]{40}", labels["org.opencontainers.image.revision"])


def test_it_has_no_compiler_and_none_of_the_build_context_it_should_not() -> None:
    compilers = run_once("sh", "-c", "for c in gcc cc g++ c++ clang make; do command -v $c; done")
    assert compilers.strip() == ""
    # the code, its prompts and app.yml are installed in /opt/agentops; the working directory
    # holds nothing (no tests, no .git, no virtualenv, no .env)
    assert run_once("ls", "-A", "/srv/agentops").split() == []
    found = run_once(
        "python3",
        "-c",
        "from app.resources import app_manifest, prompt_file; "
        "print(prompt_file('plan_system').read_text()[:20]); print(app_manifest())",
    )
    assert "/opt/agentops/" in found and "app.yml" in found
    assert run_once("ls", "/usr/local/share/agentops").split() == ["seccomp-bwrap.json"]


def test_the_build_context_holds_only_what_the_image_is_built_from(tmp_path: Path) -> None:
    """.dockerignore, applied by the daemon to a context that has everything a checkout
    may have: what reaches the daemon is what `COPY . /context` sees."""
    (tmp_path / ".dockerignore").write_text((ROOT / ".dockerignore").read_text())
    for name in (
        "pyproject.toml", "README.md", "app.yml", "app/web.py", "app/__pycache__/web.pyc",
        "handlers/github.py", "jobs/worker.py", "prompts/plan.md", "deploy/seccomp-bwrap.json",
        "deploy/docker/healthcheck.py", ".env", "app/.env", "github-app.pem", "deploy/k.key",
        ".venv/bin/python", ".venv-sandbox/bin/python", ".git/config", "tests/test_x.py",
        "bench/.data/big", "var/run.log", "node_modules/x/index.js",
    ):  # fmt: skip
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x\n")
    dockerfile = tmp_path.parent / f"{tmp_path.name}.Dockerfile"
    dockerfile.write_text(
        f"FROM {IMAGE}\nCOPY --chown=10001:10001 . /tmp/context\n"
        "RUN cd /tmp/context && find . -type f | sort\n"
    )
    tag = "agentops-image-test-context:latest"
    built = docker("build", "--no-cache", "--progress=plain", "-f", str(dockerfile), "-t", tag,
                   str(tmp_path), env={"DOCKER_BUILDKIT": "0"})  # fmt: skip
    docker("rmi", tag, check=False)
    files = set(re.findall(r"^\./(\S+)$", built, re.M))
    assert files == {
        "pyproject.toml", "README.md", "app.yml", "app/web.py",
        "handlers/github.py", "jobs/worker.py", "prompts/plan.md",
        "deploy/seccomp-bwrap.json", "deploy/docker/healthcheck.py",
    }, files  # fmt: skip


def test_the_build_secret_is_in_no_layer_and_no_file() -> None:
    history = docker("history", "--no-trunc", "--format", "{{.CreatedBy}}", IMAGE)
    assert "BEGIN CERTIFICATE" not in history and "PIP_CERT=/" not in history
    # the certificates of this machine's bundle that Debian's own bundle lacks (the
    # intercepting proxy's CA): none of their lines may be anywhere in the image
    image_bundle = run_once("cat", "/etc/ssl/certs/ca-certificates.crt")
    blocks = re.findall(r"-----BEGIN CERTIFICATE-----\n(.*?)-----END", HOST_CA.read_text(), re.S)
    extra = [b for b in blocks if b not in image_bundle]
    assert extra, "this machine's CA bundle adds nothing to Debian's: nothing to look for"
    needles = [b.splitlines()[len(b.splitlines()) // 2] for b in extra]
    found = run_once(
        "sh",
        "-c",
        "grep -rlF -e " + " -e ".join(f"'{n}'" for n in needles) + " /opt /srv /usr /etc /home"
        " /root /tmp /var 2>/dev/null; true",
    )
    assert found.strip() == "", found


def test_doctor_lists_the_toolchains() -> None:
    output = run_once("agentops", "doctor")
    for name in ("python", "node", "npm", "php", "composer", "phpunit", "go"):
        line = next(x for x in output.splitlines() if x[5:].startswith(f"{name}: "))
        assert line.startswith("ok"), line
    FIGURES["toolchains"] = "; ".join(
        x[5:]
        for x in output.splitlines()
        if x.startswith("ok   ")
        and ": " in x
        and x[5:].split(":")[0] in ("python", "node", "npm", "php", "composer", "phpunit", "go")
    )


def test_without_the_container_setting_the_refusal_names_it() -> None:
    output = run_once("agentops", "doctor")
    line = next(x for x in output.splitlines() if x[5:].startswith("sandbox: "))
    assert line.startswith("FAIL"), line
    assert "--security-opt seccomp=seccomp-bwrap.json" in line
    assert "--security-opt systempaths=unconfined" in line
    assert "system-deps" not in line
    # and with it, the same probe passes, with no capability and no privilege gain
    output = run_once("agentops", "doctor", options=SANDBOX_OPTIONS)
    line = next(x for x in output.splitlines() if x[5:].startswith("sandbox: "))
    # (not "ok": a container gets no per-run cgroups here, which the line says; see README)
    assert not line.startswith("FAIL"), line
    assert "bwrap in an unprivileged user namespace" in line, line


def test_web_answers_health_and_readiness(web: WebContainer) -> None:
    assert web.status("/healthz") == 200 and web.status("/readyz") == 200
    wait_for(lambda: web.health() == "healthy", 30, 0.5, "the image's HEALTHCHECK to pass")


def test_help_round_trip(
    web: WebContainer, worker: Container, github: tuple[GitHubSim, str]
) -> None:
    gh, _ = github
    repo = "acme/widgets"
    gh.add_repo(repo, {"README.md": "# widgets\n", "widgets.py": "X = 1\n"})
    gh.set_permission(repo, "alice", "write")
    number = gh.add_issue(repo, "Spin faster", "widgets spin slowly", user="alice")
    comment_id = gh.add_comment(repo, number, "/agentops help", user="alice")
    payload = events.issue_comment(
        repo, gh.installation_id(repo), number, "/agentops help", "alice", comment_id=comment_id
    )
    sent = time.monotonic()
    response = post_github(web, "issue_comment", payload)
    assert response.status_code == 202, response.text

    def replies() -> list[str]:
        return [
            unmarked(c["body"])
            for c in gh.comments(repo, number)
            if c["user"]["login"] == gh.bot_login
        ]

    answer = wait_for(replies, 60, what=f"the help reply\n{worker.logs()[-3000:]}")
    FIGURES["/agentops help round trip (webhook → reply)"] = f"{time.monotonic() - sent:.2f} s"
    assert "/agentops implement" in answer[0]
    run = wait_for(lambda: run_of(web, int(response.text.split()[-1])), 60)
    assert run["status"] == "succeeded"


def test_an_implement_run_proves_its_test_in_the_sandbox_inside_the_container(
    web: WebContainer,
    worker: Container,
    github: tuple[GitHubSim, str],
    llm: tuple[LLMSimulator, str],
) -> None:
    assert "test sandbox: bwrap works (userns" in worker.logs(), worker.logs()[-3000:]
    gh, _ = github
    sim, _ = llm
    repo = "acme/calc"
    gh.add_repo(repo, script.FILES)
    gh.set_permission(repo, "alice", "write")
    number = gh.add_issue(repo, script.ISSUE_TITLE, script.ISSUE_BODY, user="alice")
    script.script_resolution(sim)
    comment_id = gh.add_comment(repo, number, "/agentops implement", user="alice")
    payload = events.issue_comment(
        repo, gh.installation_id(repo), number, "/agentops implement", "alice",
        comment_id=comment_id,
    )  # fmt: skip
    sent = time.monotonic()
    response = post_github(web, "issue_comment", payload)
    assert response.status_code == 202, response.text
    run = wait_for(
        lambda: run_of(web, int(response.text.split()[-1])), 180, 0.5, "the implement run"
    )
    assert run["status"] == "succeeded", (run.get("error"), worker.logs()[-4000:])
    FIGURES["implement run with sandboxed red → green (webhook → done)"] = (
        f"{time.monotonic() - sent:.1f} s"
    )
    pull = gh.pulls(repo)[0]
    assert "test_divide_by_zero_raises" in pull["body"] and "proven" in pull["body"]
    check = next(c for c in gh.check_runs(repo) if c["external_id"] == str(run["id"]))
    assert check["conclusion"] == "success"
    assert "### Tests" in check["output"]["text"]


def test_the_worker_is_healthy_and_stops_on_sigterm(worker: Container) -> None:
    wait_for(lambda: worker.health() == "healthy", 30, 0.5, "the worker's HEALTHCHECK")
    started = time.monotonic()
    docker("stop", "--time", "30", worker.name)
    state = worker.inspect()["State"]
    assert state["ExitCode"] == 0, worker.logs()[-2000:]
    assert time.monotonic() - started < 30  # it stopped on the signal, not on the kill


# Each toolchain, run by the worker's own sandbox code inside the container (the same
# `run_sandboxed` a test run uses): no network, /usr read-only, the uid of the service.
_TOOLCHAINS_IN_SANDBOX = """
import asyncio, json, sys, tempfile
from pathlib import Path
from app.sandbox import SandboxPolicy, run_sandboxed

COMMANDS = {
    "python": ["python", "-m", "pytest", "--version"],
    "node": ["node", "-e", "console.log(6 * 7)"],
    "php": ["php", "-r", "echo 6 * 7;"],
    "composer": ["composer", "--version", "--no-ansi"],
    "go": ["go", "version"],
}

async def main():
    policy = SandboxPolicy(python_env=Path("/opt/sandbox-python"))
    found = {}
    for name, argv in COMMANDS.items():
        with tempfile.TemporaryDirectory() as checkout:
            result = await run_sandboxed(argv, Path(checkout), policy)
        found[name] = [result.exit_code, result.sandboxed, result.output.text[-300:]]
    print(json.dumps(found))

asyncio.run(main())
"""


def test_each_toolchain_runs_in_the_sandbox_inside_the_container() -> None:
    output = run_once("python", "-c", _TOOLCHAINS_IN_SANDBOX, options=SANDBOX_OPTIONS)
    found = json.loads(output.strip().splitlines()[-1])
    for name, (exit_code, sandboxed, text) in found.items():
        assert exit_code == 0 and sandboxed, (name, text)
    assert "42" in found["node"][2] and "42" in found["php"][2]
    assert "pytest" in found["python"][2] and "go version" in found["go"][2]


def test_a_worker_without_the_setting_refuses_implement_and_says_what_to_set(
    web: WebContainer,
    service_env: dict[str, str],
    github: tuple[GitHubSim, str],
    llm: tuple[LLMSimulator, str],
) -> None:
    """Docker's defaults (after the worker above has stopped): the run is refused, and
    the person and the operator are told the container settings, not host packages."""
    bare = Container(
        "worker-bare", ["agentops", "worker"], {**service_env, "AGENTOPS_PUBLIC_URL": web.url}
    )
    bare.start("--cap-drop", "ALL", "--security-opt", "no-new-privileges")
    try:
        gh, _ = github
        repo = "acme/calc2"
        gh.add_repo(repo, script.FILES)
        gh.set_permission(repo, "alice", "write")
        number = gh.add_issue(repo, script.ISSUE_TITLE, script.ISSUE_BODY, user="alice")
        comment_id = gh.add_comment(repo, number, "/agentops implement", user="alice")
        payload = events.issue_comment(
            repo, gh.installation_id(repo), number, "/agentops implement", "alice",
            comment_id=comment_id,
        )  # fmt: skip
        response = post_github(web, "issue_comment", payload)
        assert response.status_code == 202, response.text
        run = wait_for(lambda: run_of(web, int(response.text.split()[-1])), 120, 0.5)
        assert run["status"] == "failed", run
        error = str(run["error"])
        assert "seccomp-bwrap.json" in error and "systempaths=unconfined" in error, error
        assert "system-deps" not in error
        said = " ".join(c["body"] for c in gh.comments(repo, number))
        assert "no working test sandbox" in said and "agentops doctor" in said, said
        assert "no test sandbox" in bare.logs()
    finally:
        bare.remove()


def test_the_profile_refuses_turning_address_randomisation_off() -> None:
    # personality(ADDR_NO_RANDOMIZE) would let code run next with a predictable layout;
    # the profile allows only the personas Docker's default profile allows
    script = (
        'setarch x86_64 -R true; echo "no-randomize=$?"; setarch linux32 true; echo "linux32=$?"'
    )
    output = run_once("sh", "-c", script, options=SANDBOX_OPTIONS)
    assert "no-randomize=1" in output and "Operation not permitted" in output, output
    assert "linux32=0" in output, output
