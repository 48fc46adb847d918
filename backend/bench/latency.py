"""Latency of GET and POST /api/tasks under concurrent clients, against the container with PostgreSQL.

    python backend/bench/latency.py                    # build the image, start PostgreSQL + backend, measure
    python backend/bench/latency.py --base-url http://127.0.0.1:8000   # measure a server already running

Each client is one user with one keep-alive connection, alternating GET (its list) and POST (a new
task) back to back for the whole duration. The clients run in a container that shares the backend
container's network namespace and talk to it on its loopback: nothing is published, and no
port-forwarding proxy sits between them. The HTTP client is a few lines of asyncio, standard
library only, so the figures measure the server rather than a client library. Prints p50/p99/max
per method, the error count, and the CPU time each container used per request.
"""

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

BACKEND_DIR = Path(__file__).resolve().parents[1]
DOCKER = "/usr/bin/docker" if os.path.exists("/usr/bin/docker") else shutil.which("docker")
PASSWORD = "bench-password"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=50, help="concurrent clients (default 50)")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of load (default 20)")
    parser.add_argument("--base-url", help="measure this running server instead of starting containers")
    parser.add_argument("--image", default="todo-backend:bench", help="backend image tag to build and run")
    parser.add_argument("--python-image", default="python:3.11-slim", help="base image build arg")
    parser.add_argument("--postgres-image", default="postgres:15", help="PostgreSQL image to run")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="backend worker processes, WEB_CONCURRENCY (default: one per core, %(default)s here)")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    return parser.parse_args()


# ---- a minimal keep-alive HTTP/1.1 client -------------------------------------------------------

