"""todoops.kubectl: only the API's NotFound means absent; every other failed read stops the task."""
import json

import pytest
from invoke import Exit

from tests.conftest import commands_run
from tests.unit.fixtures import failed, line, not_found, ok, project
from todoops.config import resolve
from todoops.errors import ExitCode
from todoops.kubectl import ensure_namespace, get_json, get_names, selector
from todoops.report import Report
from todoops.secrets import prepare

KUBECTL = ["kubectl", "--context", "minikube", "--namespace", "todo-app"]
GET_SECRET = line([*KUBECTL, "get", "secret", "todo-app-secrets", "-o", "json"])
GET_NS = line([*KUBECTL, "get", "namespace", "todo-app", "-o", "name"])
APPLY = line([*KUBECTL, "apply", "-f", "-"])
# What kubectl prints for each way a read fails without the object being absent.
FAILURES = {
    "forbidden": (failed(stderr='Error from server (Forbidden): secrets "todo-app-secrets" is forbidden: User '
                                '"system:serviceaccount:ci:deployer" cannot get resource "secrets"\n'),
                  ExitCode.FAILED, "cannot get resource"),
    "server error": (failed(stderr="Error from server (InternalError): an error on the server (\"\") has prevented "
                                   "the request from succeeding\n"), ExitCode.FAILED, "InternalError"),
    "timeout": (failed(stderr="Unable to connect to the server: net/http: TLS handshake timeout\n"),
                ExitCode.UNREACHABLE, "TLS handshake timeout"),
    "refused": (failed(stderr="The connection to the server 127.0.0.1:6443 was refused - did you specify the right "
                              "host or port?\n"), ExitCode.UNREACHABLE, "was refused"),
    "no message": (failed(exited=1), ExitCode.FAILED, "exit code 1"),
    # A NotFound about the API itself (a removed CRD), not about the object: not "absent".
    "no such api": (failed(stderr="Error from server (NotFound): the server could not find the requested resource\n"),
                    ExitCode.FAILED, "could not find the requested resource"),
}


def test_not_found_is_absent_and_a_found_object_is_parsed(make_context):
    c = make_context({GET_SECRET: not_found("secrets", "todo-app-secrets")})
    assert get_json(c, resolve(c), "secret", "todo-app-secrets") is None
    c = make_context({GET_SECRET: ok(json.dumps({"data": {}}))})
    assert get_json(c, resolve(c), "secret", "todo-app-secrets") == {"data": {}}


def test_an_empty_list_is_an_answer_not_an_error(make_context):
    listing = line([*KUBECTL, "get", "pods", "-l", "a=b", "-o", "name"])
    c = make_context({listing: ok("")})
    assert get_names(c, resolve(c), "pods", "-l", "a=b") == []


@pytest.mark.parametrize("failure", FAILURES)
def test_every_other_failure_stops_with_the_apis_message(make_context, failure):
    result, code, said = FAILURES[failure]
    c = make_context({GET_SECRET: result})
    with pytest.raises(Exit) as error:
        get_json(c, resolve(c), "secret", "todo-app-secrets")
    assert error.value.code == code
    assert said in error.value.message and "get secret todo-app-secrets" in error.value.message
    assert "hint: " in error.value.message


@pytest.mark.parametrize("failure", ["forbidden", "timeout"])
def test_a_namespace_that_could_not_be_read_is_never_applied_over(make_context, failure):
    # Someone else's namespace behind a flaky read must not be relabelled as ours.
    c = make_context({GET_NS: FAILURES[failure][0]})
    with pytest.raises(Exit):
        ensure_namespace(c, resolve(c))
    assert APPLY not in commands_run(c)


def test_a_missing_namespace_is_created(make_context):
    c = make_context({GET_NS: not_found("namespaces", "todo-app"), APPLY: ok()})
    assert ensure_namespace(c, resolve(c)) is True
    assert commands_run(c) == [GET_NS, APPLY]


@pytest.mark.parametrize("failure", ["forbidden", "server error", "timeout"])
def test_a_secret_that_could_not_be_read_is_never_regenerated(make_context, tmp_path, failure):
    # The data-loss case: new generated passwords applied over the ones PostgreSQL keeps in its volume.
    project(tmp_path, {"JWT_SECRET": "", "POSTGRES_PASSWORD": "", "DATABASE_URL": "", "OPENAI_API_KEY": "",
                       "OPENAI_BASE_URL": "", "OPENAI_MODEL": ""})
    c = make_context({GET_SECRET: FAILURES[failure][0]})
    with pytest.raises(Exit) as error:
        prepare(c, resolve(c), Report())
    assert error.value.code == FAILURES[failure][1]
    assert commands_run(c) == [GET_SECRET]


def test_the_release_selector_names_the_charts_own_name(make_context, tmp_path):
    chart_file = tmp_path / "helm" / "todo-app" / "Chart.yaml"
    c = make_context()
    chart_file.write_text(chart_file.read_text().replace("name: todo-app", "name: todo-app-fork"))
    assert selector(resolve(c)) == "app.kubernetes.io/part-of=todo-app-fork,app.kubernetes.io/instance=todo-app"


@pytest.mark.parametrize("text", [None, "version: 1.0.0\n", "name: [unclosed\n"])
def test_a_chart_without_a_readable_name_is_bad_input_not_a_traceback(make_context, tmp_path, text):
    chart_file = tmp_path / "helm" / "todo-app" / "Chart.yaml"
    c = make_context()
    if text is None:
        chart_file.unlink()
    else:
        chart_file.write_text(text)
    with pytest.raises(Exit) as error:
        selector(resolve(c))
    assert error.value.code == ExitCode.BAD_INPUT and "Chart.yaml" in error.value.message
