"""What every real-cluster benchmark starts from, written once.

The kind cluster of `invoke cluster.up` (brought up for the run and deleted
after it when none is running), a copy of this project in a namespace of its
own, both removed afterwards unless ``keep``. With ``registry`` the copy
deploys through that registry (the registry provider); the nodes then get
PostgreSQL from this docker, as no node reaches Docker Hub here.
"""
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.e2e.todoapp import Project, kind_cluster, new_namespace, pristine_copy


@contextmanager
def bench_project(prefix: str, registry: str | None = None, keep: bool = False) -> Iterator[Project]:
    """A project copy on the kind cluster; raises ClusterUnavailable when the cluster cannot start."""
    provider = {"provider": "registry", "registry": registry} if registry else {}
    workdir = Path(tempfile.mkdtemp(prefix=f"todoops-{prefix}-"))
    try:
        with kind_cluster() as cluster:
            if registry:
                cluster.load("postgres:15")
            project = Project.create(workdir, new_namespace(prefix), cluster, source=pristine_copy(workdir),
                                     **provider)
            try:
                yield project
            finally:
                if not keep:
                    project.remove()
    finally:
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)
