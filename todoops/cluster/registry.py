"""A local registry for the kind cluster: kind's documented "local registry" pattern.

A registry container ``kind-registry`` publishes 127.0.0.1:5001 to the host
(pushes to ``localhost:5001/...``) and joins the ``kind`` network, where nodes
reach it by name; each node's containerd maps ``localhost:5001`` to
``http://kind-registry:5000`` (a hosts.toml under certs.d, read on every pull,
so no restart), and the ``local-registry-hosting`` ConfigMap in kube-public
tells tools where it is (KEP-1755). The registry image is built here from
Debian's docker-registry package. Every step is idempotent.
"""
from pathlib import Path

from invoke import Context

from ..commands import probe, run
from .addons import kubectl
from .components import DEBIAN
from .network import DOCKER_NETWORK
from .node_image import file_digest, image_id, input_hash

CONTAINER = "kind-registry"
HOST_ADDRESS = "localhost:5001"
# Deploying through it: kind load copies each image whole into every node, a push sends only the layers
# the registry lacks (an edit's few) and each node pulls only those; what makes `invoke dev` fast.
DEPLOY_THROUGH = (f"--provider registry with INVOKE_TODOOPS_REGISTRY={HOST_ADDRESS} "
                  "(only the layers an edit changed move)")
PUBLISH = "127.0.0.1:5001:5000"
RECIPE = Path(__file__).parent / "registry_image"
REPOSITORY = "todoops/registry"
CERTS = "/etc/containerd/certs.d"
HOSTS_TOML = f'[host."http://{CONTAINER}:5000"]\n'
HOSTING_CONFIGMAP = f"""apiVersion: v1
kind: ConfigMap
metadata:
  name: local-registry-hosting
  namespace: kube-public
data:
  localRegistryHosting.v1: |
    host: "{HOST_ADDRESS}"
"""


def image_tag(c: Context) -> str:
    return f"{REPOSITORY}:{input_hash(file_digest(RECIPE), image_id(c, DEBIAN))}"


def ensure_image(c: Context, dry_run: bool) -> str:
    tag = image_tag(c)
    if not image_id(c, tag):
        run(c, ["env", "DOCKER_BUILDKIT=0", "docker", "build", "--force-rm", "-q", "--network", "host",
                "--build-arg", f"BASE={DEBIAN}", "-t", tag, str(RECIPE)], mutates=True, dry_run=dry_run)
    return tag


def ensure_container(c: Context, image: str, dry_run: bool) -> None:
    """Running, on the kind network, publishing 127.0.0.1:5001."""
    state = probe(c, ["docker", "inspect", "--format", "{{.State.Running}}", CONTAINER])
    if not state.ok:
        run(c, ["docker", "run", "--detach", "--restart=always", "--publish", PUBLISH, "--name", CONTAINER,
                image], mutates=True, dry_run=dry_run, hide=True)
    elif state.stdout.strip() != "true":
        run(c, ["docker", "start", CONTAINER], mutates=True, dry_run=dry_run, hide=True)
    networks = probe(c, ["docker", "inspect", "--format", "{{range $name, $_ := .NetworkSettings.Networks}}"
                                                          "{{$name}} {{end}}", CONTAINER])
    if DOCKER_NETWORK not in networks.stdout.split():
        run(c, ["docker", "network", "connect", DOCKER_NETWORK, CONTAINER], mutates=True, dry_run=dry_run)


def configure_nodes(c: Context, containers: list[str], dry_run: bool) -> None:
    folder = f"{CERTS}/{HOST_ADDRESS}"
    for node in containers:
        run(c, ["docker", "exec", node, "mkdir", "-p", folder], mutates=True, dry_run=dry_run)
        run(c, ["docker", "exec", "-i", node, "tee", f"{folder}/hosts.toml"], stdin=HOSTS_TOML,
            mutates=True, dry_run=dry_run, hide=True)


def ensure(c: Context, context: str, containers: list[str], dry_run: bool) -> None:
    ensure_container(c, ensure_image(c, dry_run), dry_run)
    configure_nodes(c, containers, dry_run)
    run(c, kubectl(context, "apply", "-f", "-"), stdin=HOSTING_CONFIGMAP, mutates=True, dry_run=dry_run,
        hide=True)


def remove(c: Context, dry_run: bool) -> bool:
    """Delete the registry container (and its images); False when there was none."""
    if not probe(c, ["docker", "inspect", "--format", "{{.Id}}", CONTAINER]).ok:
        return False
    run(c, ["docker", "rm", "--force", "--volumes", CONTAINER], mutates=True, dry_run=dry_run, hide=True)
    return True
