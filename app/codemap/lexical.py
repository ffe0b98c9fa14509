"""BM25 over code: each file is the bag of words of its identifiers plus its path.

Files store identifier counts, not words. The identifiers that hold a query term are found
when the term is first asked for, by one C-speed substring search over all the distinct
identifiers (lower-cased, one per line) checked against `identifier_terms`: building the
index costs one pass over the (file, identifier) pairs, and a query only its own terms.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_left, bisect_right, insort
from collections import defaultdict
from collections.abc import Iterable, Mapping

from app.codemap.terms import identifier_terms, path_terms

K1 = 1.2
B = 0.75
PATH_WEIGHT = 3  # a word of the path counts as often as this many words of the content


class LexicalIndex:
    def __init__(self, documents: Mapping[str, Mapping[str, int]]) -> None:
        """documents: path → identifier counts (kept, not copied: do not change them)."""
        self.paths = list(documents)  # by document number; "" for a removed document
        self.documents = documents
        self._docs = {path: doc for doc, path in enumerate(self.paths)}
        self._postings: dict[str, list[tuple[int, int]]] = {}
        self._lengths: list[int] = []
        for doc, (path, identifiers) in enumerate(documents.items()):
            self._lengths.append(_post(self._postings, doc, path, identifiers, None))
        self._live = len(self._lengths)
        self._length_sum = sum(self._lengths)
        self._names: list[str] = []
        self._starts: list[int] = []
        self._lowered = ""
        self._add_names(self._postings)
        self._term_counts: dict[str, dict[int, int]] = {}

    def updated(
        self, documents: Mapping[str, Mapping[str, int]], changed: Iterable[str]
    ) -> LexicalIndex:
        """The index of `documents`, which differ from this index's only in the `changed`
        paths (added, removed or with other counts), made in time proportional to those
        paths' words rather than the whole tree's. This index is left as it was (another
        thread may be asking it). Scores are the same as those of a new index."""
        new = LexicalIndex.__new__(LexicalIndex)
        new.paths, new.documents, new._docs = list(self.paths), documents, dict(self._docs)
        new._postings, new._lengths = dict(self._postings), list(self._lengths)
        new._live, new._length_sum = self._live, self._length_sum
        copied: set[str] = set()  # postings lists owned by the new index
        for path in set(changed):
            doc = new._docs.get(path)
            if doc is not None:  # take its old words out
                dropped = [*self.documents[path], *("\0path:" + t for t in path_terms(path))]
                for key in dropped:
                    postings = new._postings.get(key)
                    if postings is None:
                        continue
                    if key not in copied:  # copied at C speed; then one deletion
                        postings = new._postings[key] = list(postings)
                        copied.add(key)
                    at = bisect_left(postings, (doc,))  # each list is in document order
                    if at < len(postings) and postings[at][0] == doc:
                        del postings[at]
                new._live -= 1
                new._length_sum -= new._lengths[doc]
                new._lengths[doc] = 0
            identifiers = documents.get(path)
            if identifiers is None:
                if doc is not None:
                    del new._docs[path]
                    new.paths[doc] = ""
                continue
            if doc is None:
                doc = new._docs[path] = len(new.paths)
                new.paths.append(path)
                new._lengths.append(0)
            new._lengths[doc] = _post(new._postings, doc, path, identifiers, copied)
            new._live += 1
            new._length_sum += new._lengths[doc]
        new._names, new._starts, new._lowered = list(self._names), list(self._starts), self._lowered
        new._add_names({key: [] for key in new._postings.keys() - self._postings.keys()})
        new._term_counts = {}
        return new

    def document(self, path: str) -> int | None:
        """The document number of a path (as in `term_counts`), None if not indexed."""
        return self._docs.get(path)

    def _add_names(self, keys: Iterable[str]) -> None:
        """Make identifiers findable by the substring search of `_identifiers_with`."""
        names = [name for name in keys if not name.startswith("\0")]
        offset = len(self._lowered) + 1 if self._lowered else 0
        for name in names:
            self._starts.append(offset)
            offset += len(name) + 1
        self._names.extend(names)
        if names:
            joined = "\n".join(names).lower()
            self._lowered = f"{self._lowered}\n{joined}" if self._lowered else joined

    def _identifiers_with(self, term: str) -> list[str]:
        found: list[str] = []
        if not term:
            return found
        last = -1
        for match in re.finditer(re.escape(term), self._lowered):
            index = bisect_right(self._starts, match.start()) - 1
            if index != last:
                last = index
                name = self._names[index]
                if term in identifier_terms(name):
                    found.append(name)
        path_key = "\0path:" + term
        if path_key in self._postings:
            found.append(path_key)
        return found

    def files_using(self, identifier: str) -> list[str]:
        """The files in which this exact identifier occurs."""
        return [self.paths[doc] for doc, _count in self._postings.get(identifier, ())]

    def term_counts(self, term: str) -> dict[int, int]:
        """document → how often the term occurs in it (identifier words and path words)."""
        counts = self._term_counts.get(term)
        if counts is None:
            counts = defaultdict(int)
            for identifier in self._identifiers_with(term):
                for doc, count in self._postings.get(identifier, ()):
                    counts[doc] += count
            counts = self._term_counts[term] = dict(counts)
        return counts

    def scores(self, query: Iterable[str], k1: float = K1, b: float = B) -> dict[str, float]:
        """BM25 of every file that contains at least one query term; repeated query terms
        count more, with diminishing returns."""
        repeats: dict[str, int] = {}
        for term in query:
            repeats[term] = repeats.get(term, 0) + 1
        total = self._live
        average = self._length_sum / max(1, self._live)
        scores: defaultdict[int, float] = defaultdict(float)
        for term, repeat in repeats.items():
            counts = self.term_counts(term)
            if not counts:
                continue
            idf = math.log(1 + (total - len(counts) + 0.5) / (len(counts) + 0.5))
            weight = idf * (1 + math.log(repeat))
            for doc, tf in counts.items():
                norm = k1 * (1 - b + b * self._lengths[doc] / average)
                scores[doc] += weight * tf * (k1 + 1) / (tf + norm)
        return {self.paths[doc]: score for doc, score in scores.items()}


def _post(
    postings: dict[str, list[tuple[int, int]]],
    doc: int,
    path: str,
    identifiers: Mapping[str, int],
    copied: set[str] | None,
) -> int:
    """Add a document's words to `postings` (lists not in `copied` are copied first,
    when copying); returns its length."""
    length = sum(identifiers.values())
    entries = [(name, count) for name, count in identifiers.items()]
    entries += [("\0path:" + term, PATH_WEIGHT) for term in path_terms(path)]
    length += PATH_WEIGHT * (len(entries) - len(identifiers))
    for key, count in entries:
        found = postings.get(key)
        if found is None:
            postings[key] = found = []
            if copied is not None:
                copied.add(key)
        elif copied is not None and key not in copied:
            postings[key] = found = list(found)
            copied.add(key)
        if copied is None:
            found.append((doc, count))
        else:
            insort(found, (doc, count))  # kept in document order, as a new index has it
    return length
