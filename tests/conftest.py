"""Fixtures shared by every test of the suite.

- ``environ_guard`` (autouse) fails any test that changes ``os.environ``: loading
  ``.env`` into the process environment is exactly the leak it exists to catch.
- ``make_context`` builds a strict MockContext: a command without a programmed
  answer raises, so a test pins the exact commands a step runs.
"""
import os
import signal
from pathlib import Path

import pytest
from invoke import Config, MockContext, Result

from todoops.config import DEFAULTS, Settings, resolve
from todoops.redaction import REDACTOR


def pytest_configure(config):
    # A runner that starts the tests in the background without job control (`cmd &` in a script, nohup)
    # has SIGINT ignored, and Python and every child inherit that; the Ctrl-C tests need it delivered as
    # a terminal delivers it.
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(autouse=True)
def environ_guard():
    before = _environ()
    yield
    assert _environ() == before, "the test changed os.environ"


def _environ() -> dict:
    # pytest itself updates PYTEST_CURRENT_TEST between phases.
    return {key: value for key, value in os.environ.items() if key != "PYTEST_CURRENT_TEST"}


@pytest.fixture(autouse=True)
def fresh_redactor():
    REDACTOR.clear()
    yield
    REDACTOR.clear()


REPO_CHART = Path(__file__).resolve().parents[1] / "helm" / "todo-app"


def with_chart_name(root: Path) -> None:
    """The project's Chart.yaml: the chart's name is the app's part-of label, which every selector uses."""
    chart_file = root / "helm" / "todo-app" / "Chart.yaml"
    if not chart_file.exists():
        chart_file.parent.mkdir(parents=True, exist_ok=True)
        chart_file.write_text((REPO_CHART / "Chart.yaml").read_text())


def context_config(root: Path, **todoops: object) -> Config:
    config = Config(defaults=DEFAULTS)
    # Unit tests name the cluster: an empty context would read the kubeconfig's current one.
    config.load_overrides({"todoops": {"root": str(root), "cache_dir": str(root / ".cache"), "context": "minikube",
                                       "provider": "minikube", **todoops}})
    return config


@pytest.fixture
def make_context(tmp_path):
    """``make_context({"cmd": Result(...) | "stdout" | True}, **todoops_config)``."""

    def factory(responses: dict | None = None, **todoops: object) -> MockContext:
        with_chart_name(tmp_path)
        return MockContext(config=context_config(tmp_path, **todoops), run=responses or {}, repeat=True)

    return factory


@pytest.fixture
def settings(make_context) -> Settings:
    return resolve(make_context())


def commands_run(c: MockContext) -> list[str]:
    """The command lines ``c`` received, in order (the golden command log)."""
    return [call.args[0] for call in c.run.call_args_list]


def failed(exited: int = 1, stdout: str = "", stderr: str = "") -> Result:
    return Result(exited=exited, stdout=stdout, stderr=stderr)
