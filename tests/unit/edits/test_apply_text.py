"""Applying blocks to file contents in memory: what is forgiven and what is refused."""

from __future__ import annotations

from app.edits import Edit, EditPolicy, plan_edits
from tests.unit.edits.helpers import after, block, run

MODULE = """import os


class Store:
    def get(self, key):
        value = self._data.get(key)
        return value

    def put(self, key, value):
        self._data[key] = value
        return value


def helper():
    return 1
"""


def test_exact_match() -> None:
    result = run(
        {"m.py": MODULE},
        block("m.py", "def helper():\n    return 1\n", "def helper():\n    return 2\n"),
    )
    assert after(result, "m.py") == MODULE.replace("return 1", "return 2")
    assert result.refusals == ()
    assert result.applied == (1,)


def test_deleting_lines() -> None:
    search = (
        "    def put(self, key, value):\n        self._data[key] = value\n        return value\n\n"
    )
    result = run({"m.py": MODULE}, block("m.py", search, ""))
    assert "def put" not in after(result, "m.py")
    assert "\n\n\ndef helper" in after(result, "m.py")


def test_outdented_block_is_reindented() -> None:
    search = "def get(self, key):\n    value = self._data.get(key)\n    return value\n"
    replace = (
        "def get(self, key, default=None):\n"
        "    value = self._data.get(key, default)\n"
        "    return value\n"
    )
    result = run({"m.py": MODULE}, block("m.py", search, replace))
    text = after(result, "m.py")
    assert (
        "    def get(self, key, default=None):\n        value = self._data.get(key, default)\n"
        in text
    )


def test_overindented_block_is_dedented() -> None:
    search = "        def helper():\n            return 1\n"
    replace = "        def helper():\n            return 3\n"
    assert "def helper():\n    return 3\n" in after(
        run({"m.py": MODULE}, block("m.py", search, replace)), "m.py"
    )


def test_trailing_whitespace_in_the_answer_is_forgiven_and_not_copied() -> None:
    search = "def helper():   \n    return 1\t\n"
    replace = "def helper():   \n    return 2  \n"
    text = after(run({"m.py": MODULE}, block("m.py", search, replace)), "m.py")
    assert text == MODULE.replace("return 1", "return 2")


def test_trailing_whitespace_kept_where_the_file_has_it() -> None:
    source = "a = 1  \nb = 2\n"
    text = after(run({"t.md": source}, block("t.md", "a = 1\nb = 2\n", "a = 1\nb = 3  \n")), "t.md")
    assert text == "a = 1  \nb = 3  \n"  # context taken from the file, the new line as written


def test_added_trailing_whitespace_dropped_in_a_clean_file() -> None:
    text = after(
        run({"m.py": MODULE}, block("m.py", "import os\n", "import os  \nimport re \n")), "m.py"
    )
    assert text.startswith("import os\nimport re\n")


def test_inconsistent_indentation_is_not_forgiven() -> None:
    search = "def get(self, key):\n  value = self._data.get(key)\n  return value\n"
    result = run({"m.py": MODULE}, block("m.py", search, search.replace("value", "v")))
    assert result.changes == ()
    (refusal,) = result.refusals
    assert refusal.reason == "no match"
    assert "indentation" in refusal.message


def test_blank_lines_left_out_between_kept_lines() -> None:
    kept = "        return value\n    def put(self, key, value):\n        self._data[key] = value\n"
    search = kept + "        return value\n"
    replace = kept + "        return None\n"
    text = after(run({"m.py": MODULE}, block("m.py", search, replace)), "m.py")
    assert text == MODULE.replace(
        "        self._data[key] = value\n        return value",
        "        self._data[key] = value\n        return None",
    )


def test_blank_line_next_to_an_insertion_is_ambiguous() -> None:
    search = "        return value\n    def put(self, key, value):\n"
    replace = (
        "        return value\n"
        "    def has(self, key):\n"
        "        return key in self._data\n"
        "    def put(self, key, value):\n"
    )
    result = run({"m.py": MODULE}, block("m.py", search, replace))
    assert result.changes == ()
    assert result.refusals[0].reason == "ambiguous"
    assert "blank line 8" in result.refusals[0].message


def test_no_match_names_the_block_and_shows_the_closest_lines() -> None:
    search = "    def get(self, key):\n        value = self.data.get(key)\n        return value\n"
    result = run(
        {"m.py": MODULE},
        "intro\n" + block("m.py", "import os\n", "import re\n") + block("m.py", search, "x\n"),
    )
    assert result.applied == (1,)
    (refusal,) = result.refusals
    assert (refusal.number, refusal.reason) == (2, "no match")
    assert refusal.message.startswith("Block 2 (m.py): the SEARCH text was not found.")
    assert "    5|     def get(self, key):" in refusal.message
    assert "'value = self.data.get(key)'" in refusal.message
    assert "Block 1 was applied; do not send" in result.feedback()


