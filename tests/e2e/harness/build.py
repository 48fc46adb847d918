"""The harness cluster's binaries, built by todoops.cluster.binaries (one implementation).

Only the versions are the harness's own (its etcd and CoreDNS run as host
processes); the wrapper-module builds, the cache layout and the timings come
from the suite's kind node image code until this harness is retired.
"""
from pathlib import Path

from invoke import Context

from todoops.cluster import binaries
from todoops.report import Report

from . import config


def builds() -> tuple[binaries.GoBuild, ...]:
    """Cheap ones first so a cluster layer can start early."""
    return (binaries.etcd(config.ETCD_VERSION), binaries.coredns(config.COREDNS_VERSION),
            binaries.kubernetes(config.K8S_VERSION))


def build_all(cache: Path | None = None) -> dict[str, float]:
    """Build whatever is missing, one heavy `go build` at a time; returns seconds per build."""
    cache = cache or config.cache_root()
    timings = binaries.build_missing(Context(), builds(), cache, Report())
    helm = config.binaries(cache).helm
    if binaries.missing([helm]):
        print(f"build: helm {config.HELM_VERSION} not found at {helm} (built by the images/tools step, not here)")
    return timings
