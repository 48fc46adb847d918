"""Latency of GET and POST /api/tasks under concurrent clients, against the container with PostgreSQL.

    python backend/bench/latency.py                    # build the image, start PostgreSQL + backend, measure
    python backend/bench/latency.py --base-url http://127.0.0.1:8000   # measure a server already running

Each client is one user with one keep-alive connection, alternating GET (its list) and POST (a new
task) back to back for the whole duration. Everything listens on 127.0.0.1 only, and the run
stops by itself. The HTTP client is a few lines of asyncio, standard library only, so the figures
measure the server rather than a client library. Prints p50/p99/max per method and the error count.
"""

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
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


def report(samples: dict, errors: dict, elapsed: float, clients: int) -> None:
    print(f"\n{clients} clients, {elapsed:.1f} s, loopback")
    print(f"{'request':<18}{'count':>8}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'errors':>8}")
    for method, values in samples.items():
        if not values:
            print(f"{method + ' /api/tasks':<18}{0:>8}{'-':>9}{'-':>9}{'-':>9}{'-':>9}{errors[method]:>8}")
            continue
        p50, p99 = percentile(values, 0.50) * 1000, percentile(values, 0.99) * 1000
        print(f"{method + ' /api/tasks':<18}{len(values):>8}{len(values) / elapsed:>9.0f}{p50:>9.1f}{p99:>9.1f}"
              f"{max(values) * 1000:>9.1f}{errors[method]:>8}")


# ---- the containers ------------------------------------------------------------------------------

def docker(*args: str) -> str:
    result = subprocess.run([DOCKER, *args], capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"docker {args[0]} failed: {result.stderr.strip()[-2000:]}")
    return result.stdout.strip()


def wait_until_ready(url: str, limit_s: float = 90.0) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/ready", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.25)
    sys.exit(f"{url}/ready did not answer 200 within {limit_s:.0f} s")


class Stack:
    """PostgreSQL + backend on a private network; only the backend is published, on 127.0.0.1."""

    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.suffix = uuid.uuid4().hex[:8]
        self.network, self.db, self.api = (f"todo-bench-{kind}-{self.suffix}" for kind in ("net", "db", "api"))

    def __enter__(self) -> str:
        started = time.monotonic()
        docker("build", "--force-rm", "-q", "--build-arg", f"PYTHON_IMAGE={self.args.python_image}",
               "-t", self.args.image, str(BACKEND_DIR))
        print(f"image {self.args.image} built in {time.monotonic() - started:.1f} s")
        db_password = uuid.uuid4().hex
        docker("network", "create", self.network)
        docker("run", "-d", "--name", self.db, "--network", self.network, "-e", f"POSTGRES_PASSWORD={db_password}",
               "-e", "POSTGRES_USER=todo", "-e", "POSTGRES_DB=todo", self.args.postgres_image)
        docker("run", "-d", "--name", self.api, "--network", self.network, "--read-only", "--tmpfs", "/tmp",
               "-p", "127.0.0.1::8000", "-e", f"JWT_SECRET={uuid.uuid4().hex * 2}",
               "-e", f"POSTGRES_HOST={self.db}", "-e", "POSTGRES_USER=todo", "-e", f"POSTGRES_PASSWORD={db_password}",
               "-e", "POSTGRES_DB=todo", self.args.image)
        url = "http://" + docker("port", self.api, "8000/tcp").split()[0]
        wait_until_ready(url)
        return url

    def __exit__(self, exc_type, *_exc) -> None:
        if exc_type is not None:
            logs = subprocess.run([DOCKER, "logs", "--tail", "30", self.api], capture_output=True, text=True)
            print("backend log tail:\n" + logs.stdout + logs.stderr, file=sys.stderr)
        subprocess.run([DOCKER, "rm", "-f", self.api, self.db], capture_output=True)
        subprocess.run([DOCKER, "network", "rm", self.network], capture_output=True)


def main() -> None:
    args = parse_args()
    if args.base_url:
        report(*asyncio.run(run_load(args.base_url, args.clients, args.duration)), args.clients)
        return
    if DOCKER is None:
        sys.exit("docker CLI not found; pass --base-url to measure a running server")
    with Stack(args) as url:
        report(*asyncio.run(run_load(url, args.clients, args.duration)), args.clients)


if __name__ == "__main__":
    main()
