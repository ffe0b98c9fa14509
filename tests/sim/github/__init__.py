"""A GitHub REST simulator (Starlette) backed by real bare git repositories.

One module per resource: `state` (what it holds), `auth` (JWT, tokens), `app_api` (the
App's endpoints, the manifest flow, hook deliveries), `repos`, `issues` (and comments,
reactions), `pulls`, `reviews`, `checks` (and statuses), `git` (git over HTTP),
`webhooks` and `hooks` (payloads, deliveries), `http` (answers, pages, faults), put
together in `app`; the parts both forges share are in `tests/sim/skeleton.py`.

It answers the subset of GitHub's REST API that AgentOps uses, with GitHub-shaped JSON and
errors (a repository's name in any case, answers spelling it right), checks every
credential the way GitHub does, and serves real git over smart HTTP
(`git http-backend`, see `tests/sim/git_http.py`). State lives in memory; tests read it back.

Quick start::

    sim = GitHubSim(tmp_path)                       # makes an RSA key for the app (id 1)
    sim.add_repo("acme/app", {"README.md": "hi\\n"})  # installation 1, account "acme"
    number = sim.add_issue("acme/app", "Add a flag", "please", user="alice")
    sim.set_permission("acme/app", "alice", "write")
    with sim.serve() as base:                       # serve_app(sim.app) + sim.base_url
        gh = GitHubApp(sim.app_id, sim.private_key_pem, api_url=base)
        forge = gh.forge(sim.installation_id("acme/app"))
        ...
    sim.comments("acme/app", number)                # [{"id", "body", "user": {"login"}, ...}]

Layout (as on github.com): the API at `{base}{api_prefix}/...` and git at
`{base}/{owner}/{name}.git/...`. `GitHubSim(root, api_prefix="/api/v3")` looks like GitHub
Enterprise Server (`api_url = base + "/api/v3"`). Mounting the app under a path prefix works
(URLs in answers follow the request's root path).

Set-up: `add_installation(id=None, account=...) -> id`, `add_repo(full_name, files=None, *,
installation_id=None, private=True, default_branch="main") -> bare Path`,
`push_branch(repo, branch, files, *, message, base=None) -> sha` (commit straight into the
bare repo), `add_issue(repo, title, body="", *, user, labels=()) -> number`,
`add_pull(repo, head, base=None, title=..., body="", *, user, draft=False, head_repo=None)
-> number` (the head branch lives in the same bare repo; `head_repo` only labels a fork),
`add_comment(repo, number, body, *, user, association="OWNER") -> id`,
`set_permission(repo, user, "admin|maintain|write|triage|read|none")` (the account owning
the installation is admin, everyone else "none" unless set), `suspend(installation_id)`,
`reinstall(installation_id) -> new id` (its repositories move to a new installation),
`revoke_tokens()` (every issued token now gets 401).

Faults: `fail_next(pattern, kind, count=1, retry_after=1.0)` makes the next `count` requests
whose `"METHOD /path"` (path without the API prefix and query) matches the regex `pattern`
fail. Kinds: "500", "502", "503", "429" (with retry-after), "secondary" (403 secondary rate
limit with retry-after), "rate_limit" (403, x-ratelimit-remaining 0 + x-ratelimit-reset),
"not_accessible" (403 Resource not accessible by integration), "suspended", "unauthorized"
(401 Bad credentials), "drop" (the connection is cut mid-answer). With `applied=True` the
request is carried out first (a POST creates its comment or check run) and only then is
its answer replaced by the fault (a 5xx, or "drop"), as when a forge fails after the
write; kind "hang" (only with `applied=True`) answers normally after `retry_after`
seconds. `body_contains="text"` makes only requests whose raw body contains it match.

Reading state (copies): `comments(repo, number)` (each with `edits`: earlier bodies),
`issue(repo, number)`, `reactions(repo, number=None, comment_id=None) -> [content]`,
`check_runs(repo)` (each with `history`: every state a user saw, oldest first),
`statuses(repo)`, `pulls(repo)`, `reviews(repo, number)` (each with its `comments`:
path, line, side, body), `branch_sha(repo, branch)`, `bare_path(repo)`,
`requests` (list of `LoggedRequest`), `tokens_issued` (list of tokens), `app_id`,
`private_key_pem`, `public_key_pem`, `bot_login`, `installation_id(repo)`.

Webhooks (payloads in GitHub's shapes, built from sim state; URLs use `sim.base_url`,
which `with sim.serve() as base:` sets): `webhook_issue_comment_event(repo, number, body,
*, user="alice", association="OWNER", comment_id=None)` (creates the comment unless
`comment_id` is given), `webhook_labeled_event(repo, number, label, *, user) -> (event,
payload)` (`issues`, or `pull_request` on a PR; adds the label and records a `labeled`
issue event, which `GET .../issues/{number}/events` lists, as `add_issue(labels=...)`
does),
`webhook_check_run_event(repo, check_run_id, identifier, *, user,
action="requested_action")`, `webhook_installation_event(installation_id,
action="created")`, and `webhook_request(event, payload, secret) -> (body, headers)` with
`X-GitHub-Event`, `X-GitHub-Delivery` and `X-Hub-Signature-256`.
`service_env(webhook_secret)` gives the `AGENTOPS_GITHUB_*` variables (app id, slug, key,
secret, API URL) for a service process pointed at the simulator (after `serve()`).

Pull request reviews: `POST .../pulls/{number}/reviews` (event COMMENT, APPROVE,
REQUEST_CHANGES or none for pending; `commit_id` defaults to the head) with line-based
`comments` (`path`, `line`, `side` RIGHT or LEFT, `body`) checked against the diff of
`commit_id` from its merge base: a path not in the diff answers 422 "Path could not be
resolved", a line outside its hunks 422 "Line could not be resolved" (nothing is stored).
`GET .../pulls/{number}/reviews` and `GET .../pulls/{number}/comments` list them.

The App manifest flow (the set-up page): `POST /settings/apps/new?state=S` with a form
field `manifest` (JSON) creates the App at once (as if the person confirmed on GitHub's
page) and answers 302 to the manifest's `redirect_url` with `?code=C&state=S`;
`POST /app-manifests/{code}/conversions` (no authentication) answers 201 with the App's
`id`, `slug`, `webhook_secret`, `pem`, ... once per code (then 404), within an hour.
`manifest_apps` lists the Apps made so far, with their manifest and whether their code
was converted.

Sign-in (the App's user authorization, `oauth.py`, whose docstring has the details):
`GET /login/oauth/authorize` and `POST /login/oauth/access_token` on the web host, checked
against `client_id` / `client_secret`, `set_callback_url(url)`, the code (once, ten
minutes), the PKCE verifier; `sign_in_browser(login)` is the person who authorises;
user tokens (`ghu_`, `user_token_ttl`) and refresh tokens (`ghr_`, once each); with a
user token `GET /user`, `GET /user/installations`, `GET /user/installations/{id}/
repositories` and reading the repositories the person can read (`set_permission`, or a
public one), `permissions` included, by name or by id (`GET /repositories/{id}`, under the
name it has now: `rename_repo(old, new)` frees the old name); `revoke_user_tokens(login)`.

`generate_app_key() -> (private_pem, public_pem)` makes an RSA key pair for tests (about
0.1 s; cache it per session when making many simulators).
"""

from tests.sim.github.app import GitHubSim
from tests.sim.github.reviews import diff_hunk_lines
from tests.sim.github.state import generate_app_key
from tests.sim.skeleton import LoggedRequest

__all__ = ["GitHubSim", "LoggedRequest", "diff_hunk_lines", "generate_app_key"]
