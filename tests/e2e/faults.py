"""Real API failures for the trust tests (tests/e2e/test_trust.py), injected between kubectl and the cluster.

- ``FaultyApi``: an HTTP proxy on 127.0.0.1 in front of ``kubectl proxy`` (which
  holds the real credentials). Every request passes through unchanged, except the
  next one(s) matching a chosen method and path, which get the API server's own
  kind of answer for an overloaded server: HTTP 503 with a ``Status`` body. A
  kubeconfig pointing at it makes the suite's kubectl and helm meet that failure
  on exactly the call a test picks, while every other call works.
- ``restricted_kubeconfig``: a ServiceAccount's token (no Role bound: it may read
  nothing in the namespace), for the RBAC case.
- ``unreachable_kubeconfig``: a server address where nothing listens.
"""

import http.client
import http.server
import json
import re
import socket
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from invoke import Context

from todoops.processes import background

# Not forwarded: they describe one hop, not the request.
HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection"}


def write_kubeconfig(path: Path, context: str, cluster: dict, user: dict) -> Path:
    """A kubeconfig with one context named ``context`` (the name the suite is configured with)."""
    path.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": context,
        "clusters": [{"name": "trust", "cluster": cluster}],
        "users": [{"name": "trust", "user": user}],
        "contexts": [{"name": context, "context": {"cluster": "trust", "user": "trust"}}]}))
    path.chmod(0o600)
    return path


@dataclass
class Fault:
    method: str
    path: re.Pattern
    remaining: int


@dataclass
class FaultyApi:
    """Forwards to ``upstream`` (``kubectl proxy``'s port); answers 503 to the requests set up with ``fail``."""

    upstream: int
    faults: list[Fault] = field(default_factory=list)
    # (method, path, status) of every request, so a test can prove its fault was met.
    seen: list[tuple[str, str, int]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fail(self, method: str, path: str, times: int = 1) -> None:
        """The next ``times`` requests ``method`` whose path (without query) matches ``path`` fail."""
        with self.lock:
            self.faults.append(Fault(method, re.compile(path), times))

    def injected(self, method: str, path: str) -> bool:
        """Whether this request is one to fail (and count it)."""
        with self.lock:
            for fault in self.faults:
                if fault.remaining and fault.method == method and fault.path.fullmatch(path):
                    fault.remaining -= 1
                    return True
        return False

    def record(self, method: str, path: str, status: int) -> None:
        with self.lock:
            self.seen.append((method, path, status))


def handler_for(api: FaultyApi) -> type[http.server.BaseHTTPRequestHandler]:
    class Forward(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # keep the test output for the test
            pass

        def forward(self) -> None:
            path = self.path.split("?", 1)[0]
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if api.injected(self.command, path):
                self.answer(503, {"Content-Type": "application/json"}, json.dumps({
                    "kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "ServiceUnavailable",
                    "code": 503, "message": "injected by the trust tests: the server is currently unable to "
                                            "handle the request"}).encode())
                api.record(self.command, path, 503)
                return
            upstream = http.client.HTTPConnection("127.0.0.1", api.upstream, timeout=120)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_HEADERS | {"host"}}
            upstream.request(self.command, self.path, body=body or None, headers=headers)
            response = upstream.getresponse()
            data = response.read()
            self.answer(response.status, {k: v for k, v in response.getheaders()
                                          if k.lower() not in HOP_HEADERS | {"content-length"}}, data)
            upstream.close()
            api.record(self.command, path, response.status)

        def answer(self, status: int, headers: dict, data: bytes) -> None:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = forward

    return Forward


@contextmanager
def kubectl_proxy(kubeconfig: Path, context: str) -> Iterator[int]:
    """``kubectl proxy`` on a free 127.0.0.1 port while the block runs (the suite's own runner stops it)."""
    argv = ["kubectl", "--kubeconfig", str(kubeconfig), "--context", context, "proxy", "--port=0",
            "--address=127.0.0.1"]
    with background(Context(), argv, re.compile(r"127\.0\.0\.1:(\d+)"), timeout=30) as ready:
        yield int(ready[1])


@contextmanager
def faulty_api(kubeconfig: Path, context: str, folder: Path) -> Iterator[tuple[FaultyApi, Path]]:
    """(the proxy, a kubeconfig whose context ``context`` reaches the cluster through it)."""
    with kubectl_proxy(kubeconfig, context) as upstream:
        api = FaultyApi(upstream)
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler_for(api))
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield api, write_kubeconfig(folder / "kubeconfig-faulty", context,
                                        {"server": f"http://127.0.0.1:{server.server_address[1]}"}, {})
        finally:
            server.shutdown()
            server.server_close()


def cluster_entry(kubeconfig: Path, context: str) -> dict:
    """The server address and CA of ``context`` (credentials are not copied)."""
    view = json.loads(subprocess.run(["kubectl", "--kubeconfig", str(kubeconfig), "config", "view", "--raw",
                                      "--minify", "--flatten", "--context", context, "-o", "json"],
                                     capture_output=True, text=True, check=True, timeout=30).stdout)
    cluster = view["clusters"][0]["cluster"]
    return {key: cluster[key] for key in ("server", "certificate-authority-data", "tls-server-name") if key in cluster}


def restricted_kubeconfig(kubeconfig: Path, context: str, namespace: str, folder: Path) -> Path:
    """A kubeconfig for a new ServiceAccount of ``namespace`` that no Role lets read anything."""
    def kubectl(*args: str) -> str:
        return subprocess.run(["kubectl", "--kubeconfig", str(kubeconfig), "--context", context, "-n", namespace,
                               *args], capture_output=True, text=True, check=True, timeout=60).stdout

    kubectl("create", "serviceaccount", "trust-reader")
    token = kubectl("create", "token", "trust-reader", "--duration=30m").strip()
    return write_kubeconfig(folder / "kubeconfig-restricted", context, cluster_entry(kubeconfig, context),
                            {"token": token})


def unreachable_kubeconfig(context: str, folder: Path) -> Path:
    """A kubeconfig whose server is a 127.0.0.1 port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # A token, so kubectl does not stop to ask for a user name.
    return write_kubeconfig(folder / "kubeconfig-unreachable", context,
                            {"server": f"https://127.0.0.1:{port}", "insecure-skip-tls-verify": True},
                            {"token": "none"})