def test_nothing_alike_says_so() -> None:
    result = run({"m.py": MODULE}, block("m.py", "zzzz qqqq\n", "y\n"))
    assert "no lines of the file resemble it" in result.refusals[0].message


DUPLICATES = "".join(f"def f{n}():\n    x = compute()\n    return x\n\n" for n in range(3))


def test_several_matches_without_hint_are_refused() -> None:
    result = run(
        {"d.py": DUPLICATES}, block("d.py", "    x = compute()\n", "    x = compute() + 1\n")
    )
    (refusal,) = result.refusals
    assert refusal.reason == "ambiguous"
    assert "3 places (starting at lines 2, 6, 10)" in refusal.message
    assert result.changes == ()


def test_a_hint_picks_one_of_several_identical_blocks() -> None:
    result = run(
        {"d.py": DUPLICATES},
        block("d.py", "    x = compute()\n", "    x = compute() + 1\n", hint=6),
    )
    lines = after(result, "d.py").splitlines()
    assert lines[5] == "    x = compute() + 1"
    assert lines[1] == lines[9] == "    x = compute()"


def test_a_slightly_stale_hint_still_picks_the_nearest() -> None:
    result = run({"d.py": DUPLICATES}, block("d.py", "    x = compute()\n", "    y\n", hint=11))
    assert after(result, "d.py").splitlines()[9] == "    y"


def test_a_hint_halfway_between_is_refused() -> None:
    result = run({"d.py": DUPLICATES}, block("d.py", "    x = compute()\n", "    y\n", hint=4))
    assert result.refusals[0].reason == "ambiguous"
    assert "not clearly nearer" in result.refusals[0].message


def test_a_stale_hint_is_harmless_when_the_search_is_unique() -> None:
    result = run({"m.py": MODULE}, block("m.py", "def helper():\n", "def helper2():\n", hint=2))
    assert "def helper2():" in after(result, "m.py")


def test_hints_refer_to_the_file_before_earlier_blocks() -> None:
    text = block("d.py", "def f0():\n", "# one\n# two\n# three\ndef f0():\n", hint=1)
    text += block("d.py", "    x = compute()\n", "    z\n", hint=10)
    lines = after(run({"d.py": DUPLICATES}, text), "d.py").splitlines()
    assert lines[12] == "    z"  # line 10 of the original, 3 lines further down


def test_crlf_file_stays_crlf() -> None:
    source = MODULE.replace("\n", "\r\n")
    result = run(
        {"m.py": source},
        block("m.py", "def helper():\n    return 1\n", "def helper():\n    # two\n    return 2\n"),
    )
    assert after(result, "m.py") == MODULE.replace(
        "    return 1", "    # two\n    return 2"
    ).replace("\n", "\r\n")


def test_crlf_answer_on_lf_file() -> None:
    text = block("m.py", "def helper():\n    return 1\n", "def helper():\n    return 2\n").replace(
        "\n", "\r\n"
    )
    assert after(run({"m.py": MODULE}, text), "m.py") == MODULE.replace("return 1", "return 2")


def test_crlf_in_edit_objects_too() -> None:
    edits = [Edit("m.py", "def helper():\r\n    return 1\r\n", "def helper():\r\n    return 2\r\n")]
    result = plan_edits(edits, EditPolicy(), {"m.py": MODULE.encode()}.get)
    assert after(result, "m.py") == MODULE.replace("return 1", "return 2")


def test_missing_final_newline_is_kept() -> None:
    result = run({"a.txt": "one\ntwo"}, block("a.txt", "two\n", "three\n"))
    assert after(result, "a.txt") == "one\nthree"


def test_byte_order_mark_is_kept() -> None:
    result = run({"a.py": "\ufeffx = 1\ny = 2\n"}, block("a.py", "x = 1\n", "x = 3\n"))
    assert after(result, "a.py") == "\ufeffx = 3\ny = 2\n"


def test_new_file() -> None:
    text = "pkg/new.py\n<<<<<<< NEW FILE\ndef new():\n    return 1\n>>>>>>> NEW FILE\n"
    result = run({}, text)
    assert after(result, "pkg/new.py") == "def new():\n    return 1\n"
    assert result.changes[0].before is None
    assert "new file mode 100644" in result.diff


