"""Every code example in the docs runs, so the docs never drift from the code.

* ```python blocks of each page (docs/*.md and README.md) run in order in one namespace, in
  a temporary directory. A statement whose trailing comment is a Python literal
  (``s(0)  # 0.0``, ``a == b  # True``) must evaluate to it; one whose comment starts with
  an exception name (``get_preset("x")  # ValueError: ...``) must raise it.
* ```sh blocks: each ``lrlab ...`` line is read by the real argument parser (so a renamed
  flag fails here), and the cheap commands (show, at, presets, recommend, tasks) are run.
* A block preceded by ``<!-- docs-test: skip REASON -->`` is skipped; the reason is required.
* Every schedule family has a section and a plot example on the families page.
"""

from __future__ import annotations

import ast
import contextlib
import io
import math
import re
import shlex
import sys
from pathlib import Path

import pytest

import lrlab
from lrlab.cli import CLIError, _parser, main

ROOT = Path(__file__).resolve().parent.parent
PAGES = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```\s*$", re.M | re.S)
SKIP = re.compile(r"<!--\s*docs-test:\s*skip\b(.*?)-->\s*$")
#: commands cheap enough to run for every example (the others are parsed, not run)
CHEAP = {"show", "at", "presets", "recommend", "tasks"}
#: pages whose python blocks are fragments (a reader's `model`, `data`, `checkpoint`): checked
#: for syntax, for their imports and for every `lrlab.` name they use, but not run. Owners:
#: make the blocks runnable (or mark them `<!-- docs-test: skip REASON -->`) and drop the page
#: from here.
FRAGMENTS = {
    "docs/torch.md": "fragments of a training loop (model, data, checkpoint are the reader's)",
    "docs/finder.md": "fragments of a training set-up (model, optimizer, loader are the reader's)",
    "docs/guard.md": "fragments of a training loop (model, optimizer, batches are the reader's)",
    "docs/laws.md": "the reader's CSV curves, and fits of several seconds (tests/test_laws.py runs them)",
}


def blocks(page: Path) -> list[tuple[str, str, int, str | None]]:
    """(language, code, line, skip reason or None) of each fenced block of ``page``."""
    text = page.read_text(encoding="utf-8")
    found = []
    for match in FENCE.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        before = text[:match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        skip = SKIP.search(before)
        reason = None
        if skip:
            reason = skip.group(1).strip()
            assert reason, f"{page.name}:{line}: a skipped block must say why"
        found.append((match.group(1).lower(), match.group(2), line, reason))
    return found


def _trailing_comment(lines: list[str], lineno: int) -> str | None:
    """The comment at the end of source line ``lineno`` (1-based), if any."""
    import tokenize

    comment = None
    try:
        for token in tokenize.generate_tokens(io.StringIO(lines[lineno - 1] + "\n").readline):
            if token.type == tokenize.COMMENT:
                comment = token.string[1:].strip()
    except (tokenize.TokenError, IndentationError):
        return None
    return comment


def _same(value, expected) -> bool:
    if hasattr(value, "tolist") and not isinstance(value, (int, float)):
        value = value.tolist()  # numpy arrays and scalars
    if isinstance(expected, float) and isinstance(value, (int, float)) and not isinstance(value, bool):
        return math.isclose(value, expected, rel_tol=1e-12, abs_tol=1e-300)
    if isinstance(expected, (tuple, list)) and isinstance(value, (tuple, list)):
        return (type(value) is type(expected) or isinstance(expected, list)) and len(value) == len(
            expected) and all(_same(v, e) for v, e in zip(value, expected))
    return bool(value == expected)


def run_python(code: str, namespace: dict, where: str) -> None:
    lines = code.split("\n")
    tree = ast.parse(code, filename=where)
    for statement in tree.body:
        source = ast.get_source_segment(code, statement)
        comment = _trailing_comment(lines, statement.end_lineno)
        raises = re.match(r"([A-Z]\w*(?:Error|Exception))\b", comment or "")
        if raises:
            expected_type = getattr(__import__("builtins"), raises.group(1), Exception)
            with pytest.raises(expected_type):
                exec(compile(source, where, "exec"), namespace)
            continue
        literal = None
        if comment and isinstance(statement, ast.Expr):
            with contextlib.suppress(ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
                literal = (ast.literal_eval(comment),)
        if literal is not None:
            expression = statement.value
            if (isinstance(expression, ast.Call) and isinstance(expression.func, ast.Name)
                    and expression.func.id == "print" and len(expression.args) == 1):
                expression = expression.args[0]  # `print(x)  # 0.5` documents x
            value = eval(compile(ast.Expression(expression), where, "eval"), namespace)
            assert _same(value, literal[0]), f"{where}: `{source}` is {value!r}, the doc says {comment}"
        else:
            exec(compile(ast.Module([statement], type_ignores=[]), where, "exec"), namespace)


def check_fragment(code: str, where: str) -> None:
    """A block that cannot run on its own: its syntax, its imports and the ``lrlab.`` names
    it uses (``lrlab.torch.use_tensor_lr``) must all exist."""
    import importlib

    tree = ast.parse(code, filename=where)
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            exec(compile(ast.Module([node], type_ignores=[]), where, "exec"), {})
        if isinstance(node, ast.Attribute):
            chain = []
            inner: ast.expr = node
            while isinstance(inner, ast.Attribute):
                chain.append(inner.attr)
                inner = inner.value
            if isinstance(inner, ast.Name) and inner.id == "lrlab":
                obj: object = lrlab
                path = "lrlab"
                for attr in reversed(chain):
                    path += "." + attr
                    if not hasattr(obj, attr):
                        with contextlib.suppress(ImportError):
                            importlib.import_module(path)
                    assert hasattr(obj, attr), f"{where}: {path} does not exist"
                    obj = getattr(obj, attr)


