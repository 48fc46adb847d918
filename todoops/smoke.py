"""`invoke validate --smoke`: use the deployed app as a person would (the seeds' SC-006 and SC-011).

Through the frontend Service, reached like validate's HTTP checks through the
API server's service proxy. ``kubectl get --raw`` only GETs and carries no
cookie, so a ``kubectl proxy`` (127.0.0.1, a port the kernel picks) runs for as
long as the flow does, and this process speaks HTTP to it with urllib. The flow
(``flow(base_url, backend_pods)``) needs only base URLs, so tests run it
against backends directly.

The frontend's keep-alive connections stick to one backend pod each, so a pod
that refuses the others' tokens (another JWT_SECRET) would be met only by
chance: right after the login, the session is also tried on each serving
backend pod directly, through a ``kubectl port-forward`` per pod.

The flow writes to the app's database: a throw-away account, named
``smoke-<hex>@smoke.invalid`` and with a random password, that is deleted again
through the backend's ``DELETE /api/auth/me`` after the steps, also when one of
them failed. The session is whatever login hands out: the frontend's httpOnly
``todo_session`` cookie, or the backend's bearer token when the flow talks to
the backend directly. The password, the token and the cookie are registered
with the redaction filter before anything could print them.

A failed step stops the flow (later steps build on it); its row names the step,
the HTTP status and the app's error code, with a hint. Every step is timed.
"""
import json
import re
import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from email.message import Message
from http.cookies import CookieError, SimpleCookie
from typing import Any

from invoke import Context

from .checks import Check, ok
from .commands import NotStarted, background
from .config import Settings
from .errors import ExitCode, fail
from .kubectl import kubectl
from .redaction import REDACTOR

SESSION_COOKIE = "todo_session"
PROXY_READY = re.compile(r"Starting to serve on 127\.0\.0\.1:(?P<port>\d+)")
FORWARD_READY = re.compile(r"Forwarding from 127\.0\.0\.1:(?P<port>\d+) ->")
PROXY_START_SECONDS = 30
# Long enough for the frontend's own 30 s wait on the backend (a chat that asks a model).
REQUEST_SECONDS = 35
# The seeds' API target (SC-005): a slower step is a warning, not a failure.
STEP_WARN_SECONDS = 1.0
# A token is only accepted by backend pods that share the secret it was signed with. When two
# disagree, each attempt (a fresh login, then the deletion, through random frontend pods) succeeds
# at least every other time: 20 leave the account behind less than once in a million runs.
DELETE_ATTEMPTS = 20
TASK_TITLE = "smoke check task"
RENAMED_TITLE = "smoke check task (renamed)"
CHAT_MESSAGE = "add buy milk tomorrow"


class StepFailed(Exception):
    """A step got an answer other than the one the app documents (``status`` None: no answer at all)."""

    def __init__(self, status: int | None, detail: str, code: str = "") -> None:
        super().__init__(detail)
        self.status, self.detail, self.code = status, detail, code

    def __str__(self) -> str:
        if self.status is None:
            return f"no answer: {self.detail}"
        return f"HTTP {self.status}" + (f" {self.code}" if self.code else "") + f": {self.detail}"


@dataclass(frozen=True)
class Account:
    email: str
    password: str

    @property
    def credentials(self) -> dict[str, str]:
        return {"email": self.email, "password": self.password}


def throwaway_account() -> Account:
    """A new account nobody else uses, recognisable as the smoke check's in the database."""
    account = Account(f"smoke-{secrets.token_hex(6)}@smoke.invalid", secrets.token_urlsafe(24))
    REDACTOR.add(account.password)
    return account


def session_of(headers: Message, body: Any) -> tuple[str, dict[str, str]]:
    """The login's token, and the header that proves the login on later requests: the frontend's
    session cookie (its value is the backend's token), else the backend's own bearer token."""
    for value in headers.get_all("Set-Cookie") or []:
        try:
            cookie = SimpleCookie(value)
        except CookieError:
            continue
        if SESSION_COOKIE in cookie and cookie[SESSION_COOKIE].value:
            token = cookie[SESSION_COOKIE].value
            REDACTOR.add(token)
            return token, {"Cookie": f"{SESSION_COOKIE}={token}"}
    token = body.get("access_token") if isinstance(body, dict) else None
    if not token:
        raise StepFailed(200, "login answered without a session cookie or token")
    REDACTOR.add(token)
    return token, bearer(token)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _error_of(raw: bytes) -> tuple[str, str]:
    """(code, detail) of an error body: the app's {"detail", "code"} or the API server's Status."""
    try:
        body = json.loads(raw)
    except ValueError:
        return "", raw.decode(errors="replace").strip()[:160] or "empty body"
    if not isinstance(body, dict):
        return "", str(body)[:160]
    if body.get("kind") == "Status":
        # The API server's own answer (its "code" is the HTTP status again): the proxy got no further.
        return str(body.get("reason", "")), str(body.get("message", ""))[:160]
    return str(body.get("code", "")), str(body.get("detail", ""))[:160]


