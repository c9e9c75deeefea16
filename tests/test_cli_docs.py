"""docs/cli.md's sessions are real: each ```console block runs in a fresh folder, and what its
commands print must be what the page shows (timings aside). The options the page documents are
the options ``--help`` lists.

Skipped when docs/ is not beside tests/ (a wheel's test run copies tests/ only).
"""
import contextlib
import io
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from smoothl1 import cli

DOC = Path(__file__).resolve().parent.parent / "docs" / "cli.md"
pytestmark = pytest.mark.skipif(not DOC.is_file(), reason="docs/cli.md is not here")


def console_blocks():
    """[(first line number, [(command, expected output)])] for every ```console block."""
    blocks = []
    lines = DOC.read_text().splitlines() if DOC.is_file() else []
    number = 0
    while number < len(lines):
        if lines[number].strip() != "```console":
            number += 1
            continue
        start, session = number + 1, []
        number += 1
        while lines[number].strip() != "```":
            line = lines[number]
            if line.startswith("$ "):
                session.append((line[2:], []))
            else:
                assert session, f"docs/cli.md:{number + 1}: output before any command"
                session[-1][1].append(line)
            number += 1
        blocks.append((start, [(command, "\n".join(out)) for command, out in session]))
        number += 1
    return blocks


def normalise(text):
    """Timings vary, and with them the width of the demo's columns."""
    text = re.sub(r"\d+\.\d+ ms", "<t> ms", text)
    return "\n".join(" ".join(line.split()) for line in text.strip().splitlines())


MARK = "@@smoothl1-docs-command-{}@@"


def run_session(session, folder):
    """Run the commands in one bash, stdout and stderr merged as on a terminal; return what
    each printed. `echo $?` sees the previous documented command's status."""
    python = shlex.quote(sys.executable)
    script = ["status=0"]
    for index, (command, _) in enumerate(session):
        command = re.sub(r"(?<![\w/.-])python(?= )", python, command)
        script += [f"echo {MARK.format(index)}", "(exit $status)", command, "status=$?"]
    result = subprocess.run(["bash", "-c", "\n".join(script)], cwd=folder, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)
    parts = re.split(r"^@@smoothl1-docs-command-\d+@@\n", result.stdout, flags=re.M)
    assert parts[0] == "", parts[0]
    return parts[1:]


BLOCKS = console_blocks()


def test_the_page_has_sessions():
    assert len(BLOCKS) >= 6
    assert sum(len(session) for _, session in BLOCKS) >= 20


@pytest.mark.parametrize("session", [session for _, session in BLOCKS],
                         ids=[f"line-{start}" for start, _ in BLOCKS])
def test_console_session_prints_what_the_page_shows(tmp_path, session):
    printed = run_session(session, tmp_path)
    assert len(printed) == len(session)
    for (command, expected), output in zip(session, printed):
        assert normalise(output) == normalise(expected), f"$ {command}\n{output}"


def options_in_help(command):
    """The --options that `smoothl1 COMMAND --help` lists."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert cli.main([command, "--help"]) == 0
    return set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", printed.getvalue())) - {"--help"}


@pytest.mark.parametrize("command", ["demo", "loss", "plot", "bench"])
def test_every_option_is_documented(command):
    text = DOC.read_text()
    missing = [option for option in sorted(options_in_help(command))
               if f"`{option}" not in text]
    assert not missing, f"docs/cli.md does not describe {command} {missing}"