def lrlab_lines(code: str) -> list[list[str]]:
    """The ``lrlab ...`` command lines of a shell block, as argv lists (without 'lrlab')."""
    commands = []
    for raw in code.replace("\\\n", " ").split("\n"):
        line = raw.strip().removeprefix("$ ").strip()
        if line.startswith("lrlab "):
            commands.append(shlex.split(line, comments=True)[1:])
    return commands


def page_id(page: Path) -> str:
    return page.relative_to(ROOT).as_posix()


def _has(page, languages, need_lrlab=False) -> bool:
    for language, code, _, skip in blocks(page):
        if language in languages and skip is None and (not need_lrlab or list(lrlab_lines(code))):
            return True
    return False


PYTHON_PAGES = [page for page in PAGES if _has(page, ("python", "py"))]
SHELL_PAGES = [page for page in PAGES if _has(page, ("sh", "bash", "console", "shell"), need_lrlab=True)]


@pytest.mark.parametrize("page", PYTHON_PAGES, ids=page_id)
def test_python_examples_run(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__docs__"}
    ran = 0
    for language, code, line, skip in blocks(page):
        if language not in ("python", "py") or skip is not None:
            continue
        where = f"{page_id(page)}:{line}"
        if page_id(page) in FRAGMENTS:
            check_fragment(code, where)
        else:
            with contextlib.redirect_stdout(io.StringIO()):
                run_python(code, namespace, where)
        ran += 1
    assert ran > 0


@pytest.mark.parametrize("page", SHELL_PAGES, ids=page_id)
def test_shell_examples_parse_and_the_cheap_ones_run(page, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    checked = 0
    for language, code, line, skip in blocks(page):
        if language not in ("sh", "bash", "console", "shell") or skip is not None:
            continue
        for argv in lrlab_lines(code):
            where = f"{page_id(page)}:{line}: lrlab {shlex.join(argv)}"
            try:
                _parser().parse_args(argv)
            except CLIError as error:
                pytest.fail(f"{where}: the parser rejects it: {error}")
            if argv and argv[0] in CHEAP:
                code_ = main(argv)
                _, err = capsys.readouterr()
                assert code_ == 0, f"{where}: exit {code_}: {err}"
            checked += 1
    assert checked > 0


def test_examples_are_found():
    """The extractor sees the blocks (a broken regex would make every test above vacuous)."""
    languages = [language for page in PAGES for language, *_ in blocks(page)]
    assert languages.count("python") >= 10 and languages.count("sh") >= 5


def test_literal_comments_are_checked():
    with pytest.raises(AssertionError, match="the doc says"):
        run_python("1 + 1  # 3", {}, "check")
    run_python("1 + 1  # 2\n(0.1 + 0.2, 'a')  # (0.30000000000000004, 'a')", {}, "check")
    run_python("import numpy as np\nnp.array([0.5, 1.0])  # [0.5, 1.0]\nprint(0.25)  # 0.25", {}, "check")
    with pytest.raises(AssertionError):
        run_python("print(0.25)  # 0.5", {}, "check")
    with pytest.raises(pytest.fail.Exception):
        run_python("int('1')  # ValueError: would have to raise", {}, "check")


def test_every_family_has_a_section_and_a_plot():
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        from docs_plots import EXAMPLES
    finally:
        sys.path.pop(0)
    page = (ROOT / "docs" / "families.md").read_text(encoding="utf-8")
    for name in lrlab.FAMILIES:
        assert f"\n### {name}\n" in page, f"docs/families.md has no section for {name}"
        assert f"](img/families/{name}.png)" in page, f"docs/families.md has no plot of {name}"
        assert name in EXAMPLES, f"scripts/docs_plots.py has no example of {name}"
        spec, _ = EXAMPLES[name]
        assert f"{name}(" in spec, f"the example of {name} does not use it: {spec}"
        lrlab.parse(spec)


def test_the_peers_named_on_the_families_page_are_checked_by_the_conformance_suite():
    """A peer function the families page says a family matches must appear in a conformance test."""
    page = (ROOT / "docs" / "families.md").read_text(encoding="utf-8")
    suite = "".join(p.read_text(encoding="utf-8") for p in (ROOT / "tests").glob("test_conformance_*.py"))
    peer = re.compile(r"^(get_\w+|[A-Z]\w*LR|[A-Z]\w*Restarts|\w+_schedules?|exponential_decay)$")
    named = set()
    for paragraph in page.split("\n\n"):
        if paragraph.startswith("Peers:"):
            named |= {name for name in re.findall(r"`([^`]+)`", paragraph) if peer.match(name)}
    assert len(named) >= 15
    missing = sorted(name for name in named if name not in suite)
    assert not missing, f"docs/families.md names peers no conformance test checks: {missing}"


def test_no_page_links_outside_the_docs_folder():
    """mkdocs --strict refuses a link to a file the site does not build (``../BENCHMARKS.md``):
    name such files in text instead."""
    outside = re.compile(r"\]\((\.\./[^)]*)\)")
    found = {page.name: outside.findall(page.read_text(encoding="utf-8"))
             for page in sorted((ROOT / "docs").glob("*.md"))}
    assert {name: links for name, links in found.items() if links} == {}
