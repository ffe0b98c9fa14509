"""The metric names a PromQL query reads (the `promql-parser` package; a query that does
not parse raises `ValueError`)."""

from __future__ import annotations

import promql_parser


def metric_names(query: str) -> set[str]:
    names: set[str] = set()

    def visit(node: promql_parser.Expr) -> None:
        if isinstance(node, promql_parser.VectorSelector) and node.name:
            names.add(node.name)

    promql_parser.walk(promql_parser.parse(query), pre_visit=visit)
    return names
