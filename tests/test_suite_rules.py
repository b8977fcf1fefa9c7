"""The suite's own rules: with ``CI=true`` nothing it needs is skipped; no test skips a package
the test extra installs."""

import re
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent


@pytest.mark.parametrize("value", ["true", "1", "yes", "True"])
def test_with_ci_a_missing_need_fails(missing, monkeypatch, value):
    monkeypatch.setenv("CI", value)
    with pytest.raises(pytest.fail.Exception,
                       match=r"^no chromium \(CI=true: nothing the suite needs may be skipped\)$"):
        missing("no chromium")


@pytest.mark.parametrize("value", [None, "", "0", "false", "no"])
def test_off_ci_a_missing_need_skips(missing, monkeypatch, value):
    if value is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", value)
    with pytest.raises(pytest.skip.Exception, match=r"^no chromium$"):
        missing("no chromium")


def _sources():
    return [p for p in TESTS.rglob("*.py") if p != Path(__file__).resolve()]


def test_no_test_skips_what_the_test_extra_installs():
    """Skips go through ``missing`` (a failure with CI=true); packages are imported outright."""
    found = [f"{p.relative_to(TESTS)}:{n}: {line.strip()}"
             for p in _sources() for n, line in enumerate(p.read_text().splitlines(), 1)
             if re.search(r"importorskip|mark\.skip|pytest\.skip\(", line)
             and p != TESTS / "conftest.py"]
    assert found == []


def test_browser_tests_rerun_once_and_only_on_a_missed_page_state():
    """The rerun of issue 20's stale-status race stays narrow: one rerun, only when a Playwright
    expectation on the page timed out (a plain assertion fails at once)."""
    import ast

    src = (Path(__file__).parent / "ui" / "conftest.py").read_text()
    assert 'RERUN_ON = ["Locator expected to"]' in src
    calls = [n for n in ast.walk(ast.parse(src)) if isinstance(n, ast.Call)
             and getattr(n.func, "attr", "") == "flaky"]
    assert len(calls) == 1
    kw = {k.arg: ast.unparse(k.value) for k in calls[0].keywords}
    assert kw == {"reruns": "1", "only_rerun": "RERUN_ON"}
