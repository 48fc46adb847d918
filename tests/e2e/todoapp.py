"""Helpers for the end-to-end tests of the suite itself (tests/e2e/test_*.py, bench/e2e_deploy.py).

- ``Cluster``: the kind cluster of `invoke cluster.up` (context ``kind-<cluster.name>``,
  the kubeconfig of $KUBECONFIG or kubectl's default), its nodes and what they hold.
  ``kind_cluster()`` uses the running one, or brings one up (and down again) itself.
- ``Project``: a throw-away copy of the repository (no .git, node_modules,
  virtualenvs, build outputs or the developer's .env) with a test ``.env``, and
  the real CLI (``.venv/bin/invoke``) run in it as a subprocess, pointed at the
  cluster and at one namespace through ``INVOKE_TODOOPS_*`` variables.
  Edits for a test happen in the copy: the real working tree is never touched.
- ``port_forward``: ``kubectl port-forward`` on 127.0.0.1, the local port
  kubectl chose, stopped on exit (the suite's own ``processes.background``).
- ``Traffic``: a bounded HTTP client at a fixed rate that records every failure.
- ``TodoClient``: register/log in/add tasks through the frontend's /api proxy.
"""

import json
import os
import re
import secrets
import shutil
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.client import HTTPException
from pathlib import Path

from invoke import Config, Context

from todoops.processes import background
from todoops.config import DEFAULTS, Settings, env_name, resolve

REPO = Path(__file__).resolve().parents[2]
INVOKE = REPO / ".venv" / "bin" / "invoke"
# A cluster the tests bring up themselves: a control plane and two workers, the
# most that fits our 2-core machines, so the multi-node tests have nodes to use.
E2E_NODES = 3
# Never copied: big, machine-specific, generated, or secret (the developer's .env).
_IGNORED = shutil.ignore_patterns(
    ".git", "node_modules", ".venv", ".next", "test-artifacts", "__pycache__", ".pytest_cache",
    "*.egg-info", "coverage", ".env", ".env.*", "*.secret.yaml", "secrets", "*.tsbuildinfo")


def COPY_IGNORE(folder: str, names: list[str]) -> set[str]:  # noqa: N802 (a copytree ignore callable)
    # .env.example documents the keys (preflight reads it); every other .env* may hold real secrets.
    return _IGNORED(folder, names) - {".env.example"}


# The objects the chart and k8s/ name (release todo-app).
RELEASE = "todo-app"
BACKEND = f"{RELEASE}-backend"
FRONTEND = f"{RELEASE}-frontend"
DATABASE = f"{RELEASE}-postgresql"
SELECTOR = f"app.kubernetes.io/part-of=todo-app,app.kubernetes.io/instance={RELEASE}"
FRONTEND_PORT = 3000


def cache_root() -> Path:
    """Where .ci/run keeps the tools it builds (helm, kind, docker's CLI in ``bin/``)."""
    return Path(os.environ.get("TODOOPS_CACHE", Path.home() / ".cache" / "todoops"))


def tool_path() -> str:
    """PATH with the CI's tool folder (helm, kind) in front."""
    return os.pathsep.join([str(cache_root() / "bin"), os.environ.get("PATH", "")])


def sh(argv: list[str], *, stdin: str | None = None, timeout: float = 180, check: bool = True,
       env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """One command; with ``check`` a non-zero exit fails the test with its output."""
    completed = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=timeout,
                               env=env if env is not None else {**os.environ, "PATH": tool_path()}, cwd=cwd)
    if check and completed.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} exited {completed.returncode}:\n"
                             f"{completed.stdout[-3000:]}{completed.stderr[-3000:]}")
    return completed


def suite_settings() -> Settings:
    """The suite's settings as a task in this repository resolves them (invoke.yaml, INVOKE_TODOOPS_*)."""
    config = Config(project_location=str(REPO))
    config.load_collection(DEFAULTS)
    config.load_project()
    config.load_shell_env()
    return resolve(Context(config))


def cli(*args: str, timeout: float = 1800) -> subprocess.CompletedProcess:
    """``invoke ARGS`` of this repository (cluster.up, cluster.status...), its output captured."""
    return sh([str(INVOKE), *args], timeout=timeout, check=False, cwd=REPO)


