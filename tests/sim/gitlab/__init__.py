"""A GitLab REST v4 simulator with real git behind it, for integration and end-to-end tests.

State lives in memory (users, projects, issues, merge requests, notes, award emoji,
commit statuses, members); repositories are real bare git repositories served through
`git http-backend` (tests/sim/git_http.py). JSON shapes, errors and pagination headers
are those python-gitlab reads.

One module per resource: `state` (what it holds), `auth` (tokens), `projects` (users,
members, branches), `issues` (and label events), `merge_requests`, `notes` (and award
emoji), `discussions` (diff notes, checked by `diffs`), `statuses`, `git` (git over
HTTP), `webhooks` and `hook_shapes`, `http` (parameters, pages, fault answers), put
together in `app`; the parts both forges share are in `tests/sim/skeleton.py`.

Typical use::

    sim = GitLabSim(tmp_path)                      # creates the bot user "agentops-bot"
    alice = sim.add_user("alice")                  # token: sim.users["alice"].token
    sim.add_project("group/app", {"README.md": "hi\\n"}, default_branch="main")
    sim.set_access("group/app", "alice", 30)       # Developer
    issue = sim.add_issue("group/app", "Add foo", "Please add foo", author="alice",
                          labels=["bug"])          # -> dict, issue["iid"] == 1
    with sim.serve() as base_url:                  # serve_app + sim.base_url = base_url
        settings = Settings(gitlab_url=base_url, gitlab_token=sim.bot_token, ...)
        ...
        sim.notes("group/app", "issue", 1)         # -> list of note dicts
        sim.statuses("group/app", sha)             # -> list of commit status dicts

Setup: `add_user(username, token=None, name=None, admin=False) -> SimUser`,
`add_project(path, files, default_branch="main", visibility="private", bot_access=40)
-> SimProject` (the bot becomes a member at `bot_access`; None for none),
`set_access(project, username, level)` (10 guest, 20 reporter, 30 developer,
40 maintainer, 50 owner; `level=None` removes), `add_issue(project, title, description,
author, labels=())`, `add_merge_request(project, source_branch, target_branch, title,
author, description="", source_project=None)` (the branch must exist in git;
`source_project` names a fork), `add_note(project, kind, iid,
body, author) -> dict` where kind is "issue" or "merge_request", `delete_note(project,
kind, iid, note_id)`,
`push_files(project, branch, files, message="change", base=None) -> sha` (commit straight
into the bare repository).

Reading state: `notes(project, kind, iid)` (diff notes too), `discussions(project, iid,
kind="merge_request")` (each `{"id", "individual_note", "notes": [...]}`; a diff note
carries `type` "DiffNote" and its `position`), `award_emoji(project, kind, iid, note_id=None)`,
`statuses(project, sha)`, `merge_requests(project)`, `issues(project)`,
`label_events(project, kind, iid)` (GitLab's resource label events: who added or removed
which label, recorded by `add_issue(labels=...)` and the label-changing webhook payload
builders; `GET .../issues|merge_requests/:iid/resource_label_events` lists them),
`project(path) -> SimProject` (`.bare` is the bare repo path, `.id`), `head_sha(project,
branch)`, `requests` (the request log: `LoggedRequest` with `method`, `path`, `query`,
`status`, `user`, `body`; tokens are never logged), `clear_requests()`.

Faults: `fail(method, path_regex, status=500, times=1, retry_after=None,
message=None, headers=None)` makes the next `times` calls whose "METHOD /decoded/path"
(path after /api/v4, e.g. "POST /projects/group/app/issues/1/notes") matches
`path_regex` (re.search; method "*" for any) answer `status`; 429 answers carry
`Retry-After` (and `RateLimit-Reset`). `delay(method, path_regex, seconds, times=1)`
makes them answer late (a hung server); `drop(method, path_regex, times=1)` cuts the
connection mid-answer. Each takes `applied=True`: the request is carried out first (a
POST creates its note) and then answered with the fault (a 5xx, a cut connection, or
the real answer late), as when a forge fails after the write; the log shows only the
fault's status. `body_contains="text"` makes only requests with a parameter containing
the text match. `clear_faults()`.

Discussions: `GET|POST /projects/:id/merge_requests/:iid/discussions` (and on issues).
A `position` (JSON object, or form fields `position[...]`) must be `position_type` text
with the merge request's current `diff_refs` (base_sha, start_sha, head_sha; every MR's
JSON carries them) and name a line of the diff's hunks on `new_path` as GitLab wants it:
an added line by `new_line`, a removed line by `old_line`, an unchanged context line by
both; anything else answers 400 with GitLab's "line_code ... must be a valid line code".

Webhook payloads (GitLab's documented shapes, built from sim state; `sim.base_url` must
be set, as `serve()` does): `webhook_note_event(project, kind, iid, body, author,
note_id=None, action="create")` (creates the note in the sim unless `note_id` is given),
`webhook_issue_event(project, iid, author, action="update", labels_previous=None,
labels_current=None)` (sets the issue's labels to `labels_current`),
`webhook_merge_request_event(project, iid, author, action="update", labels_previous=None,
labels_current=None)`, and `webhook_headers(event, secret, uuid=None)` for the
`X-Gitlab-Event` / `X-Gitlab-Token` / `X-Gitlab-Event-UUID` / `Idempotency-Key` headers
(with `body=` and `signing_token=` also the Standard Webhooks `webhook-signature`), and
`webhook_request(event, payload, secret, signing_token=None) -> (body, headers)`.

Project hooks that deliver over HTTP, their log and GitLab's API to list and resend it
(`hooks.py`, whose docstring has the details): `add_hook(project, url, token)`,
`deliver_hook(project, event, payload)`, `hook_events(project)`, `hook_resends`.

Sign-in (GitLab as an OAuth provider, `oauth.py`, whose docstring has the details):
`add_oauth_application(redirect_uri, scopes) -> (uid, secret)`, `sign_in_browser(username)`,
`GET /oauth/authorize` (exact redirect URI, scopes within the application's, PKCE) and
`POST /oauth/token` (authorization code, refresh with rotation; Doorkeeper's errors). An
OAuth token (`Authorization: Bearer`) acts as its user with its scopes (`read_api`: reads
only). `GET /projects?membership=true&min_access_level=N` lists the user's projects.

Git: clone URLs are `{base_url}/{path}.git`; git requests need HTTP Basic auth with any
user name and a valid token as password (`oauth2:<token>`); no or bad credentials -> 401.
Fetching a private project needs Reporter (20), pushing needs Developer (30).
"""

from tests.sim.gitlab.app import GitLabSim
from tests.sim.gitlab.state import SimProject, SimUser
from tests.sim.skeleton import LoggedRequest

__all__ = ["GitLabSim", "LoggedRequest", "SimProject", "SimUser"]