def test_empty_search_creates_a_file() -> None:
    assert after(run({}, block("n.txt", "", "hello\n")), "n.txt") == "hello\n"


def test_new_file_does_not_overwrite() -> None:
    result = run({"m.py": MODULE}, "m.py\n<<<<<<< NEW FILE\nx = 1\n>>>>>>> NEW FILE\n")
    assert result.refusals[0].reason == "exists"
    assert result.changes == ()


def test_search_in_a_missing_file_is_refused() -> None:
    result = run({}, block("nope.py", "x\n", "y\n"))
    assert result.refusals[0].reason == "missing"
    assert "NEW FILE" in result.refusals[0].message


def test_replace_equal_to_search_is_refused() -> None:
    assert (
        run({"m.py": MODULE}, block("m.py", "import os\n", "import os\n")).refusals[0].reason
        == "no change"
    )


def test_blank_only_search_is_refused() -> None:
    refusal = run({"m.py": MODULE}, block("m.py", "\n\n", "x\n")).refusals[0]
    assert (refusal.reason, refusal.number) == ("empty", 1)
    assert "only blank lines" in refusal.message


def test_empty_search_on_existing_file_is_refused() -> None:
    assert run({"m.py": MODULE}, block("m.py", "", "x\n")).refusals[0].reason == "exists"


def test_binary_file_is_refused() -> None:
    result = plan_edits(
        [Edit("b.bin", "x\n", "y\n")], EditPolicy(), {"b.bin": b"\xff\xfe\x00x\n"}.get
    )
    assert result.refusals[0].reason == "encoding"


def test_edit_that_breaks_python_syntax_is_refused_with_the_location() -> None:
    result = run(
        {"m.py": MODULE},
        block("m.py", "def helper():\n    return 1\n", "def helper(:\n    return 1\n"),
    )
    assert result.changes == ()
    (refusal,) = result.refusals
    assert refusal.reason == "syntax"
    assert "line 14, column 12: missing ')'" in refusal.message
    assert "   14| def helper(:" in refusal.message


def test_syntax_refusal_covers_every_block_of_that_file_only() -> None:
    text = block("m.py", "import os\n", "import re\n") + block(
        "m.py", "def helper():\n", "def helper(\n"
    )
    text += block("b.py", "x = 1\n", "x = 2\n")
    result = run({"m.py": MODULE, "b.py": "x = 1\n"}, text)
    assert [r.number for r in result.refusals] == [1, 2]
    assert result.files == ("b.py",)
    assert result.applied == (3,)


def test_file_that_did_not_parse_before_is_not_blamed() -> None:
    broken = "def f(:\n    pass\nx = 1\n"
    assert after(run({"a.py": broken}, block("a.py", "x = 1\n", "x = 2\n")), "a.py").endswith(
        "x = 2\n"
    )


def test_new_file_must_parse() -> None:
    result = run({}, "n.py\n<<<<<<< NEW FILE\ndef f(:\n>>>>>>> NEW FILE\n")
    assert result.refusals[0].reason == "syntax"
    assert "would not parse" in result.refusals[0].message


def test_syntax_check_can_be_turned_off() -> None:
    result = run(
        {}, "n.py\n<<<<<<< NEW FILE\ndef f(:\n>>>>>>> NEW FILE\n", EditPolicy(check_syntax=False)
    )
    assert result.files == ("n.py",)


def test_unknown_languages_are_not_checked() -> None:
    assert run({}, "n.txt\n<<<<<<< NEW FILE\ndef f(:\n>>>>>>> NEW FILE\n").files == ("n.txt",)


def test_all_or_nothing() -> None:
    text = block("m.py", "import os\n", "import re\n") + block("m.py", "nothing like it\n", "x\n")
    result = run({"m.py": MODULE}, text, EditPolicy(all_or_nothing=True))
    assert (result.changes, result.applied, result.diff) == ((), (), "")
    assert "No block was applied." in result.feedback()


def test_feedback_is_empty_when_everything_applied() -> None:
    assert run({"m.py": MODULE}, block("m.py", "import os\n", "import re\n")).feedback() == ""


def test_copied_line_numbers_are_ignored_and_serve_as_hint() -> None:
    source = DUPLICATES
    search = "    5 def f1():\n    6     x = compute()\n"
    replace = "    5 def f1():\n    6     x = compute() * 2\n"
    text = after(run({"d.py": source}, block("d.py", search, replace)), "d.py")
    assert text == source.replace("f1():\n    x = compute()", "f1():\n    x = compute() * 2")


def test_copied_line_numbers_from_a_refusal_message() -> None:
    search = "   14| def helper():\n   15|     return 1\n"
    replace = "def helper():\n    return 5\n"
    assert "return 5" in after(run({"m.py": MODULE}, block("m.py", search, replace)), "m.py")