@dataclass(frozen=True)
class Cluster:
    """The kind cluster ``name``: kubectl on its context, its nodes, the images they hold."""

    name: str
    # $KUBECONFIG as given (it may list several files), else kubectl's default file.
    kubeconfig: str = field(default_factory=lambda: os.environ.get("KUBECONFIG")
                            or str(Path.home() / ".kube" / "config"))

    @property
    def context(self) -> str:
        return f"kind-{self.name}"

    def env(self) -> dict[str, str]:
        """The environment of a command aimed at this cluster, without the caller's INVOKE_* settings."""
        env = {key: value for key, value in os.environ.items() if not key.startswith("INVOKE_")}
        return {**env, "PATH": tool_path(), "KUBECONFIG": self.kubeconfig}

    def kubectl(self, *args: str, namespace: str | None = None, stdin: str | None = None, timeout: float = 180,
                check: bool = True) -> str:
        scope = ["--namespace", namespace] if namespace else []
        return sh(["kubectl", "--context", self.context, *scope, *args], stdin=stdin, timeout=timeout,
                  check=check, env=self.env()).stdout

    def exists(self) -> bool:
        return self.name in sh(["kind", "get", "clusters"], env=self.env()).stdout.split()

    def nodes(self) -> list[str]:
        return sorted(sh(["kind", "get", "nodes", "--name", self.name], env=self.env()).stdout.split())

    def load(self, *refs: str) -> None:
        """``kind load docker-image``: every node gets the images."""
        sh(["kind", "load", "docker-image", *refs, "--name", self.name], timeout=600, env=self.env())

    def images(self) -> dict[str, set[str]]:
        """Each node's image refs, as its containerd (the kubelet's image store) lists them."""
        return {node: set(sh(["docker", "exec", node, "ctr", "-n", "k8s.io", "images", "ls", "-q"],
                             env=self.env()).stdout.split()) for node in self.nodes()}


class ClusterUnavailable(Exception):
    """The kind cluster is not running and `invoke cluster.up` could not start it."""


def nodes_to_create(settings: Settings) -> int:
    """The configured node count when one is set (INVOKE_TODOOPS_CLUSTER_NODES), else E2E_NODES."""
    return settings.cluster.nodes if env_name(("cluster", "nodes")) in os.environ else E2E_NODES


@contextmanager
def kind_cluster() -> Iterator[Cluster]:
    """The running kind cluster, made ready with `invoke cluster.up` when it is not.

    A cluster this brings up from nothing it deletes afterwards; one that was
    there stays (a developer's long-lived cluster survives a test run).
    """
    settings = suite_settings()
    cluster = Cluster(settings.cluster.name)
    existed = cluster.exists()
    if not existed or cli("cluster.status").returncode != 0:
        count = len(cluster.nodes()) if existed else nodes_to_create(settings)
        started = time.monotonic()
        up = cli("cluster.up", "--nodes", str(count))
        if up.returncode != 0:
            if not existed:
                cli("cluster.down")
            raise ClusterUnavailable(f"`invoke cluster.up --nodes {count}` exited {up.returncode}:\n"
                                     f"{up.stdout[-4000:]}{up.stderr[-4000:]}")
        print(f"kind cluster {cluster.name}: `invoke cluster.up --nodes {count}` took "
              f"{time.monotonic() - started:.0f} s")
    try:
        yield cluster
    finally:
        if not existed:
            cli("cluster.down")


ECHOED = re.compile(r"^(\[[\w-]+\] )?\$ ")


def command_lines(output: str, needle: str) -> list[str]:
    """The echoed commands (``$ ...``, or ``[backend] $ ...`` from a parallel build) that contain ``needle``."""
    return [line for line in output.splitlines() if ECHOED.match(line.lstrip()) and needle in line]


def pristine_copy(parent: Path) -> Path:
    """One snapshot of the repository for a whole run: other engineers keep editing the real tree,
    and every copy made from this one has the same content tags (so images are built once)."""
    root = parent / "pristine"
    shutil.copytree(REPO, root, ignore=COPY_IGNORE, symlinks=True)
    return root


def new_namespace(prefix: str = "e2e-app") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def test_env_file(path: Path) -> None:
    """A valid .env with fresh random values (never the developer's); optional keys are left out."""
    path.write_text(
        "# written by tests/e2e: throw-away values for one test run\n"
        f"JWT_SECRET={secrets.token_urlsafe(48)}\n"
        f"POSTGRES_PASSWORD={secrets.token_urlsafe(24)}\n")
    path.chmod(0o600)


