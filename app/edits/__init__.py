"""Edits a model asks for: parse them, apply what is clear, refuse what is not, show the diff.

The format the model writes (the prompt templates teach it):

    path/to/file.py
    <<<<<<< SEARCH
    lines copied from the file, with a few lines around the change
    =======
    the lines that replace them
    >>>>>>> REPLACE

- The file path, relative to the repository root, is alone on the line above
  `<<<<<<< SEARCH` (backticks, `**`, a `File:` prefix, or a code fence between them are
  tolerated; it needs a `/` or a `.`, or to be a name like `Makefile`). A block without a
  path line edits the file of the block before it.
- An optional line hint gives the line where the SEARCH starts in the file as the model
  saw it: `@@ line 42` alone on the line between the path and `<<<<<<< SEARCH`
  (also accepted: after `<<<<<<< SEARCH` on the same line, as the first SEARCH line, or
  in diff form `@@ -42,7 +42,8 @@`). Hints only choose between several places the
  SEARCH matches (the nearest, if it is at least twice as near as the next, plus three
  lines); a stale hint is harmless when the SEARCH is unique, unless the same code with
  other whitespace sits clearly nearer the hint (then the block is refused as ambiguous).
- The SEARCH must match whole lines of the file exactly once. Forgiven: whitespace at
  line ends, a shifted indentation of the whole block, tabs for spaces or spaces for
  tabs, left-out blank lines between kept lines, CRLF, and line numbers copied from a
  numbered view (`   42 code` or `   42| code`; the first becomes the hint). Lines the
  REPLACE keeps are taken from the file as they are; trailing whitespace on new lines is
  dropped when the file has none. Refused, with a message that names the block, says why,
  and shows the file's closest lines or the places it matched: several matches that the
  hint does not tell apart, no match, a SEARCH of blank lines only, a REPLACE equal to
  its SEARCH, and a left-out blank line whose place next to a change is a guess.
- One line of seven `=` separates SEARCH from REPLACE; other runs of `=` (reST
  underlines) are text.
- An empty REPLACE deletes the SEARCH lines. Several blocks may edit one file; they are
  applied in order, each to the result of the ones before, while their line hints keep
  counting lines of the file as it was before any of them.
- A new file is given whole:

      path/to/new_file.py
      <<<<<<< NEW FILE
      the entire content
      >>>>>>> NEW FILE

  (an empty SEARCH with the content as REPLACE does the same). Neither overwrites an
  existing non-empty file.

Markers may have 5 to 9 `<`, `=`, `>` characters; text outside blocks is ignored.
An answer with no blocks but a unified diff (`--- a/x` / `+++ b/x` / `@@`) is read as
one edit per hunk, leniently (see `app.edits.unified`); deleting files is not supported.

What is never written (`EditPolicy`): paths outside the repository (`..`, absolute),
anything through a symbolic link, `.git/`, `.agentops.yml`, the repository's forbidden
globs, and CI definitions (`.github/workflows/`, `.gitlab-ci.yml`) unless allowed. A file
of a language the code map reads that parsed before the edits and would not after is
refused with the error's line and column (a new file must parse).

API: `parse_edits(text) -> list[Edit]` (raises `EditFormatError` with a message for the
model), `apply_edits(repo_root, edits, policy) -> EditResult` (writes atomically; refused
edits write nothing), `plan_edits(edits, policy, read)` (the same without writing, over
any reader), `render_diff(changes) -> str`. In the implement step:

    try:
        edits = parse_edits(answer)
    except EditFormatError as error:
        ...  # send str(error) back to the model
    policy = EditPolicy(forbidden=("vendor/**",), allow_workflows=False)
    result = apply_edits(checkout, edits, policy)
    if result.refusals:
        ...  # send result.feedback() back to the model; applied blocks are on disk
    result.diff  # the unified diff of what was written; result.files, result.forgiven

Each file is replaced atomically; several files are written one after another, so
`all_or_nothing` decides beforehand rather than rolling back.
"""

from app.edits.apply import EditResult, Refusal, RefusalReason, apply_edits, plan_edits
from app.edits.diff import FileChange, FileStat, diff_stats, render_diff, render_file_diff
from app.edits.edit import Edit, EditFormatError
from app.edits.format import parse_edits
from app.edits.policy import EditPolicy, PathRefused, matches_glob
from app.edits.review_positions import commentable_lines, diff_lines, numbered_diff

__all__ = [
    "Edit",
    "EditFormatError",
    "EditPolicy",
    "EditResult",
    "FileChange",
    "FileStat",
    "PathRefused",
    "Refusal",
    "RefusalReason",
    "apply_edits",
    "diff_stats",
    "matches_glob",
    "parse_edits",
    "plan_edits",
    "render_diff",
    "render_file_diff",
]
__all__ += ["commentable_lines", "diff_lines", "numbered_diff"]  # review comments
