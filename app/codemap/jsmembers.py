"""Names for JavaScript and TypeScript definitions that are assignments, not declarations.

CommonJS and pre-class code defines its API by assignment: `res.status = function status()`,
`Router.prototype.handle = function`, `exports.parse = (s) => …`, `module.exports = function
createApp()`. The definitions query captures the assignment with the object (`@scope`),
the property (`@name`) and the assigned value (`@value`); this module turns them into the
name a developer would look for and the part of the qualified name the definition adds.
"""

from __future__ import annotations

from typing import NamedTuple

from tree_sitter import Node

_EXPORTS = frozenset({"exports", "module.exports"})
_PROTOTYPE = ".prototype"


class Found(NamedTuple):
    node: Node
    name: str
    kind: str  # a definition kind, or "object": an object literal that only names its members
    local: str = ""  # the part of the qualified name this definition adds, when not its name


def member_definition(source: bytes, found: Found, captures: dict[str, list[Node]]) -> Found | None:
    """The definition an assignment or default export makes, or None when it makes none
    (`module.exports = {…}` names nothing: its members are the module's top level)."""
    scope = captures.get("scope")
    if scope is None:  # `export default function () {}`: the module's default
        return found
    owner = source[scope[0].start_byte : scope[0].end_byte].decode("utf-8", "replace")
    if owner == "module" and found.name == "exports":  # module.exports = …
        if found.kind == "object":
            return None
        named = captures["value"][0].child_by_field_name("name")
        holder = found.node.parent
        if named is None and holder is not None and holder.type == "variable_declarator":
            named = holder.child_by_field_name("name")  # var proto = module.exports = …
        return found._replace(name=_text(source, named) if named is not None else "default")
    kind = "method" if found.kind == "function" else found.kind
    if owner in _EXPORTS:
        return found
    if owner == "this":
        return found._replace(kind=kind)
    if owner.endswith(_PROTOTYPE):
        owner = owner[: -len(_PROTOTYPE)]
    if not owner.replace(".", "").replace("_", "").replace("$", "").isalnum():
        return None  # a call or an index: `a().b = …`, `x[i].y = …` name no place to look
    return found._replace(kind=kind, local=f"{owner}.{found.name}")


def _text(source: bytes, node: Node) -> str:
    return source[node.start_byte : node.end_byte].decode("utf-8", "replace")