class Client:
    """JSON over HTTP to one base URL, as one user once logged in; never through an HTTP proxy."""

    def __init__(self, base_url: str, run_id: str) -> None:
        self._base = base_url.rstrip("/")
        self.run_id = run_id
        # Proxies from the environment would send 127.0.0.1 traffic elsewhere.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        # The app's logs carry the request id: the smoke check's requests are easy to find.
        self._headers = {"Accept": "application/json", "X-Request-ID": run_id}

    def log_in_with(self, session: Mapping[str, str]) -> None:
        self._headers = {**self._headers, **session}

    def call(self, method: str, path: str, body: object = None, expect: int = 200,
             shape: type | None = None) -> tuple[Any, Message]:
        """The JSON body (None when empty) and headers of an answer with status ``expect``, else StepFailed.

        ``shape`` (dict or list) is what the JSON body must be.
        """
        data = None if body is None else json.dumps(body).encode()
        headers = {**self._headers, **({"Content-Type": "application/json"} if data else {})}
        request = urllib.request.Request(self._base + path, data=data, method=method, headers=headers)
        try:
            with self._opener.open(request, timeout=REQUEST_SECONDS) as response:
                status, raw, answer_headers = response.status, response.read(), response.headers
        except urllib.error.HTTPError as error:
            status, raw, answer_headers = error.code, error.read(), error.headers
        except (urllib.error.URLError, OSError) as error:
            raise StepFailed(None, str(getattr(error, "reason", error))) from None
        if status != expect:
            code, detail = _error_of(raw)
            raise StepFailed(status, detail, code)
        return _parsed(status, raw, shape), answer_headers


def _parsed(status: int, raw: bytes, shape: type | None) -> Any:
    try:
        value = json.loads(raw) if raw else None
    except ValueError:
        raise StepFailed(status, f"the answer is not JSON: {raw[:80]!r}") from None
    if shape is not None and not isinstance(value, shape):
        raise StepFailed(status, f"expected a JSON {shape.__name__}, got {str(value)[:80]!r}")
    return value


@dataclass
class Run:
    """One pass of the flow: the client, the throw-away account and what the steps made."""

    client: Client
    account: Account
    # (pod name, base URL) of each serving backend pod, reached directly (a port-forward).
    backend_pods: Sequence[tuple[str, str]] = ()
    registered: bool = False
    token: str = ""
    task_id: int = 0
    chat_task_id: int = 0


def expect(condition: bool, what: str) -> None:
    if not condition:
        raise StepFailed(200, what)


def register(run: Run) -> None:
    run.client.call("POST", "/api/auth/register", run.account.credentials, expect=201)
    run.registered = True


def log_in(run: Run) -> None:
    body, headers = run.client.call("POST", "/api/auth/login", run.account.credentials, shape=dict)
    run.token, session = session_of(headers, body)
    run.client.log_in_with(session)


def every_backend_pod_accepts(run: Run) -> None:
    """Each backend pod honours the session. A pod with another JWT_SECRET refuses every token the
    others sign, but through the frontend that shows only by chance: the frontend's keep-alive
    connections stick to one backend pod each. So each pod is asked directly."""
    for name, url in run.backend_pods:
        pod = Client(url, run.client.run_id)
        pod.log_in_with(bearer(run.token))
        try:
            pod.call("GET", "/api/auth/me", shape=dict)
        except StepFailed as refused:
            raise StepFailed(refused.status, f"pod {name}: {refused.detail}", refused.code) from None


def create_task(run: Run) -> None:
    task, _ = run.client.call("POST", "/api/tasks", {"title": TASK_TITLE}, expect=201, shape=dict)
    expect(task.get("title") == TASK_TITLE and isinstance(task.get("id"), int), f"created task is {task!r:.80}")
    run.task_id = task["id"]


def list_tasks(run: Run) -> None:
    tasks, _ = run.client.call("GET", "/api/tasks", shape=list)
    expect(run.task_id in [task.get("id") for task in tasks if isinstance(task, dict)],
           f"task {run.task_id} is not in the list")