def test_numbers_that_are_not_consecutive_are_code() -> None:
    result = run({"m.py": MODULE}, block("m.py", "1 def helper():\n7     return 1\n", "x\n"))
    assert result.refusals[0].reason == "no match"


def test_copied_line_numbers_and_no_match_says_leave_them_out() -> None:
    result = run(
        {"m.py": MODULE}, block("m.py", "   14 def helper2():\n   15     return 1\n", "x\n")
    )
    assert "Leave out the line numbers" in result.refusals[0].message
    assert "   14| def helper():" in result.refusals[0].message


def test_spaces_for_tabs() -> None:
    source = "package main\n\nfunc main() {\n\tif ok {\n\t\treturn\n\t}\n}\n"
    search = "    if ok {\n        return\n    }\n"
    replace = "    if ok {\n        fmt.Println(1)\n        return\n    }\n"
    text = after(run({"main.go": source}, block("main.go", search, replace)), "main.go")
    assert text == source.replace("\t\treturn\n", "\t\tfmt.Println(1)\n\t\treturn\n")


def test_elided_search_is_pointed_out() -> None:
    search = "class Store:\n    # ...\n        return value\n"
    result = run({"m.py": MODULE}, block("m.py", search, "x\n"))
    assert "leave lines out ('# ...')" in result.refusals[0].message


def test_ambiguity_message_names_the_forgiven_difference() -> None:
    source = "class A:\n    def f(self):\n        pass\n\n\ndef f(self):\n    pass\n"
    result = run(
        {"a.py": source},
        block("a.py", "  def f(self):\n      pass\n", "  def g(self):\n      pass\n"),
    )
    assert "starting at lines 2, 6; indentation ignored" in result.refusals[0].message


def test_mixed_line_endings_are_kept_where_untouched() -> None:
    source = "a = 1\r\nb = 2\nc = 3\r\nd = 4\r\n"
    result = run({"m.txt": source}, block("m.txt", "c = 3\n", "c = 30\nc2 = 31\n"))
    assert after(result, "m.txt") == "a = 1\r\nb = 2\nc = 30\r\nc2 = 31\r\nd = 4\r\n"


def test_tabs_for_spaces() -> None:
    search = "def helper():\n\treturn 1\n"
    replace = "def helper():\n\tif True:\n\t\treturn 2\n"
    text = after(run({"m.py": MODULE}, block("m.py", search, replace)), "m.py")
    assert text.endswith("def helper():\n    if True:\n        return 2\n")


def test_ambiguity_shows_the_lines_before_each_place() -> None:
    result = run({"d.py": DUPLICATES}, block("d.py", "    x = compute()\n", "    y\n"))
    message = result.refusals[0].message
    assert "    5| def f1():\n    6|     x = compute()" in message
    assert "    1| def f0():" in message


def test_edits_built_in_code_are_numbered_by_position() -> None:
    edits = [Edit("m.py", "import os\n", "import re\n"), Edit("m.py", "nothing\n", "x\n")]
    result = plan_edits(edits, EditPolicy(), {"m.py": MODULE.encode()}.get)
    assert result.applied == (1,)
    assert result.refusals[0].message.startswith("Block 2 (m.py)")


def test_what_was_forgiven_is_reported_per_block() -> None:
    text = block("m.py", "import os\n", "import re\n")
    text += block("m.py", "def helper():\n\treturn 1\n", "def helper():\n\treturn 2\n")
    text += block("m.py", "class Store:  \n", "class Store2:\n")
    result = run({"m.py": MODULE}, text)
    assert result.forgiven == (
        (2, "tabs for spaces"),
        (3, "trailing whitespace"),
    )


def test_strict_match_far_from_the_hint_with_a_loose_one_near_it_is_refused() -> None:
    source = "def f():\n    return 1\n\n\nclass A:\n    def f():\n        return 1\n"
    search, replacement = "def f():\n    return 1\n", "def f():\n    return 2\n"
    near_a = run({"a.py": source}, block("a.py", search, replacement, hint=6))
    assert near_a.refusals[0].reason == "ambiguous"
    assert (
        "exactly at line 1, but with other whitespace also at line 6" in near_a.refusals[0].message
    )
    near_top = run({"a.py": source}, block("a.py", search, replacement, hint=1))
    assert after(near_top, "a.py").startswith("def f():\n    return 2\n")
    without_hint = run({"a.py": source}, block("a.py", search, replacement))
    assert after(without_hint, "a.py").startswith("def f():\n    return 2\n")
