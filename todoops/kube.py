"""kubectl access shared by every step: argv bound to the context and namespace, labels, JSON reads.

Assumptions: every kubectl command names ``--context`` and ``--namespace``
explicitly, so the suite never acts on whatever context happens to be current.
Everything the suite creates carries ``labels(cfg)``; every object of the
release (kubectl, helm or suite made) matches ``selector(cfg)``.
"""
import json

from invoke import Context

from .commands import probe, run
from .config import Settings

PART_OF = "todo-app"
MANAGED_BY = "todoops"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
# Pod Security Admission: the namespace enforces what the chart promises.
POD_SECURITY = {f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "audit", "warn")}


def kubectl(cfg: Settings, *args: str) -> list[str]:
    return ["kubectl", "--context", cfg.context, "--namespace", cfg.namespace, *args]


def labels(cfg: Settings) -> dict[str, str]:
    """The labels of everything the suite itself creates (clean finds objects by them)."""
    return {"app.kubernetes.io/part-of": PART_OF, "app.kubernetes.io/instance": cfg.release,
            MANAGED_BY_LABEL: MANAGED_BY}


def selector(cfg: Settings) -> str:
    return f"app.kubernetes.io/part-of={PART_OF},app.kubernetes.io/instance={cfg.release}"


def get_json(c: Context, cfg: Settings, *args: str) -> dict | None:
    """``kubectl get ... -o json`` parsed, or None when the command failed (e.g. not found)."""
    result = probe(c, kubectl(cfg, "get", *args, "-o", "json"))
    return json.loads(result.stdout) if result.ok and result.stdout.strip() else None


def namespace_object(cfg: Settings) -> dict:
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": cfg.namespace, "labels": {**labels(cfg), **POD_SECURITY}}}


def ensure_namespace(c: Context, cfg: Settings) -> bool:
    """Create the namespace (labelled as ours) only when absent; True when it was created."""
    if probe(c, kubectl(cfg, "get", "namespace", cfg.namespace, "-o", "name")).ok:
        return False
    run(c, kubectl(cfg, "apply", "-f", "-"), mutates=True, dry_run=cfg.dry_run,
        stdin=json.dumps(namespace_object(cfg)))
    return True
