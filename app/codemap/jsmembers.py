"""Names for JavaScript and TypeScript definitions that are assignments, not declarations.

CommonJS and pre-class code defines its API by assignment: `res.status = function status()`,
`Router.prototype.handle = function`, `exports.parse = (s) => …`, `module.exports = function
createApp()`, `module.exports = { get header() {…}, vary: function (field) {…} }`. The
definitions query captures such a node with the assigned value (`@value`) and, for
`obj.name = …`, the object (`@scope`); this module turns them into the name a developer
would look for, the kind, and the part of the qualified name the definition adds. An
object literal becomes kind "object": not a definition, only the name of its members.
"""

from __future__ import annotations

from typing import NamedTuple

from tree_sitter import Node

_EXPORTS = frozenset({"exports", "module.exports"})
_PROTOTYPE = ".prototype"
_VALUE_KINDS = {"class": "class", "object": "object"}
# Where an object literal's function-valued properties are definitions: objects that are
# assigned or exported, not option bags passed to a call.
_MEMBER_HOLDERS = frozenset({"variable_declarator", "assignment_expression", "export_statement"})


class Found(NamedTuple):
    node: Node
    name: str
    kind: str  # a definition kind, or "object": an object literal that only names its members
    local: str = ""  # the part of the qualified name this definition adds, when not its name


def member_definition(source: bytes, found: Found, captures: dict[str, list[Node]]) -> Found | None:
    """The definition an assignment, a default export or an object's property makes, or
    None when it makes none."""
    node, value = found.node, captures["value"][0]
    if node.type == "pair":
        holder = node.parent.parent if node.parent is not None else None
        return found if holder is not None and holder.type in _MEMBER_HOLDERS else None
    kind = _VALUE_KINDS.get(value.type, found.kind)
    if kind == "class" and value.child_by_field_name("name") is not None:
        return None  # `x = class Name {}`: the class expression's own pattern finds it
    if node.type == "export_statement":  # export default …: its members are top level
        return None if kind == "object" else found._replace(kind=kind)
    if node.type == "variable_declarator":
        return found._replace(kind=kind)
    owner = _text(source, captures["scope"][0])
    if owner == "module" and found.name == "exports":  # module.exports = …
        return None if kind == "object" else _module_exports(source, found, value, kind)
    if owner in _EXPORTS:
        return found._replace(kind=kind)
    kind = "method" if kind == "function" else kind
    if owner == "this":
        return found._replace(kind=kind)
    if owner.endswith(_PROTOTYPE):
        owner = owner[: -len(_PROTOTYPE)]
    owner = owner.removeprefix("this.")  # this.handlers.click = …: the enclosing one's
    if not owner.replace(".", "").replace("_", "").replace("$", "").isalnum():
        return None  # a call or an index: `a().b = …`, `x[i].y = …` name no place to look
    return found._replace(kind=kind, local=f"{owner}.{found.name}")


def _module_exports(source: bytes, found: Found, value: Node, kind: str) -> Found:
    """`module.exports = function name()` is `name`; `var proto = module.exports =
    function ()` is `proto`; an anonymous one is the module's `default`."""
    named = value.child_by_field_name("name")
    holder = found.node.parent
    if named is None and holder is not None and holder.type == "variable_declarator":
        named = holder.child_by_field_name("name")
    return found._replace(name=_text(source, named) if named is not None else "default", kind=kind)


def _text(source: bytes, node: Node) -> str:
    return source[node.start_byte : node.end_byte].decode("utf-8", "replace")
