"""BM25 over code: each file is the bag of words of its identifiers plus its path.

Files store identifier counts, not words. The identifiers that hold a query term are found
when the term is first asked for, by one C-speed substring search over all the distinct
identifiers (lower-cased, one per line) checked against `identifier_terms`: building the
index costs one pass over the (file, identifier) pairs, and a query only its own terms.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Mapping

from app.codemap.terms import identifier_terms, path_terms

K1 = 1.2
B = 0.75
PATH_WEIGHT = 3  # a word of the path counts as often as this many words of the content


class LexicalIndex:
    def __init__(self, documents: Mapping[str, Mapping[str, int]]) -> None:
        """documents: path → identifier counts."""
        self.paths = list(documents)
        self._postings: defaultdict[str, list[tuple[int, int]]] = defaultdict(list)
        self._lengths: list[int] = []
        for doc, (path, identifiers) in enumerate(documents.items()):
            for identifier, count in identifiers.items():
                self._postings[identifier].append((doc, count))
            length = sum(identifiers.values())
            for term in path_terms(path):
                self._postings["\0path:" + term].append((doc, PATH_WEIGHT))
                length += PATH_WEIGHT
            self._lengths.append(length)
        self._average = sum(self._lengths) / max(1, len(self._lengths))
        self._names = [name for name in self._postings if not name.startswith("\0")]
        self._starts: list[int] = []
        offset = 0
        for name in self._names:
            self._starts.append(offset)
            offset += len(name) + 1
        self._lowered = "\n".join(self._names).lower()
        self._term_counts: dict[str, dict[int, int]] = {}

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
                for doc, count in self._postings[identifier]:
                    counts[doc] += count
            counts = self._term_counts[term] = dict(counts)
        return counts

    def scores(self, query: Iterable[str], k1: float = K1, b: float = B) -> dict[str, float]:
        """BM25 of every file that contains at least one query term; repeated query terms
        count more, with diminishing returns."""
        repeats: dict[str, int] = {}
        for term in query:
            repeats[term] = repeats.get(term, 0) + 1
        total = len(self._lengths)
        scores: defaultdict[int, float] = defaultdict(float)
        for term, repeat in repeats.items():
            counts = self.term_counts(term)
            if not counts:
                continue
            idf = math.log(1 + (total - len(counts) + 0.5) / (len(counts) + 0.5))
            weight = idf * (1 + math.log(repeat))
            for doc, tf in counts.items():
                norm = k1 * (1 - b + b * self._lengths[doc] / self._average)
                scores[doc] += weight * tf * (k1 + 1) / (tf + norm)
        return {self.paths[doc]: score for doc, score in scores.items()}
