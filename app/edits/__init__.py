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
  tolerated). A block without a path line edits the file of the block before it.
- An optional line hint gives the line where the SEARCH starts in the file as the model
  saw it: `@@ line 42` alone on the line between the path and `<<<<<<< SEARCH`
  (also accepted: after `<<<<<<< SEARCH` on the same line, as the first SEARCH line, or
  in diff form `@@ -42,7 +42,8 @@`). Hints only choose between several places the
  SEARCH matches; a stale hint is harmless when the SEARCH is unique.
- The SEARCH must match whole lines of the file exactly once. Whitespace at line ends,
  a shifted indentation of the whole block, left-out blank lines, and CRLF line endings
  are forgiven; several matches that the hint does not tell apart, or no match at all,
  are refused with a message saying which block, why, and the closest lines of the file.
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

API: `parse_edits(text) -> list[Edit]` (raises `EditFormatError` with a message for the
model), `apply_edits(repo_root, edits, policy) -> EditResult` (writes atomically; refused
edits write nothing), `plan_edits(edits, policy, read)` (the same without writing, over
any reader), `render_diff(changes) -> str`.
"""

from app.edits.apply import EditResult, Refusal, RefusalReason, apply_edits, plan_edits
from app.edits.diff import FileChange, FileStat, diff_stats, render_diff, render_file_diff
from app.edits.format import Edit, EditFormatError, parse_edits
from app.edits.policy import EditPolicy, PathRefused, matches_glob

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
