"""The command-line reference page, written from the argument parser when the site is built.

An MkDocs hook (``hooks:`` in ``mkdocs.yml``): ``on_files`` adds ``cli.md``, one section per
``lrlab`` command with its ``--help``, so the page lists exactly the commands and flags the
installed ``lrlab`` has (a command added by a new module appears without editing the docs).
"""

from __future__ import annotations

import argparse
import os


def page() -> str:
    """The markdown of the reference: every command's help, in the parser's order."""
    os.environ["COLUMNS"] = "100"  # argparse wraps to the terminal: make the page reproducible
    from lrlab.cli import _parser

    parser = _parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    lines = [
        "# Command-line reference",
        "",
        "Every `lrlab` command with its flags, as `lrlab COMMAND --help` prints them (this page",
        "is written from the parser when the site is built). Mistakes exit with status 2 and",
        "`lrlab: error: ...` naming the argument; `--json` gives machine-readable output.",
        "",
        "```text",
        parser.format_help().rstrip(),
        "```",
    ]
    for name, sub in commands.choices.items():
        lines += ["", f"## lrlab {name}", "", "```text", sub.format_help().rstrip(), "```"]
    return "\n".join(lines) + "\n"


def on_files(files, config):  # the MkDocs hook
    from mkdocs.structure.files import File

    files.append(File.generated(config, "cli.md", content=page()))
    return files