def update_task(run: Run) -> None:
    task, _ = run.client.call("PATCH", f"/api/tasks/{run.task_id}", {"title": RENAMED_TITLE}, shape=dict)
    expect(task.get("title") == RENAMED_TITLE, f"task {run.task_id} kept title {task.get('title')!r}")


def complete_task(run: Run) -> None:
    task, _ = run.client.call("PATCH", f"/api/tasks/{run.task_id}", {"done": True}, shape=dict)
    expect(task.get("done") is True, f"task {run.task_id} is not done")


def delete_task(run: Run) -> None:
    run.client.call("DELETE", f"/api/tasks/{run.task_id}", expect=204)
    try:
        run.client.call("GET", f"/api/tasks/{run.task_id}", expect=404)
    except StepFailed as still:
        raise StepFailed(still.status, f"task {run.task_id} still answers after its deletion") from None


def chat(run: Run) -> None:
    answer, _ = run.client.call("POST", "/api/chat", {"message": CHAT_MESSAGE}, shape=dict)
    created = [action.get("task_id") for action in answer.get("actions") or []
               if isinstance(action, dict) and action.get("type") == "create"]
    expect(bool(created) and isinstance(created[0], int),
           f"the chat created no task (reply: {str(answer.get('reply'))[:80]!r})")
    run.chat_task_id = created[0]


def chat_task_exists(run: Run) -> None:
    task, _ = run.client.call("GET", f"/api/tasks/{run.chat_task_id}", shape=dict)
    expect("milk" in str(task.get("title", "")).lower(), f"chat task {run.chat_task_id} is {task.get('title')!r}")


STEPS: tuple[tuple[str, Callable[[Run], None]], ...] = (
    ("register", register), ("log in", log_in), ("create task", create_task), ("list tasks", list_tasks),
    ("update task", update_task), ("complete task", complete_task), ("delete task", delete_task),
    ("chat", chat), ("chat task exists", chat_task_exists),
)
POD_STEP = ("every backend pod", every_backend_pod_accepts)


def steps_for(run: Run) -> tuple[tuple[str, Callable[[Run], None]], ...]:
    """The steps, with the session checked on each backend pod right after the login when pods are known."""
    return (*STEPS[:2], POD_STEP, *STEPS[2:]) if run.backend_pods else STEPS


def delete_account(run: Run) -> None:
    """Remove the throw-away account and its data, then prove it can no longer log in."""
    for attempt in range(DELETE_ATTEMPTS):
        try:
            run.client.call("DELETE", "/api/auth/me", expect=204)
            break
        except StepFailed as refused:
            if refused.status != 401 or attempt == DELETE_ATTEMPTS - 1:
                raise
            # Not logged in (login failed), or a pod refused another pod's token: log in afresh.
            log_in(run)
    try:
        run.client.call("POST", "/api/auth/login", run.account.credentials, expect=401)
    except StepFailed as still:
        raise StepFailed(still.status, "the account still logs in after its deletion") from None


def hint(step: str, failure: StepFailed, email: str) -> str:
    """What to look at, from where the flow stopped and how."""
    if step == "delete account":
        return (f"remove {email} by hand (psql in the database pod: DELETE FROM users WHERE email = '{email}'); "
                "its tasks go with it")
    if failure.status is None and step == POD_STEP[0]:
        return "the port-forward to the pod did not answer: is the pod still running?"
    if failure.status is None:
        return "the API server's service proxy did not answer: run `invoke validate` for the cluster checks"
    if failure.code in ("backend_unavailable", "backend_timeout"):
        return "the frontend cannot reach the backend: check the backend Service's endpoints and BACKEND_URL"
    if failure.status == 503 and failure.code == "ServiceUnavailable":
        return "the frontend Service has no ready pod: run `invoke rollout.wait`"
    if failure.status == 401 and step != "log in":
        return ("the backend refused a token it issued: do all backend pods run with the same JWT_SECRET? "
                "(`invoke prepare-secrets`, then restart them)")
    if failure.status >= 500:
        return "the backend failed: is its database up? read `invoke app.logs --component backend`"
    return "read `invoke app.logs --component backend` and `invoke app.logs --component frontend`"