@dataclass
class Project:
    """A copy of the repository deployed by the real CLI into one namespace of the cluster."""

    root: Path
    namespace: str
    cluster: Cluster
    # INVOKE_TODOOPS_* settings for every run (e.g. method=helm); a None value is left unset.
    settings: dict[str, str | None] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)

    @classmethod
    def create(cls, parent: Path, namespace: str, cluster: Cluster, source: Path = REPO,
               **settings: str | None) -> "Project":
        """A copy of ``source`` (the repository, or a pristine copy of it) under ``parent``.

        The provider is kind unless ``provider`` says otherwise (None: the one the context implies).
        """
        root = parent / "project"
        shutil.copytree(source, root, ignore=COPY_IGNORE, symlinks=True)
        # The browser test needs playwright-core; docker never sees it (.dockerignore).
        (root / "frontend" / "node_modules").symlink_to(REPO / "frontend" / "node_modules")
        test_env_file(root / ".env")
        return cls(root, namespace, cluster, {"provider": "kind", **settings})

    def env(self, **settings: str | None) -> dict[str, str]:
        chosen = {"context": self.cluster.context, "namespace": self.namespace,
                  "env_file": str(self.root / ".env"), **self.settings, **settings}
        return {**self.cluster.env(), "NO_COLOR": "1",
                **{f"INVOKE_TODOOPS_{key.upper()}": str(value) for key, value in chosen.items() if value is not None}}

    def invoke(self, *args: str, timeout: float = 1200, check: bool = True, **settings: str | None) -> "Run":
        """``invoke ARGS`` in the copy; with ``check`` a non-zero exit fails the test with the output."""
        started = time.monotonic()
        completed = subprocess.run([str(INVOKE), *args], cwd=self.root, env=self.env(**settings),
                                   stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)
        result = Run(list(args), completed.returncode, completed.stdout, completed.stderr,
                     time.monotonic() - started)
        self.log.append(f"$ invoke {' '.join(args)}  -> exit {result.code} in {result.seconds:.1f} s")
        if check and result.code != 0:
            raise AssertionError(f"invoke {' '.join(args)} exited {result.code}\n{result.output}")
        return result

    def kubectl(self, *args: str, stdin: str | None = None, timeout: float = 180, check: bool = True) -> str:
        return self.cluster.kubectl(*args, namespace=self.namespace, stdin=stdin, timeout=timeout, check=check)

    def remove(self) -> None:
        """`invoke clean`, then the namespace deleted and waited for (while its pods run, another
        test's clean must keep the images they use); prints the log of every CLI run."""
        self.invoke("clean", "--yes", check=False, timeout=600)
        self.kubectl("delete", "namespace", self.namespace, "--ignore-not-found", "--timeout=180s", check=False,
                     timeout=240)
        print("\n".join(self.log))

    def kubectl_json(self, *args: str) -> dict:
        return json.loads(self.kubectl("get", *args, "-o", "json"))

    def pods(self, selector: str = SELECTOR) -> list[dict]:
        return self.kubectl_json("pods", "-l", selector)["items"]

    def pod_uids(self) -> dict[str, str]:
        return {pod["metadata"]["name"]: pod["metadata"]["uid"] for pod in self.pods()}

    def component_pods(self, component: str) -> list[dict]:
        return self.pods(f"{SELECTOR},app.kubernetes.io/component={component}")

    def wait_all_ready(self, timeout: int = 180) -> None:
        self.kubectl("wait", "--for=condition=Ready", "pods", "-l", SELECTOR, f"--timeout={timeout}s",
                     timeout=timeout + 30)

    def images_in_cluster(self) -> dict[str, set[str]]:
        return self.cluster.images()

    def append(self, relative: str, text: str) -> None:
        with (self.root / relative).open("a") as file:
            file.write(text)

    def edit(self, relative: str, old: str, new: str) -> None:
        """Replace ``old`` (which must occur) by ``new`` in one file of the copy."""
        path = self.root / relative
        text = path.read_text()
        assert old in text, f"{old!r} not in {relative}"
        path.write_text(text.replace(old, new, 1))


def ready(pod: dict) -> bool:
    """Serving: Ready and not on its way out (a stopping pod drains for drainSeconds while still Ready)."""
    return "deletionTimestamp" not in pod["metadata"] and any(
        c["type"] == "Ready" and c["status"] == "True" for c in pod["status"].get("conditions", []))


@dataclass(frozen=True)
class Run:
    args: list[str]
    code: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


@contextmanager
def port_forward(where: Project, target: str, port: int, timeout: float = 60) -> Iterator[str]:
    """``kubectl port-forward --address 127.0.0.1 TARGET :PORT`` in the namespace of ``where`` (anything with
    ``cluster`` and ``namespace``: a Project, a conftest.Kube); yields http://127.0.0.1:LOCAL."""
    argv = ["kubectl", "--context", where.cluster.context, "--namespace", where.namespace, "port-forward",
            "--address", "127.0.0.1", target, f":{port}"]
    c = Context(Config(overrides={"run": {"env": {"KUBECONFIG": where.cluster.kubeconfig}}}))
    with background(c, argv, re.compile(r"127\.0\.0\.1:(\d+)"), timeout) as ready:
        base = f"http://127.0.0.1:{ready[1]}"
        wait_http(base + "/", accept_any=True)
        yield base


