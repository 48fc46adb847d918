"""The docker CLI as the image tests use it: argv lists, one runner, explicit failures."""

import os
import shutil
import subprocess

# Debian's own CLI carries a built-in BuildKit client; a newer CLI first on PATH may lack buildx.
DOCKER = "/usr/bin/docker" if os.path.exists("/usr/bin/docker") else shutil.which("docker")


def docker(*args: str, check: bool = True, env: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    result = subprocess.run([DOCKER, *args], capture_output=True, text=True, env=env, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return result


def daemon_problem() -> str | None:
    """Why docker cannot be used here, or None when a daemon answers."""
    if DOCKER is None:
        return "no docker CLI installed"
    probe = subprocess.run([DOCKER, "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True, timeout=30)
    return None if probe.returncode == 0 else f"no docker daemon answers: {probe.stderr.strip()[:200]}"


def build(context: str, tag: str, build_args: dict[str, str]) -> None:
    """Build with BuildKit, or with the legacy builder when this CLI has no BuildKit client."""
    args = ["build", "--force-rm", "-t", tag, *(f"--build-arg={k}={v}" for k, v in build_args.items()), context]
    result = docker(*args, check=False, env={**os.environ, "DOCKER_BUILDKIT": "1"})
    if result.returncode != 0 and "buildx" in result.stderr:
        result = docker(*args, check=False, env={**os.environ, "DOCKER_BUILDKIT": "0"})
    if result.returncode != 0:
        raise AssertionError(f"docker build failed:\n{result.stderr[-3000:]}")


def image_size(image: str) -> int:
    return int(docker("image", "inspect", "--format", "{{.Size}}", image).stdout)
