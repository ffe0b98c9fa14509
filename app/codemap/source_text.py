"""The raw text of a repository's files, for finding which files hold a given string
(a command-line option, a config key, an error message). Read once, on the first search."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable
from pathlib import Path

from app import repo_files

_SEPARATOR = "\0"


class SourceText:
    def __init__(self, root: Path, paths: list[str]) -> None:
        self.root = root
        self.paths = sorted(paths)
        self._text: str | None = None
        self._folded: str | None = None
        self._starts: list[int] = []

    def files_among(
        self, needle: str, paths: list[str], around: Callable[[str, str], bool]
    ) -> list[str]:
        """Of these few files, those that hold the string (as `files_with`), reading only
        them when the whole tree's text is not loaded yet."""
        if self._text is not None:
            wanted = set(paths)
            return [p for p in self.files_with(needle, around=around) if p in wanted]
        found: list[str] = []
        with repo_files.DirectoryChain(self.root) as tree:
            for path in sorted(paths):
                try:
                    data = tree.read_bytes(path, max_bytes=repo_files.MAX_FILE_BYTES)
                except (OSError, repo_files.RepositoryFileRefused):
                    continue
                text = (data or b"").decode("utf-8", "replace")
                start = text.find(needle)
                while start >= 0:
                    end = start + len(needle)
                    if around(text[max(0, start - 3) : start], text[end : end + 1]):
                        found.append(path)
                        break
                    start = text.find(needle, end)
        return found

    def _load(self) -> str:
        if self._text is None:
            texts: list[str] = []
            offset = 0
            with repo_files.DirectoryChain(self.root) as tree:
                for path in self.paths:
                    try:
                        data = tree.read_bytes(path, max_bytes=repo_files.MAX_FILE_BYTES)
                    except (OSError, repo_files.RepositoryFileRefused):
                        data = None
                    text = (data or b"").decode("utf-8", "replace").replace(_SEPARATOR, " ")
                    self._starts.append(offset)
                    texts.append(text)
                    offset += len(text) + 1
            self._text = _SEPARATOR.join(texts)
        return self._text

    def files_with(
        self,
        needle: str,
        *,
        fold_case: bool = False,
        around: Callable[[str, str], bool] | None = None,
        limit: int = 50,
    ) -> list[str]:
        """The files that hold the string (at most limit + 1 of them: a caller that wants
        rare strings can tell "too many" without a full count). around(before, after), with
        three characters before and one after, can refuse an occurrence (`"x"`, not `x_y`)."""
        text = self._load()
        if fold_case:
            if self._folded is None:
                folded = text.lower()
                # a few characters change length when lowered; offsets would not match then
                self._folded = folded if len(folded) == len(text) else text
            text, needle = self._folded, needle.lower()
        found: list[str] = []
        last = -1
        start = text.find(needle)
        while start >= 0:
            end = start + len(needle)
            if around is None or around(text[max(0, start - 3) : start], text[end : end + 1]):
                index = bisect_right(self._starts, start) - 1
                if index != last:
                    last = index
                    found.append(self.paths[index])
                    if len(found) > limit:
                        break
            start = text.find(needle, end)
        return found