def http(method: str, url: str, body: dict | None = None, headers: dict | None = None,
         timeout: float = 10) -> tuple[int, dict, bytes]:
    """(status, headers, body) of one request; HTTP errors are answers, not exceptions."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"content-type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def wait_http(url: str, timeout: float = 60, accept_any: bool = False) -> int:
    """Poll until ``url`` answers (200, or anything with ``accept_any``); bounded."""
    deadline = time.monotonic() + timeout
    problem = "no answer"
    while time.monotonic() < deadline:
        try:
            status, _, _ = http("GET", url, timeout=5)
            if status == 200 or accept_any:
                return status
            problem = f"HTTP {status}"
        except (OSError, HTTPException) as error:
            problem = repr(error)
        time.sleep(0.5)
    raise AssertionError(f"{url} did not answer within {timeout} s (last: {problem})")


class TodoClient:
    """A user of the deployed app, through the frontend (its /api proxy and session cookie)."""

    def __init__(self, base: str):
        self.base = base
        self.email = f"e2e-{uuid.uuid4().hex[:8]}@example.com"
        self.password = "correct horse battery staple"
        self.cookie = ""

    def register_and_log_in(self) -> None:
        status, _, body = http("POST", f"{self.base}/api/auth/register",
                               {"email": self.email, "password": self.password})
        assert status == 201, f"register: HTTP {status} {body[:200]!r}"
        self.log_in()

    def log_in(self) -> None:
        status, headers, body = http("POST", f"{self.base}/api/auth/login",
                                     {"email": self.email, "password": self.password})
        assert status == 200, f"login: HTTP {status} {body[:200]!r}"
        cookie = next((value for key, value in headers.items() if key.lower() == "set-cookie"), "")
        self.cookie = cookie.split(";", 1)[0]
        assert self.cookie, "login set no session cookie"

    def add_task(self, title: str) -> None:
        status, _, body = http("POST", f"{self.base}/api/tasks", {"title": title}, {"cookie": self.cookie})
        assert status == 201, f"add task: HTTP {status} {body[:200]!r}"

    def titles(self) -> list[str]:
        status, _, body = http("GET", f"{self.base}/api/tasks", headers={"cookie": self.cookie})
        assert status == 200, f"list tasks: HTTP {status} {body[:200]!r}"
        return [task["title"] for task in json.loads(body)]


class Background:
    """``_run`` on a thread of its own while the ``with`` block runs; it ends when ``_stop`` is set."""

    def __post_init__(self):
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        raise NotImplementedError

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(30)


@dataclass
class Traffic(Background):
    """GET ``url`` at ``rate`` per second on a background thread until stopped (bounded by ``limit`` s)."""

    url: str
    headers: dict[str, str]
    rate: float = 20
    limit: float = 600
    ok: int = 0
    failures: list[str] = field(default_factory=list)

    def _run(self) -> None:
        interval = 1 / self.rate
        started = time.monotonic()
        next_at = started
        while not self._stop.is_set() and time.monotonic() - started < self.limit:
            try:
                status, _, body = http("GET", self.url, headers=self.headers, timeout=5)
                if status == 200:
                    self.ok += 1
                else:
                    self.failures.append(f"{time.monotonic() - started:.1f}s HTTP {status} {body[:120]!r}")
            except (OSError, HTTPException) as error:
                self.failures.append(f"{time.monotonic() - started:.1f}s {error!r}")
            next_at += interval
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    def linger(self, seconds: float) -> None:
        """Keep sending for ``seconds`` more (terminating pods must not drop requests either)."""
        self._stop.wait(seconds)

    @property
    def total(self) -> int:
        return self.ok + len(self.failures)

    def summary(self) -> str:
        return f"{self.total} requests, {len(self.failures)} failed"


def rollout_under_traffic(project: Project, cookie: str, why: str, rate: float = 20) -> tuple[Run, Traffic]:
    """A harmless backend source change deployed while a client lists tasks at ``rate`` per second
    through the frontend (its /api proxy to the backend Service); the deploy and the traffic."""
    # Unique per run: the tag is content-addressed, and an earlier run's image would not be rebuilt.
    project.append("backend/app/main.py", f"# {why}: a harmless change to the backend source ({uuid.uuid4()})\n")
    with port_forward(project, f"service/{FRONTEND}", FRONTEND_PORT) as base:
        wait_http(f"{base}/api/healthz")
        with Traffic(f"{base}/api/tasks", {"cookie": cookie}, rate=rate, limit=900) as traffic:
            deployed = project.invoke("deploy")
            # Old pods drain after the rollout is done: they must not drop requests either.
            traffic.linger(5)
    return deployed, traffic
