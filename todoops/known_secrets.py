"""What the redaction filter must know before a task quotes the cluster.

Pod logs, events and the API's messages are the cluster's text, not the
suite's: a pod that logs its connection string would print a password. So every
task that shows such text first teaches the one redaction filter the values of
``.env`` and of the cluster Secret; it then masks them wherever they appear
(raw, base64, URL-encoded). The Secret is read with ``kubectl get -o json``
(output captured, never shown), decoded and registered; nothing is printed.
"""
from invoke import Context

from .config import Settings
from .env_file import check_env, key_specs
from .secrets import cluster_values


def load_known_secrets(c: Context, cfg: Settings) -> None:
    """Register every secret value of .env and of the cluster Secret with the redaction filter."""
    # Reading .env registers its values; whether they are valid is preflight's business, not this one's.
    check_env(cfg)
    cluster_values(c, cfg, {spec.name: spec for spec in key_specs(cfg.root)})
