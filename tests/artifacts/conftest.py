"""Fixtures for the chart, k8s/ and Dockerfile tests.

These tests run the real helm (found on PATH, as `invoke chart.lint` finds it): a
chart is only proven by rendering it. Values are written to files and passed
as argv, the way `invoke chart.render` and `invoke chart.lint` do it.
"""
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from invoke import Context

from tests.conftest import context_config
from todoops.config import Settings, resolve
from todoops.consistency import Manifest, manifests_from
from todoops.render import template
from todoops.tools import TOOLS

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "todo-app"
# What a project copy needs for `invoke chart.lint`; the Dockerfiles are added separately.
PROJECT_FILES = ("helm", "k8s", ".env.example", "invoke.yaml", "tasks.py")


def settings_for(root: Path) -> Settings:
    return resolve(Context(config=context_config(root)))


@pytest.fixture(scope="session", autouse=True)
def helm_on_path():
    if not shutil.which("helm"):
        pytest.fail(f"helm is not on PATH: {TOOLS['helm'].hint}", pytrace=False)


@pytest.fixture
def render_chart(tmp_path) -> Callable[..., list[Manifest]]:
    """``render_chart({"backend": {...}}, scenario="default")``: the objects helm renders."""

    def render(values: dict | None = None, scenario: str = "default") -> list[Manifest]:
        files = [CHART / "ci" / f"{scenario}-values.yaml"]
        if values:
            files.append(tmp_path / "values.yaml")
            files[-1].write_text(yaml.safe_dump(values))
        return manifests_from(template(Context(), settings_for(ROOT), *files), "helm/todo-app")

    return render


def only(manifests: list[Manifest], kind: str, name: str = "") -> dict:
    """The one object of ``kind`` (whose name ends with ``name``)."""
    found = [m.obj for m in manifests if m.kind == kind and m.name.endswith(name)]
    assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
    return found[0]


@pytest.fixture
def project(tmp_path) -> Path:
    """A copy of the project's chart, k8s/, .env.example and Dockerfiles to break one thing in."""
    copy = tmp_path / "project"
    for name in PROJECT_FILES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, copy / name)
        else:
            shutil.copy2(source, copy / name)
    for context in ("backend", "frontend"):
        (copy / context).mkdir()
        shutil.copy2(ROOT / context / "Dockerfile", copy / context / "Dockerfile")
    return copy
