"""``todoops.watch``: which changed paths count (docker's and the chart's ignore rules), and which component changed."""
import threading
import time
from pathlib import Path

import pytest

from tests.unit.fixtures import project
from todoops.config import resolve
from todoops.watch import CHART, WatchFilter, changed, sources, watch_changes, watched


@pytest.fixture
def tree(tmp_path, make_context):
    """A project (contexts ignoring ``*.log``), its chart ignoring ``ci/``, and its settings."""
    project(tmp_path)
    (tmp_path / "helm" / "todo-app" / ".helmignore").write_text("ci/\n*.swp\n")
    return tmp_path, resolve(make_context())


@pytest.mark.parametrize(("relative", "counts"), [
    ("backend/app.txt", True),
    ("backend/debug.log", False),
    ("backend/sub/deep/module.py", True),
    # docker always sends these, whatever .dockerignore says, and they shape the image.
    ("backend/Dockerfile", True),
    ("frontend/.dockerignore", True),
    ("frontend/trace.log", False),
    ("helm/todo-app/values.yaml", True),
    ("helm/todo-app/templates/deployment.yaml", True),
    ("helm/todo-app/ci/prod-values.yaml", False),
    ("helm/todo-app/.values.yaml.swp", False),
    ("k8s/40-deployment-todo-app-backend.yaml", True),
    ("k8s/notes.txt", False),
    ("k8s/old/40-deployment.yaml", False),
    ("README.md", False),
    ("tests/unit/test_x.py", False),
    ("backend", False),
])
def test_the_filter_lets_through_only_what_the_deploy_reads(tree, relative, counts):
    root, cfg = tree
    assert WatchFilter(cfg)(None, str(root / relative)) is counts


def test_a_changed_dockerignore_changes_what_counts(tree):
    root, cfg = tree
    only = WatchFilter(cfg)
    assert only(None, str(root / "backend" / "app.txt"))
    (root / "backend" / ".dockerignore").write_text("*.txt\n")
    assert only(None, str(root / "backend" / ".dockerignore"))
    assert not only(None, str(root / "backend" / "app.txt"))
    assert only(None, str(root / "backend" / "debug.log"))


def test_a_values_file_outside_the_chart_counts(tmp_path, make_context):
    project(tmp_path)
    (tmp_path / "prod.yaml").write_text("replicas: 3\n")
    cfg = resolve(make_context(chart_values=["prod.yaml"]))
    assert WatchFilter(cfg)(None, str(tmp_path / "prod.yaml"))
    assert tmp_path / "prod.yaml" in watched(cfg)


def edit(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.mark.parametrize(("relative", "text", "expected"), [
    ("backend/app.txt", "changed backend\n", ["backend"]),
    ("frontend/src/page.tsx", "export {}\n", ["frontend"]),
    ("k8s/40-deployment-todo-app-backend.yaml", "kind: Deployment\n", [CHART]),
    ("helm/todo-app/values.yaml", "replicas: 1\n", [CHART]),
    # What the deploy does not read changes nothing: no cycle.
    ("backend/debug.log", "noise\n", []),
    ("helm/todo-app/ci/prod-values.yaml", "x: 1\n", []),
    ("k8s/notes.txt", "notes\n", []),
    # A save that writes the same content back.
    ("backend/app.txt", "backend source\n", []),
])
def test_what_changed_is_decided_by_content_tags_and_the_chart_digest(tree, relative, text, expected):
    root, cfg = tree
    before = sources(cfg)
    edit(root / relative, text)
    assert changed(before, sources(cfg)) == expected


def test_changed_names_every_component_that_differs_in_order():
    assert changed({"backend": "a", "frontend": "b", CHART: "c"}, {"backend": "x", "frontend": "b", CHART: "y"}) == [
        "backend", CHART]
    assert changed({}, {"backend": "a"}) == ["backend"]


def test_the_watcher_reports_only_paths_that_count_and_ends_on_its_stop_event(tree):
    root, cfg = tree
    stop = threading.Event()
    batches: list[set[str]] = []

    def watch() -> None:
        for batch in watch_changes(cfg, stop):
            batches.append(batch)
            if any(path.endswith("app.txt") for path in batch):
                stop.set()

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    # The watcher needs a moment to set up its watches.
    deadline = time.monotonic() + 20
    while watcher.is_alive() and time.monotonic() < deadline:
        (root / "backend" / "debug.log").write_text(f"{time.monotonic()}\n")
        (root / "backend" / "app.txt").write_text(f"backend {time.monotonic()}\n")
        watcher.join(0.5)
    assert not watcher.is_alive(), "the watcher did not report the change or did not stop"
    reported = set().union(*batches)
    assert str(root / "backend" / "app.txt") in reported
    assert not [path for path in reported if path.endswith(".log")]
