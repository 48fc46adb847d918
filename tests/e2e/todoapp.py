"""Helpers for the end-to-end tests of the suite itself (tests/e2e/test_app*.py, bench/e2e_deploy.py).

- ``Project``: a throw-away copy of the repository (no .git, node_modules,
  virtualenvs, build outputs or the developer's .env) with a test ``.env``, and
  the real CLI (``.venv/bin/invoke``) run in it as a subprocess, pointed at the
  e2e cluster and at one namespace through ``INVOKE_TODOOPS_*`` variables.
  Edits for a test happen in the copy: the real working tree is never touched.
- ``port_forward``: ``kubectl port-forward`` on 127.0.0.1, the local port
  kubectl chose, stopped on exit.
- ``Traffic``: a bounded HTTP client at a fixed rate that records every failure.
- ``TodoClient``: register/log in/add tasks through the frontend's /api proxy.
"""

import http.client
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
from pathlib import Path

from tests.e2e.harness import config as harness_config

REPO = Path(__file__).resolve().parents[2]
INVOKE = REPO / ".venv" / "bin" / "invoke"
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


def pristine_copy(parent: Path) -> Path:
    """One snapshot of the repository for a whole run: other engineers keep editing the real tree,
    and every copy made from this one has the same content tags (so images are built once)."""
    root = parent / "pristine"
    shutil.copytree(REPO, root, ignore=COPY_IGNORE, symlinks=True)
    return root


def new_namespace(prefix: str = "e2e-app") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def test_env_file(path: Path) -> None:
    """A complete, valid .env with fresh random values (never the developer's)."""
    path.write_text(
        "# written by tests/e2e: throw-away values for one test run\n"
        f"JWT_SECRET={secrets.token_urlsafe(48)}\n"
        f"POSTGRES_PASSWORD={secrets.token_urlsafe(24)}\n"
        "DATABASE_URL=\nOPENAI_API_KEY=\nOPENAI_BASE_URL=\nOPENAI_MODEL=\n")
    path.chmod(0o600)


def tool_path() -> str:
    """PATH with the cached helm (and the CI's tool folder) in front."""
    helm = harness_config.binaries().helm
    cache_bin = harness_config.cache_root() / "bin"
    return os.pathsep.join([str(helm.parent), str(cache_bin), os.environ.get("PATH", "")])


@dataclass
class Project:
    """A copy of the repository deployed by the real CLI into one namespace of the e2e cluster."""

    root: Path
    namespace: str
    cluster: dict[str, str]
    # Extra INVOKE_TODOOPS_* settings for every run (e.g. METHOD=helm).
    settings: dict[str, str] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)

    @classmethod
    def create(cls, parent: Path, namespace: str, cluster: dict[str, str], source: Path = REPO,
               **settings: str) -> "Project":
        """A copy of ``source`` (the repository, or a pristine copy of it) under ``parent``."""
        root = parent / "project"
        shutil.copytree(source, root, ignore=COPY_IGNORE, symlinks=True)
        # The browser test needs playwright-core; docker never sees it (.dockerignore).
        (root / "frontend" / "node_modules").symlink_to(REPO / "frontend" / "node_modules")
        test_env_file(root / ".env")
        return cls(root, namespace, cluster, dict(settings))

    def env(self, **settings: str) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if not key.startswith("INVOKE_")}
        env.update({
            "PATH": tool_path(),
            "KUBECONFIG": self.cluster["KUBECONFIG"],
            "INVOKE_TODOOPS_CONTEXT": self.cluster["TODOOPS_KUBE_CONTEXT"],
            "INVOKE_TODOOPS_PROVIDER": "containerd",
            "INVOKE_TODOOPS_CONTAINERD_ADDRESS": self.cluster["TODOOPS_CONTAINERD_ADDRESS"],
            "INVOKE_TODOOPS_NAMESPACE": self.namespace,
            "INVOKE_TODOOPS_ENV_FILE": str(self.root / ".env"),
            "NO_COLOR": "1",
        })
        env.update({f"INVOKE_TODOOPS_{key.upper()}": str(value) for key, value in {**self.settings, **settings}.items()})
        return env

    def invoke(self, *args: str, timeout: float = 1200, check: bool = True, **settings: str) -> "Run":
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
        argv = ["kubectl", "--kubeconfig", self.cluster["KUBECONFIG"], "--context",
                self.cluster["TODOOPS_KUBE_CONTEXT"], "--namespace", self.namespace, *args]
        completed = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=timeout)
        if check and completed.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed:\n{completed.stderr}")
        return completed.stdout

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

    def images_in_cluster(self) -> set[str]:
        completed = subprocess.run(
            ["ctr", "--address", self.cluster["TODOOPS_CONTAINERD_ADDRESS"], "-n", "k8s.io", "images", "ls", "-q"],
            capture_output=True, text=True, timeout=60, check=True)
        return set(completed.stdout.split())

    def append(self, relative: str, text: str) -> None:
        with (self.root / relative).open("a") as file:
            file.write(text)

    def edit(self, relative: str, old: str, new: str) -> None:
        """Replace ``old`` (which must occur) by ``new`` in one file of the copy."""
        path = self.root / relative
        text = path.read_text()
        assert old in text, f"{old!r} not in {relative}"
        path.write_text(text.replace(old, new, 1))


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
def port_forward(project: Project, target: str, port: int, timeout: float = 60) -> Iterator[str]:
    """``kubectl port-forward --address 127.0.0.1 TARGET :PORT``; yields http://127.0.0.1:LOCAL."""
    argv = ["kubectl", "--kubeconfig", project.cluster["KUBECONFIG"], "--context",
            project.cluster["TODOOPS_KUBE_CONTEXT"], "--namespace", project.namespace,
            "port-forward", "--address", "127.0.0.1", target, f":{port}"]
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        found: list[int] = []
        reader = threading.Thread(target=lambda: found.append(_forwarded_port(process)), daemon=True)
        reader.start()
        reader.join(timeout)
        assert found and found[0], f"kubectl port-forward {target} printed no local port within {timeout} s"
        base = f"http://127.0.0.1:{found[0]}"
        wait_http(base + "/", accept_any=True)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _forwarded_port(process: subprocess.Popen) -> int:
    for line in process.stdout:
        match = re.search(r"127\.0\.0\.1:(\d+)", line)
        if match:
            # Keep draining so kubectl never blocks on a full pipe.
            threading.Thread(target=lambda: [None for _ in process.stdout], daemon=True).start()
            return int(match.group(1))
    return 0


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
        except (OSError, http.client.HTTPException) as error:
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


@dataclass
class Traffic:
    """GET ``url`` at ``rate`` per second on a background thread until stopped (bounded by ``limit`` s)."""

    url: str
    headers: dict[str, str]
    rate: float = 20
    limit: float = 600
    ok: int = 0
    failures: list[str] = field(default_factory=list)

    def __post_init__(self):
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

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
            except (OSError, http.client.HTTPException) as error:
                self.failures.append(f"{time.monotonic() - started:.1f}s {error!r}")
            next_at += interval
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    def __enter__(self) -> "Traffic":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(15)

    @property
    def total(self) -> int:
        return self.ok + len(self.failures)
