"""Label values from fixed sets (pure): whatever a repository, a person or a payload names
never becomes a label value, so every metric keeps a bounded number of series.

A model may be named by a repository's `.agentops.yml`: only the models the operator
configured (settings) and those `provider_specs` knows become label values, any other is
`other`. A forge API path names repositories and numbers: only its endpoint family is kept.
"""

from __future__ import annotations

from collections.abc import Iterable

OTHER = "other"

# What the intake answers (app/webhook_endpoints.py and the forges' receivers)
WEBHOOK_STATUSES = frozenset(
    {"200", "202", "400", "401", "403", "404", "405", "408", "413", "415", "422", "429",
     "500", "503"}
)  # fmt: skip

# The path segment after `repos/{owner}/{name}` (GitHub) or `projects/{id}` (GitLab), or
# the first segment of a path outside a repository: the endpoint family of a forge call.
ENDPOINT_FAMILIES = frozenset(
    {
        "app", "installation", "installations", "user", "users", "orgs", "groups",
        "search", "rate_limit", "graphql", "version", "hook", "repos", "projects",
        "issues", "pulls", "merge_requests", "check-runs", "check-suites", "commits",
        "statuses", "contents", "git", "repository", "collaborators", "members",
        "comments", "notes", "reactions", "award_emoji", "labels", "branches", "hooks",
        "access_tokens", "compare", "deployments", "permission", "pipelines",
    }
)  # fmt: skip
_API_PREFIXES = frozenset({"api", "v3", "v4"})


def bounded(value: str, allowed: Iterable[str] | frozenset[str]) -> str:
    """`value` when it is one of `allowed`, else `other`."""
    return value if value in allowed else OTHER


def status_class(status: int | None) -> str:
    """`2xx` … `5xx` of an HTTP status; `error` when no answer came."""
    if status is None or not 100 <= status <= 599:
        return "error"
    return f"{status // 100}xx"


def method_class(method: str) -> str:
    """`read` for GET and HEAD, `write` for the rest (POST, PATCH, PUT, DELETE)."""
    return "read" if method.upper() in ("GET", "HEAD") else "write"


def endpoint_family(path: str) -> str:
    """The family of a forge API path: `/repos/o/n/issues/3/comments` → `issues`,
    `/api/v4/projects/o%2Fn/merge_requests/1/notes` → `merge_requests`, `/app` → `app`."""
    parts = [p for p in path.split("?", 1)[0].split("/") if p]
    while parts and parts[0] in _API_PREFIXES:
        parts = parts[1:]
    if not parts:
        return OTHER
    skip = {"repos": 3, "projects": 2}.get(parts[0])
    if skip is not None and len(parts) > skip:
        return bounded(parts[skip], ENDPOINT_FAMILIES)
    return bounded(parts[0], ENDPOINT_FAMILIES)
