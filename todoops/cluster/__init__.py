"""`invoke cluster.*`: the suite's local Kubernetes, a kind cluster (context ``kind-<name>``).

Where no registry serves kind's node image (air-gapped sites, our CI), the node
image and every image it runs are built here: Go binaries from the Go module
proxy, the rest from Debian packages (`cluster.image`). Everyone else gets the
official ``kindest/node`` image.
"""
from dataclasses import replace

from invoke import task

from ..config import resolve
from ..report import Report
from . import lifecycle, node_image

DRY_RUN = "Print the commands that would change something, without running them."


def settings(c, dry_run=False, nodes=None, name=None):
    cfg = resolve(c, dry_run=dry_run)
    # A non-number stays a string: kind.check_settings refuses it with a hint.
    count = int(nodes) if isinstance(nodes, str) and nodes.isdigit() else nodes
    overrides = {"nodes": count, "name": name}
    return replace(cfg, cluster=replace(cfg.cluster, **{k: v for k, v in overrides.items() if v is not None}))


@task(help={"rebuild": "Build every layer again (base, component images, node image), even when present.",
            "dry_run": DRY_RUN})
def image(c, rebuild=False, dry_run=False):
    """Build the kind node image for cluster.kubernetes_version locally (cached by its inputs)."""
    node_image.build_node_image(c, settings(c, dry_run), Report(), rebuild=rebuild)


@task(help={"nodes": "Nodes in all: one control plane plus workers (default: cluster.nodes, 1).",
            "name": "Cluster name (default: cluster.name, todo); the kube context is kind-NAME.",
            "registry": "Also run the local registry kind-registry on 127.0.0.1:5001 for the nodes.",
            "keep_current": "When the current kube context is another local cluster that answers "
                            "(e.g. a running minikube), keep it and make nothing.",
            "dry_run": DRY_RUN})
def up(c, nodes=None, name=None, registry=False, keep_current=False, dry_run=False):
    """Create or reuse the kind cluster and wait until it is ready (nodes, DNS, storage, metrics)."""
    lifecycle.up(c, settings(c, dry_run, nodes, name), Report(), with_registry=registry, keep_current=keep_current)


@task(help={"name": "Cluster name (default: cluster.name, todo).",
            "registry": "Also remove the local registry container kind-registry.",
            "dry_run": DRY_RUN})
def down(c, name=None, registry=False, dry_run=False):
    """Delete exactly the kind cluster NAME (nothing to do when it does not exist)."""
    lifecycle.down(c, settings(c, dry_run, name=name), Report(), with_registry=registry)


@task(help={"name": "Cluster name (default: cluster.name, todo)."})
def status(c, name=None):
    """Show the cluster's nodes, readiness, versions, node image and context; exit 4 unless all are Ready."""
    lifecycle.status(c, settings(c, name=name), Report())
