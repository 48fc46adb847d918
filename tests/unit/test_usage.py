import pytest

from tests.conftest import commands_run
from tests.unit.fixtures import failed, line, ok
from todoops.config import resolve
from todoops.usage import quantity, usage_checks, usage_checks_from

TOP = line(["kubectl", "--context", "minikube", "--namespace", "todo-app", "top", "pods", "-l",
            "app.kubernetes.io/part-of=todo-app,app.kubernetes.io/instance=todo-app", "--containers", "--no-headers"])


def pod(name: str, component: str, requests: dict, limits: dict) -> dict:
    return {"metadata": {"name": name, "labels": {"app.kubernetes.io/component": component}},
            "spec": {"containers": [{"name": component, "resources": {"requests": requests, "limits": limits}}]}}


BACKEND = [pod(f"todo-app-backend-{n}", "backend", {"cpu": "100m", "memory": "128Mi"},
               {"cpu": "500m", "memory": "256Mi"}) for n in "ab"]


@pytest.mark.parametrize("text, value", [("250m", 0.25), ("1", 1.0), ("1.5", 1.5), ("64Mi", 64 * 2**20),
                                         ("1Gi", 2**30), ("500k", 5e5), ("12345", 12345.0), ("2500000n", 0.0025)])
def test_quantities_read_like_kubernetes_reads_them(text, value):
    assert quantity(text) == pytest.approx(value)


def test_each_workload_is_summed_over_its_pods_against_its_requests_and_limits():
    top = "todo-app-backend-a backend 20m 64Mi\ntodo-app-backend-b backend 30m 64Mi\n"
    [row] = usage_checks_from(top, BACKEND)
    assert (row.name, row.status) == ("resources backend", "ok")
    assert row.detail == ("cpu 50m (25% of request 200m, 5% of limit 1000m); "
                          "memory 128Mi (50% of request 256Mi, 25% of limit 512Mi)")


def test_a_container_above_80_percent_of_its_limit_is_a_warning_naming_it():
    top = "todo-app-backend-a backend 20m 230Mi\ntodo-app-backend-b backend 30m 64Mi\n"
    [row] = usage_checks_from(top, BACKEND)
    assert row.status == "warn"
    assert "above 80%: todo-app-backend-a/backend memory 90%" in row.detail and row.hint


def test_without_a_limit_the_request_is_the_cap():
    top = "db-0 postgresql 95m 10Mi\n"
    [row] = usage_checks_from(top, [pod("db-0", "postgresql", {"cpu": "100m"}, {})])
    assert row.status == "warn" and "db-0/postgresql cpu 95%" in row.detail and "of limit 0m" in row.detail


def test_no_metrics_yet_is_a_warning_not_a_pass():
    [row] = usage_checks_from("", BACKEND)
    assert row.status == "warn" and "no container" in row.detail


def test_no_metrics_api_is_a_warning_that_says_what_to_install(make_context):
    c = make_context({TOP: failed(stderr="error: Metrics API not available\n")})
    [row] = usage_checks(c, resolve(c), BACKEND)
    assert commands_run(c) == [TOP]
    assert (row.status, row.detail) == ("warn", "no metrics: error: Metrics API not available")
    assert "metrics-server" in row.hint


def test_unreadable_numbers_are_a_warning_never_a_traceback(make_context):
    c = make_context({TOP: ok("todo-app-backend-a backend lots 64Mi\n")})
    [row] = usage_checks(c, resolve(c), BACKEND)
    assert row.status == "warn" and "unreadable" in row.detail
