"""Every Python sample in README.md and docs/ runs, and prints what the page says it prints.

The convention, written at the top of docs/README.md for writers of pages:

- A fence's first word names its language, and every fence has one.
- ```python blocks are executed, and ```pycon blocks (``>>>`` prompts) are run as doctests
  (NORMALIZE_WHITESPACE and ELLIPSIS), so the output they show is compared. The blocks of one
  page run in order, in one namespace, in a temporary working folder.
- ```python NAME (a file name after the language) is a file the reader is told to save, such as
  a ``setup.py``: it is compiled, not run (the test that builds it runs it).
- Other languages (c, cython, bash, text, ...) are not run here: the embedding and CLI samples
  are built and run by their own tests.

Pages are found by glob (README.md and every docs/**/*.md), so a new page is covered at once.
Also checked: relative links lead to files of the repository, and the ``demo`` output that
README.md shows is what ``python -m smoothl1 demo`` prints on the default install (no SciPy).
Skipped when README.md and docs/ are not beside tests/ (a wheel's test run copies tests/ only).
"""
import doctest
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
pytestmark = pytest.mark.skipif(not (DOCS.is_dir() and (ROOT / "README.md").is_file()),
                                reason="README.md and docs/ are not here")

PAGES = sorted([ROOT / "README.md", *DOCS.glob("**/*.md")]) if DOCS.is_dir() else []
RUN = {"python", "py"}
DOCTEST = {"pycon"}
DOCTEST_FLAGS = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS
def page_id(page):
    return str(page.relative_to(ROOT))


def fenced_blocks(page):
    """[(line number of the fence, info string, code)] of a Markdown page, in order."""
    blocks, fence, start, info, body = [], None, 0, "", []
    for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
        stripped = line.strip()
        if fence is None:
            match = re.match(r"^(`{3,}|~{3,})(.*)$", stripped)
            if match:
                fence, start, info, body = match.group(1), number, match.group(2).strip(), []
                indent = len(line) - len(line.lstrip())
        elif stripped.startswith(fence) and stripped.strip(fence[0]) == "":
            blocks.append((start, info, "\n".join(body) + "\n"))
            fence = None
        else:
            # a block inside a list item is indented: drop the fence's indentation
            body.append(line[indent:] if line[:indent].strip() == "" else line)
    assert fence is None, f"{page_id(page)}:{start}: a fence that is never closed"
    return blocks


def language(info):
    return info.split()[0].lower() if info else ""


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_every_fence_names_its_language(page):
    unnamed = [start for start, info, _ in fenced_blocks(page) if not info]
    assert not unnamed, (f"{page_id(page)}: fences without a language at lines {unnamed}: "
                         f"write ```python, ```pycon, ```text, ...")


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_python_samples_run(page, tmp_path, monkeypatch):
    """The page's python and pycon blocks, in order, in one namespace; doctests compare."""
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__docs__"}
    parser = doctest.DocTestParser()
    runner = doctest.DocTestRunner(optionflags=DOCTEST_FLAGS, verbose=False)
    for start, info, code in fenced_blocks(page):
        where = f"{page_id(page)}:{start}"
        kind = language(info)
        if kind in RUN:
            compiled = compile(code, where, "exec")
            if len(info.split()) > 1:   # a file to save (```python setup.py): compiled only
                continue
            try:
                exec(compiled, namespace)
            except Exception as error:
                pytest.fail(f"{where}: the ```{info} block raised "
                            f"{type(error).__name__}: {error}")
        elif kind in DOCTEST:
            test = parser.get_doctest(code, namespace, where, str(page), start)
            assert test.examples, f"{where}: a ```pycon block without >>> prompts"
            report = []
            runner.run(test, out=report.append, clear_globs=False)
            namespace = test.globs   # a DocTest runs in a copy of the namespace it is given
            assert not report, f"{where}: the ```pycon block differs:\n" + "".join(report)


def test_pages_are_found():
    """The glob sees the index and the contract (so a broken glob cannot pass silently)."""
    names = {page_id(page) for page in PAGES}
    assert {"README.md", "docs/README.md", "docs/contract.md"} <= names


def test_index_lists_every_page():
    index = (DOCS / "README.md").read_text(encoding="utf-8")
    for page in PAGES:
        if page.parent == DOCS and page.name != "README.md":
            assert f"({page.name})" in index, f"docs/README.md does not link to {page.name}"


LINK = re.compile(r"\]\(([^)\s]+)\)")


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_relative_links_lead_to_files(page):
    text = page.read_text(encoding="utf-8")
    # links inside code are code, not links
    prose = re.sub(r"```.*?```", "", text, flags=re.S)
    missing = []
    for target in LINK.findall(prose):
        if re.match(r"^[a-z]+:", target) or target.startswith("#"):
            continue
        path = (page.parent / target.split("#")[0]).resolve()
        if not path.exists():
            missing.append(target)
    assert not missing, f"{page_id(page)} links to files that do not exist: {missing}"


# --- the demo output shown in README.md -----------------------------------------------------

DEMO_COMMAND = "$ python -m smoothl1 demo"


def run_demo(hide_scipy):
    """``python -m smoothl1 demo``; with hide_scipy, as on an install without SciPy."""
    prelude = "import sys; sys.modules['scipy'] = None; " if hide_scipy else ""
    code = (f"{prelude}import runpy, sys; sys.argv = ['smoothl1', 'demo']; "
            f"runpy.run_module('smoothl1', run_name='__main__')")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=300, env=dict(os.environ))
    assert result.returncode == 0, result.stderr
    return result.stdout


def readme_demo():
    for _, info, code in fenced_blocks(ROOT / "README.md"):
        if code.startswith(DEMO_COMMAND + "\n"):
            return code[len(DEMO_COMMAND) + 1:]
    pytest.fail(f"README.md has no block that starts with {DEMO_COMMAND!r}")


def comparable(output):
    """The lines of a demo output, with the timings (which vary, and so does their width)
    blanked."""
    return [re.sub(r"\s+\d+(\.\d+)? ms", " _ ms", line.rstrip()) for line in output.splitlines()]


def test_readme_demo_is_what_the_default_install_prints():
    assert comparable(run_demo(hide_scipy=True)) == comparable(readme_demo())


def test_readme_says_what_changes_with_scipy():
    pytest.importorskip("scipy")
    shown = comparable(readme_demo())
    with_scipy = comparable(run_demo(hide_scipy=False))
    optimizer_line = next(line for line in with_scipy if line.startswith("smooth L1: beta="))
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    # The README quotes the optimizer's line as printed with SciPy, and the rest is the same.
    quoted = optimizer_line.split(", ", 1)[1]
    assert quoted in readme, f"README.md should quote {quoted!r}"
    assert [line for line in with_scipy if line != optimizer_line] == \
        [line for line in shown if not line.startswith("smooth L1: beta=")]
