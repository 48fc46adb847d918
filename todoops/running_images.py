"""validate's image rows: every pod runs the image it should, and the images built here stay small.

Our images (backend, frontend) are compared with what this source tree built:
the image ID where both sides know it (a node's own store), else the digest
docker recorded when it pushed the image (pods pulled from the registry), else
the run tag the runtime reports. An image the suite does not build (postgres)
is compared with what its StatefulSet's spec names. Pods being deleted (the old
ReplicaSet's, just after a rollout) no longer count.
"""
import json
from collections.abc import Mapping, Sequence
from dataclasses import replace

from invoke import Context

from .checks import Check, ok
from .commands import probe
from .config import Settings
from .errors import ExitCode
from .images import BuiltImage, inspected, planned_images
from .kubectl import component
from .refs import image_name, split_ref
from .rollout import statefulset_of

# Image size budgets: a bigger image takes longer on every node's first pull.
MAX_SIZE_MB = {"backend": 300, "frontend": 500}


def named_as(reported: str, wanted: str) -> bool:
    """``reported`` is ``wanted``, or ``wanted`` under a registry's name: the runtime reports
    docker.io/library/postgres:15 for postgres:15, and a copy from a registry under that registry."""
    return reported == wanted or reported.endswith(f"/{wanted}")


def statefulset_image_checks(statefulsets: Sequence[Mapping], pods: Sequence[Mapping]) -> list[Check]:
    """Each StatefulSet's pods run the image its spec names (images the suite does not build, e.g. postgres)."""
    checks = []
    for item in statefulsets:
        name = item["metadata"]["name"]
        mine = [pod for pod in pods if statefulset_of(pod) == name]
        for container in item["spec"]["template"]["spec"].get("containers", []):
            wanted = container.get("image", "")
            statuses = [(pod["metadata"]["name"], status) for pod in mine
                        for status in pod.get("status", {}).get("containerStatuses") or []
                        if status["name"] == container["name"]]
            wrong = [pod for pod, status in statuses
                     if not (named_as(status.get("image", ""), wanted) and "running" in status.get("state", {}))]
            label = f"image {container['name']}"
            checks.append(Check(label, "fail", f"{', '.join(wrong) or 'no pod'} not running {wanted}",
                                "run `invoke rollout.wait` for the diagnosis; check that the image reference "
                                "exists", ExitCode.UNHEALTHY)
                          if wrong or not statuses else ok(label, f"{len(statuses)} pod(s) on {wanted}"))
    return checks


def runs_other_image(status: Mapping, image: BuiltImage) -> bool:
    """The container runs something else than ``image``: another image ID (a node's own store), another
    digest than the one pushed (pulled from a registry), or, where neither is known, another image."""
    running_id, reported = status.get("imageID", ""), status.get("image", "")
    if image.image_id.startswith("sha256:") and running_id.startswith("sha256:"):
        return running_id != image.image_id
    # A digest of the registry's repository is what the node pulled: it must be one docker pushed.
    if image.pushed_digests and running_id.startswith(f"{image.cluster_repository}@"):
        return running_id not in image.pushed_digests
    # The runtime names an image by any name it carries on the node, and one build can carry several
    # (two content tags whose sources differ only in what the image leaves out, a copy loaded before
    # under the local name, then pulled from the registry under its own: the same image ID, reported
    # by the first name); each run tag ends with the image's ID, though.
    name, tag = split_ref(reported)
    short_id = image.run_tag.removeprefix(image.tag)
    ours = image_name(name) == image_name(image.repository)
    return not (ours and (tag == image.run_tag or (short_id and tag.endswith(short_id))))


def image_checks(pods: Sequence[Mapping], images: Sequence[BuiltImage]) -> list[Check]:
    """Each component's pods run the image that was built: same ref, and same image ID or pushed digest when known."""
    checks = []
    for image in images:
        running = [(pod["metadata"]["name"], status) for pod in pods if component(pod) == image.name
                   for status in pod.get("status", {}).get("containerStatuses") or [] if status["name"] == image.name]
        wrong = [name for name, status in running if runs_other_image(status, image)]
        if not running:
            checks.append(Check(f"image {image.name}", "fail", "no pod runs it", "run `invoke deploy`",
                                ExitCode.UNHEALTHY))
        elif wrong:
            checks.append(Check(f"image {image.name}", "fail", f"{', '.join(sorted(wrong))} not on {image.ref}",
                                "run `invoke deploy` to roll out the current build", ExitCode.UNHEALTHY))
        else:
            digest = f", the pushed digest {image.pushed_digests[0].split('@')[1][:19]}" if image.pushed_digests else ""
            checks.append(ok(f"image {image.name}", f"{len(running)} pod(s) on {image.ref}{digest}"))
    return checks


def size_checks(images: Sequence[BuiltImage]) -> list[Check]:
    """A warning for an image above its size budget (``MAX_SIZE_MB``)."""
    checks = []
    for image in images:
        size, limit = image.size / 1e6, MAX_SIZE_MB.get(image.name)
        if image.size and limit:
            checks.append(ok(f"size {image.name}", f"{size:.0f} MB") if size <= limit else
                          Check(f"size {image.name}", "warn", f"{size:.0f} MB > {limit} MB",
                                "slim the image (multi-stage build, fewer dependencies)"))
    return checks


def expected_images(c: Context, cfg: Settings) -> list[BuiltImage]:
    """The images the pods should run: this source tree's, with ID and size when this docker has them (and,
    pushed to a registry, the digests it was pushed under)."""
    images = [inspected(c, (), image) or image for image in planned_images(cfg)]
    return [with_pushed_digests(c, image) for image in images] if cfg.provider == "registry" else images


def with_pushed_digests(c: Context, image: BuiltImage) -> BuiltImage:
    """``image`` with the digests docker recorded when it pushed it to the cluster's registry."""
    found = probe(c, ["docker", "image", "inspect", "--format", "{{json .RepoDigests}}", image.local_ref])
    try:
        digests = json.loads(found.stdout) if found.ok else []
    except ValueError:
        digests = []
    ours = tuple(d for d in digests or [] if isinstance(d, str) and d.startswith(f"{image.cluster_repository}@"))
    return replace(image, pushed_digests=ours)
