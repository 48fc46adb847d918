"""kubectl access shared by every step: argv bound to the context and namespace, labels, JSON reads.

Assumptions: every kubectl command names ``--context`` and ``--namespace``
explicitly, so the suite never acts on whatever context happens to be current.
Everything the suite creates carries ``labels(cfg)``; every object of the
release (kubectl, helm or suite made) matches ``selector(cfg)``. The app they
are part of is the chart's name (Chart.yaml), which its templates put in the
same label.

Reads feed decisions (create or keep, generate or reuse, delete or leave), so
only the API's own "NotFound" means absent: a timeout, a 5xx, a refused
permission or an unreachable server stops the task with the API's message
instead of being taken for "nothing there".
"""
import json
import re
from functools import cache
from pathlib import Path
from typing import NoReturn

import yaml

from invoke import Context, Result

from .commands import Argv, command_line, probe, run
from .config import Settings
from .errors import ExitCode, fail

MANAGED_BY = "todoops"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
# Which part of the app an object belongs to: backend, frontend or postgresql.
COMPONENT_LABEL = "app.kubernetes.io/component"
# Pod Security Admission: the namespace enforces what the chart promises.
POD_SECURITY = {f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "audit", "warn")}


def kubectl(cfg: Settings, *args: str) -> list[str]:
    return ["kubectl", "--context", cfg.context, "--namespace", cfg.namespace, *args]


@cache
def chart_name(chart: Path) -> str:
    """The name the chart gives itself in Chart.yaml: the app's ``part-of`` label."""
    try:
        return str(yaml.safe_load((chart / "Chart.yaml").read_text())["name"])
    except (OSError, yaml.YAMLError, KeyError, TypeError) as error:
        fail(f"cannot read the chart's name from {chart / 'Chart.yaml'} ({type(error).__name__})",
             "the chart's name is the part-of label every selector uses: restore the chart's Chart.yaml "
             "(or point todoops.chart at the chart)", ExitCode.BAD_INPUT)


def part_of(cfg: Settings) -> str:
    return chart_name(cfg.chart)


def labels(cfg: Settings) -> dict[str, str]:
    """The labels of everything the suite itself creates (clean finds objects by them)."""
    return {"app.kubernetes.io/part-of": part_of(cfg), "app.kubernetes.io/instance": cfg.release,
            MANAGED_BY_LABEL: MANAGED_BY}


def selector(cfg: Settings) -> str:
    return f"app.kubernetes.io/part-of={part_of(cfg)},app.kubernetes.io/instance={cfg.release}"


def of_release(obj: dict, cfg: Settings) -> bool:
    """Whether ``obj`` carries the release's labels (``selector(cfg)``)."""
    found = (obj.get("metadata") or {}).get("labels") or {}
    return found.get("app.kubernetes.io/part-of") == part_of(cfg) and found.get("app.kubernetes.io/instance") == cfg.release


def component(obj: dict) -> str:
    """The ``COMPONENT_LABEL`` of ``obj``; "" when it has none."""
    return ((obj.get("metadata") or {}).get("labels") or {}).get(COMPONENT_LABEL, "")


def object_ref(obj: dict) -> str:
    """``kind[.group]/name``, as ``kubectl get -o name`` prints it and ``kubectl get/delete`` take it."""
    group = obj.get("apiVersion", "").rpartition("/")[0]
    return f"{obj.get('kind', '').lower()}{'.' + group if group else ''}/{(obj.get('metadata') or {}).get('name', '')}"


# kubectl's answer for a named object that does not exist (lists never fail for being empty).
NOT_FOUND = re.compile(r'^Error from server \(NotFound\): .*"[^"]*" not found$', re.MULTILINE)
# How kubectl and helm say the API server could not be reached at all.
UNREACHABLE = ("Unable to connect to the server", "The connection to the server", "cluster unreachable",
               "dial tcp", "i/o timeout", "connection refused", "no such host", "TLS handshake timeout",
               "context deadline exceeded", "Client.Timeout exceeded")


def said(result: Result, width: int = 160) -> str:
    """The last line a failed command wrote to stderr (its exit code when it wrote none)."""
    return (result.stderr.strip().splitlines() or [f"exit code {result.exited}"])[-1][:width]


def read_failed(command: Argv, result: Result) -> NoReturn:
    """Stop the task with what the API said; the hint depends on why the read failed."""
    said = [line.strip() for line in result.stderr.splitlines() if line.strip()] or [f"exit code {result.exited}"]
    message = f"`{command_line(command)}` failed: {' '.join(said[-3:])}"
    if result.exited == 127:
        fail(message, f"install {command[0]} and put it on PATH", ExitCode.PREFLIGHT)
    if any(sign in result.stderr for sign in UNREACHABLE):
        fail(message, "the cluster did not answer: check it with `kubectl get --raw /readyz` and run again; "
             "nothing was done on a partial view", ExitCode.UNREACHABLE)
    if "(Forbidden)" in result.stderr:
        fail(message, "your kube user may not read this: grant it (see `kubectl auth can-i --list`) "
             "or use a context that may; nothing was done on a partial view")
    fail(message, "its message says why; run again once that is fixed (an API server error passes by itself); "
         "nothing was done on a partial view")


def answer(command: Argv, result: Result, absent: re.Pattern = NOT_FOUND) -> str | None:
    """The stdout of a read; None only when the answer says the object does not exist (``absent``)."""
    if result.ok:
        return result.stdout
    if absent.search(result.stderr):
        return None
    read_failed(command, result)


def read(c: Context, command: Argv, absent: re.Pattern = NOT_FOUND) -> str | None:
    """Run a read-only command; its stdout, None when absent, otherwise the task stops (see ``answer``)."""
    return answer(command, probe(c, command), absent)


def get(c: Context, cfg: Settings, *args: str) -> str | None:
    """``kubectl get ARGS``'s output; None only when kubectl says NotFound."""
    return read(c, kubectl(cfg, "get", *args))


def get_json(c: Context, cfg: Settings, *args: str) -> dict | None:
    """``kubectl get ... -o json`` parsed; None only when kubectl says NotFound."""
    text = get(c, cfg, *args, "-o", "json")
    return json.loads(text) if text and text.strip() else None


def get_names(c: Context, cfg: Settings, *args: str) -> list[str]:
    """``kind/name`` of each object ``kubectl get ARGS`` lists; empty when there is none."""
    return (get(c, cfg, *args, "-o", "name") or "").split()


def namespace_object(cfg: Settings) -> dict:
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": cfg.namespace, "labels": {**labels(cfg), **POD_SECURITY}}}


def ensure_namespace(c: Context, cfg: Settings) -> bool:
    """Create the namespace (labelled as ours) only when absent; True when it was created."""
    if get(c, cfg, "namespace", cfg.namespace, "-o", "name") is not None:
        return False
    run(c, kubectl(cfg, "apply", "-f", "-"), mutates=True, dry_run=cfg.dry_run,
        stdin=json.dumps(namespace_object(cfg)))
    return True
