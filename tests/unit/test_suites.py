import shlex

import pytest
from invoke import Exit, Result

import todoops.suites
from tests.conftest import commands_run
from todoops.report import Report
from todoops.suites import (Counts, Suite, e2e_wanted, plain_counts, pytest_counts, run_suite, select, suites,
                            vitest_counts)


@pytest.mark.parametrize("output, expected", [
    ("..\n==== 3 failed, 10 passed, 1 skipped in 2.10s ====", Counts(10, 3, 1)),
    ("12 passed in 0.5s", Counts(12, 0, 0)),
    ("1 passed, 2 errors in 1.0s", Counts(1, 2, 0)),
    ("no tests ran in 0.01s", Counts()),
])
def test_pytest_counts(output, expected):
    assert pytest_counts(output) == expected


def test_vitest_counts():
    output = " Test Files  1 failed | 3 passed (4)\n      Tests  2 failed | 10 passed | 1 skipped (13)\n"
    assert vitest_counts(output) == Counts(10, 2, 1)


@pytest.mark.parametrize("output, expected", [
    ("ok   register\nok   login\n2 passed, 0 failed, 1 skipped\n", Counts(2, 0, 1)),
    ("browser: 5 passed, 1 failed", Counts(5, 1, 0)),
    ("ok   image test\n", Counts()),
])
def test_plain_counts(output, expected):
    assert plain_counts(output) == expected


def _suite(command="pytest -q"):
    return Suite("demo", "tests", (), command.split(), pytest_counts)


def test_no_test_collected_counts_as_a_failure(make_context):
    c = make_context({"pytest -q": Result(exited=5, stdout="no tests ran in 0.01s")})
    assert run_suite(c, _suite(), Report()).failed == 1


def test_crash_before_summary_counts_as_a_failure(make_context, capsys):
    c = make_context({"pytest -q": Result(exited=2, stdout="ImportError while loading conftest")})
    assert run_suite(c, _suite(), Report()) == Counts(0, 1, 0)
    assert "[fail] demo: 0 passed, 1 failed, 0 skipped" in capsys.readouterr().out


def test_coloured_output_is_counted(make_context):
    coloured = "\x1b[2m      Tests \x1b[22m \x1b[1m\x1b[32m60 passed\x1b[39m\x1b[22m\x1b[90m (60)\x1b[39m\n"
    suite = Suite("demo", "tests", (), ["npm", "test"], vitest_counts)
    assert run_suite(make_context({"npm test": Result(stdout=coloured)}), suite, Report()) == Counts(60, 0, 0)


def test_passing_suite(make_context):
    c = make_context({"pytest -q": Result(stdout="4 passed in 0.2s")})
    assert run_suite(c, _suite(), Report()) == Counts(4, 0, 0)
    assert commands_run(c) == ["pytest -q"]


def test_select_skips_absent_suites_and_e2e_by_default(tmp_path):
    (tmp_path / "tests/unit").mkdir(parents=True)
    (tmp_path / "tests/e2e").mkdir(parents=True)
    # No backend/ or frontend/ in this project: those suites are not selected.
    all_suites = suites(tmp_path, python="python")
    assert [s.name for s in select(all_suites, tmp_path, (), e2e=False)] == ["suite"]
    assert [s.name for s in select(all_suites, tmp_path, (), e2e=True)] == ["suite", "e2e"]
    with pytest.raises(Exit):
        select(all_suites, tmp_path, ("nope",), e2e=False)


def test_the_backend_suite_builds_its_venv_before_the_tests_that_start_the_backend(tmp_path):
    order = [suite.name for suite in suites(tmp_path)]
    assert order.index("backend") < order.index("suite") < order.index("browser")


@pytest.mark.parametrize("asked, environ, wanted", [
    (False, {}, False),
    (True, {}, True),
    (False, {"CI": "true"}, True),
    (False, {"CI": "1"}, True),
    (False, {"CI": "false"}, False),
    (False, {"CI": ""}, False),
])
def test_e2e_runs_when_asked_or_in_ci(asked, environ, wanted):
    assert e2e_wanted(asked, environ) is wanted


def test_a_running_cluster_is_no_reason_to_run_the_e2e_tests(make_context, tmp_path, monkeypatch):
    # Strict MockContext: only the suite's own pytest may run, no probe of any cluster.
    monkeypatch.delenv("CI", raising=False)
    (tmp_path / "tests/unit").mkdir(parents=True)
    (tmp_path / "tests/e2e").mkdir(parents=True)
    [unit] = [s for s in suites(tmp_path) if s.name == "suite"]
    c = make_context({shlex.join(unit.command): Result(stdout="3 passed in 0.1s")})
    todoops.suites.test(c)
    assert commands_run(c) == [shlex.join(unit.command)]


def test_the_e2e_suite_prints_every_test_duration(tmp_path):
    [e2e] = [s for s in suites(tmp_path) if s.name == "e2e"]
    assert " -m e2e --durations=0 " in shlex.join(e2e.command)