def timed(name: str, step: Callable[[Run], None], run: Run) -> Check:
    """Run one step: a check row with its time, or with the failure and its hint."""
    started = time.monotonic()
    try:
        step(run)
    except StepFailed as failure:
        took = time.monotonic() - started
        return Check(f"smoke {name}", "fail", REDACTOR(f"{failure} ({took:.2f}s)"),
                     hint(name, failure, run.account.email), ExitCode.UNHEALTHY)
    took = time.monotonic() - started
    if took > STEP_WARN_SECONDS:
        return Check(f"smoke {name}", "warn", f"{took:.2f}s > {STEP_WARN_SECONDS:.0f}s",
                     "see the pods' resources and `invoke app.logs`")
    return ok(f"smoke {name}", f"{took:.2f}s")


def flow(base_url: str, backend_pods: Sequence[tuple[str, str]] = ()) -> list[Check]:
    """Every step against ``base_url`` (the app's origin: /api/... below it), then the account's removal.

    ``backend_pods``: (name, base URL) of each backend pod, to check the session on each.
    """
    account = throwaway_account()
    run = Run(Client(base_url, account.email.split("@")[0]), account, backend_pods)
    steps = steps_for(run)
    found: list[Check] = []
    try:
        for index, (name, step) in enumerate(steps):
            found.append(timed(name, step, run))
            if found[-1].status == "fail":
                found += [Check(f"smoke {later}", "skip", f"not run: {name} failed") for later, _ in steps[index + 1:]]
                break
    finally:
        if run.registered:
            found.append(timed("delete account", delete_account, run))
    return found


def service_path(namespace: str, service: Mapping) -> str:
    """The API server's proxy to ``service``'s first port (the path validate's HTTP checks use too)."""
    port = service["spec"]["ports"][0]["port"]
    return f"/api/v1/namespaces/{namespace}/services/http:{service['metadata']['name']}:{port}/proxy"


def refuse_remote(cfg: Settings) -> None:
    """The flow's HTTP runs in this process, and a ``kubectl proxy`` over --host would listen on the other machine."""
    if cfg.host:
        fail(f"--smoke does not run over --host ({cfg.host})",
             "run `invoke validate --smoke` on that machine, or validate without --smoke", ExitCode.BAD_INPUT)


def of_component(objects: Sequence[Mapping], name: str) -> list[Mapping]:
    return [item for item in objects
            if item.get("metadata", {}).get("labels", {}).get("app.kubernetes.io/component") == name]


def serving_backends(pods: Sequence[Mapping]) -> list[tuple[str, int]]:
    """(name, port) of each backend pod that serves: Ready and not on its way out."""
    serving = []
    for pod in of_component(pods, "backend"):
        ready = any(condition.get("type") == "Ready" and condition.get("status") == "True"
                    for condition in pod.get("status", {}).get("conditions") or [])
        ports = [port["containerPort"] for container in pod["spec"]["containers"] if container["name"] == "backend"
                 for port in container.get("ports") or []]
        if ready and ports and not pod["metadata"].get("deletionTimestamp"):
            serving.append((pod["metadata"]["name"], ports[0]))
    return serving


def smoke_checks(c: Context, cfg: Settings, services: Sequence[Mapping], pods: Sequence[Mapping]) -> list[Check]:
    """The flow through the release's frontend Service, while a ``kubectl proxy`` runs for it and a
    port-forward to each serving backend pod (all stopped again when the flow ends)."""
    frontend = of_component(services, "frontend")
    if not frontend:
        return [Check("smoke", "fail", "no frontend Service", "run `invoke deploy`", ExitCode.UNHEALTHY)]
    try:
        with ExitStack() as running:
            proxy_argv = kubectl(cfg, "proxy", "--port", "0", "--address", "127.0.0.1")
            proxy = running.enter_context(background(c, proxy_argv, PROXY_READY, PROXY_START_SECONDS))
            backend_pods = [(name, f"http://127.0.0.1:{running.enter_context(forward(c, cfg, name, port))['port']}")
                            for name, port in serving_backends(pods)]
            return flow(f"http://127.0.0.1:{proxy['port']}{service_path(cfg.namespace, frontend[0])}", backend_pods)
    except NotStarted as error:
        return [Check("smoke proxy", "fail", str(error), "check that kubectl can proxy and port-forward with this "
                      "context", ExitCode.UNHEALTHY)]


def forward(c: Context, cfg: Settings, pod: str, port: int):
    """A ``kubectl port-forward`` to ``pod`` on a 127.0.0.1 port the kernel picks (the match's "port")."""
    return background(c, kubectl(cfg, "port-forward", "--address", "127.0.0.1", f"pod/{pod}", f":{port}"),
                      FORWARD_READY, PROXY_START_SECONDS)