class Connection:
    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.reader = self.writer = None

    async def request(self, method: str, path: str, token: str | None = None, body: dict | None = None) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        payload = json.dumps(body).encode() if body is not None else b""
        head = [f"{method} {path} HTTP/1.1", f"Host: {self.host}", f"Content-Length: {len(payload)}"]
        if body is not None:
            head.append("Content-Type: application/json")
        if token:
            head.append(f"Authorization: Bearer {token}")
        self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + payload)
        await self.writer.drain()
        return await self._response()

    async def _response(self) -> tuple[int, bytes]:
        status_line, *header_lines = (await self.reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        headers = dict(line.split(":", 1) for line in header_lines if ":" in line)
        length = int({k.lower(): v for k, v in headers.items()}.get("content-length", "0"))
        return int(status_line.split()[1]), await self.reader.readexactly(length)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


# ---- the load ------------------------------------------------------------------------------------

async def login_new_user(host: str, port: int, n: int) -> str:
    connection = Connection(host, port)
    try:
        credentials = {"email": f"bench-{n}-{uuid.uuid4().hex[:6]}@example.com", "password": PASSWORD}
        status, _ = await connection.request("POST", "/api/auth/register", body=credentials)
        assert status == 201, f"register answered {status}"
        status, body = await connection.request("POST", "/api/auth/login", body=credentials)
        assert status == 200, f"login answered {status}"
        return json.loads(body)["access_token"]
    finally:
        connection.close()


async def client_loop(host: str, port: int, token: str, deadline: float, samples: dict, errors: dict) -> None:
    connection = Connection(host, port)
    n = 0
    try:
        while time.monotonic() < deadline:
            method = "GET" if n % 2 == 0 else "POST"
            body = {"title": f"task {n}", "priority": "high"} if method == "POST" else None
            started = time.perf_counter()
            try:
                status, _ = await connection.request(method, "/api/tasks", token, body)
                ok = status == (200 if method == "GET" else 201)
            except (OSError, asyncio.IncompleteReadError, ValueError):
                ok = False
                connection.close()
                connection = Connection(host, port)
            if ok:
                samples[method].append(time.perf_counter() - started)
            else:
                errors[method] += 1
            n += 1
    finally:
        connection.close()


async def run_load(base_url: str, clients: int, duration: float) -> tuple[dict, dict, float]:
    parts = urlsplit(base_url)
    host, port = parts.hostname, parts.port or 80
    tokens = await asyncio.gather(*(login_new_user(host, port, n) for n in range(clients)))
    samples, errors = {"GET": [], "POST": []}, {"GET": 0, "POST": 0}
    started = time.monotonic()
    await asyncio.gather(*(client_loop(host, port, t, started + duration, samples, errors) for t in tokens))
    return samples, errors, time.monotonic() - started


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def summarize(samples: dict, errors: dict, elapsed: float, clients: int) -> dict:
    methods = {}
    for method, values in samples.items():
        methods[method] = {"count": len(values), "errors": errors[method]}
        if values:
            methods[method].update(p50_ms=percentile(values, 0.50) * 1000, p99_ms=percentile(values, 0.99) * 1000,
                                   max_ms=max(values) * 1000)
    return {"clients": clients, "seconds": elapsed, "methods": methods}


def report(summary: dict) -> None:
    print(f"\n{summary['clients']} clients, {summary['seconds']:.1f} s, loopback")
    print(f"{'request':<18}{'count':>8}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'errors':>8}")
    for method, figures in summary["methods"].items():
        timings = [f"{figures[key]:>9.1f}" if key in figures else f"{'-':>9}" for key in ("p50_ms", "p99_ms", "max_ms")]
        print(f"{method + ' /api/tasks':<18}{figures['count']:>8}{figures['count'] / summary['seconds']:>9.0f}"
              f"{''.join(timings)}{figures['errors']:>8}")


def measure(base_url: str, clients: int, duration: float) -> dict:
    return summarize(*asyncio.run(run_load(base_url, clients, duration)), clients)


# ---- the containers ------------------------------------------------------------------------------

def docker(*args: str) -> str:
    result = subprocess.run([DOCKER, *args], capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"docker {args[0]} failed: {result.stderr.strip()[-2000:]}")
    return result.stdout.strip()


class Stack:
    """PostgreSQL + backend on a private network; nothing is published."""

    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.suffix = uuid.uuid4().hex[:8]
        self.network, self.db, self.api = (f"todo-bench-{kind}-{self.suffix}" for kind in ("net", "db", "api"))

    def __enter__(self) -> "Stack":
        started = time.monotonic()
        docker("build", "--force-rm", "-q", "--build-arg", f"PYTHON_IMAGE={self.args.python_image}",
               "-t", self.args.image, str(BACKEND_DIR))
        print(f"image {self.args.image} built in {time.monotonic() - started:.1f} s")
        db_password = uuid.uuid4().hex
        docker("network", "create", self.network)
        docker("run", "-d", "--name", self.db, "--network", self.network, "-e", f"POSTGRES_PASSWORD={db_password}",
               "-e", "POSTGRES_USER=todo", "-e", "POSTGRES_DB=todo", self.args.postgres_image)
        docker("run", "-d", "--name", self.api, "--network", self.network, "--read-only", "--tmpfs", "/tmp",
               "-e", f"JWT_SECRET={uuid.uuid4().hex * 2}", "-e", f"WEB_CONCURRENCY={self.args.workers}",
               "-e", f"POSTGRES_HOST={self.db}", "-e", "POSTGRES_USER=todo", "-e", f"POSTGRES_PASSWORD={db_password}",
               "-e", "POSTGRES_DB=todo", self.args.image)
        self.wait_until_ready()
        return self

    def wait_until_ready(self, limit_s: float = 90.0) -> None:
        probe = "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/ready', timeout=2)"
        deadline = time.monotonic() + limit_s
        while time.monotonic() < deadline:
            if subprocess.run([DOCKER, "exec", self.api, "python", "-c", probe], capture_output=True).returncode == 0:
                return
            time.sleep(0.5)
        sys.exit(f"the backend's /ready did not answer 200 within {limit_s:.0f} s")

    def measure(self) -> dict:
        """Run the clients beside the backend, on its loopback; add each container's CPU per request."""
        containers = {"backend": self.api, "database": self.db}
        before = {name: container_cpu_seconds(c) for name, c in containers.items()}
        load = docker("run", "--rm", "--network", f"container:{self.api}", "-v", f"{Path(__file__).parent}:/bench:ro",
                      self.args.python_image, "python", "/bench/latency.py", "--base-url", "http://127.0.0.1:8000",
                      "--clients", str(self.args.clients), "--duration", str(self.args.duration), "--json")
        summary = json.loads(load.splitlines()[-1])
        requests = sum(figures["count"] for figures in summary["methods"].values())
        summary["cpu_ms_per_request"] = {
            name: (container_cpu_seconds(c) - before[name]) * 1000 / requests
            for name, c in containers.items() if before[name] is not None and requests
        }
        summary["workers"] = self.args.workers
        return summary

    def __exit__(self, exc_type, *_exc) -> None:
        if exc_type is not None:
            logs = subprocess.run([DOCKER, "logs", "--tail", "30", self.api], capture_output=True, text=True)
            print("backend log tail:\n" + logs.stdout + logs.stderr, file=sys.stderr)
        subprocess.run([DOCKER, "rm", "-f", self.api, self.db], capture_output=True)
        subprocess.run([DOCKER, "network", "rm", self.network], capture_output=True)


def container_cpu_seconds(name: str) -> float | None:
    """CPU time the container has used, from its cgroup (v1 or v2); None where it is not readable."""
    container_id = docker("inspect", "-f", "{{.Id}}", name)
    candidates = {
        Path(f"/sys/fs/cgroup/cpuacct/docker/{container_id}/cpuacct.usage"): 1e-9,
        Path(f"/sys/fs/cgroup/system.slice/docker-{container_id}.scope/cpu.stat"): 1e-6,
        Path(f"/sys/fs/cgroup/docker/{container_id}/cpu.stat"): 1e-6,
    }
    for path, unit in candidates.items():
        try:
            text = path.read_text()
        except OSError:
            continue
        if path.name == "cpu.stat":
            text = dict(line.split() for line in text.splitlines())["usage_usec"]
        return int(text) * unit
    return None


def report_cpu(summary: dict) -> None:
    cpu = summary.get("cpu_ms_per_request")
    if cpu:
        print(f"CPU per request ({summary['workers']} backend workers): "
              + ", ".join(f"{name} {ms:.2f} ms" for name, ms in cpu.items()))
    else:
        print("CPU per request: the containers' cgroups are not readable here")


def main() -> None:
    args = parse_args()
    if args.base_url:
        summary = measure(args.base_url, args.clients, args.duration)
        if args.json:
            print(json.dumps(summary))
        else:
            report(summary)
        return
    if DOCKER is None:
        sys.exit("docker CLI not found; pass --base-url to measure a running server")
    with Stack(args) as stack:
        summary = stack.measure()
    if args.json:
        print(json.dumps(summary))
        return
    report(summary)
    report_cpu(summary)


if __name__ == "__main__":
    main()
