"""Moving images from the local Docker engine into the cluster's containerd.

`docker save IMAGE | ctr -n k8s.io images import -` is the same mechanism
minikube's containerd runtime and k3s use; `k8s.io` is the containerd
namespace the CRI plugin (and so the kubelet) reads images from.
"""

import shutil
import subprocess
import tempfile
from pathlib import Path

from . import config


def docker_cli() -> str:
    """Debian's CLI at /usr/bin/docker first: a newer CLI earlier on PATH may lack buildx."""
    return "/usr/bin/docker" if Path("/usr/bin/docker").exists() else "docker"


def docker_has(image: str) -> bool:
    probe = subprocess.run([docker_cli(), "image", "inspect", image], capture_output=True)
    return probe.returncode == 0


def import_image(socket: Path, image: str) -> None:
    """Stream `docker save` into `ctr import` without a temporary file."""
    save = subprocess.Popen([docker_cli(), "save", image], stdout=subprocess.PIPE)
    try:
        subprocess.run(
            ["ctr", "--address", str(socket), "-n", "k8s.io", "images", "import", "-"],
            stdin=save.stdout, check=True, capture_output=True,
        )
    finally:
        save.stdout.close()
        if save.wait() != 0:
            raise RuntimeError(f"docker save {image} failed (exit {save.returncode})")


def load(images: list[str], socket: Path | None = None) -> None:
    socket = socket or config.state_paths().containerd_socket
    for image in images:
        import_image(socket, image)
        print(f"loaded {image} into {socket}", flush=True)


def build_pause_image() -> None:
    """The sandbox ("pause") image from Debian's static catatonit, when the base-image step has not made it.

    Same recipe and tag as the project's base images, so whichever runs first wins.
    """
    catatonit = shutil.which("catatonit")
    if catatonit is None:
        raise RuntimeError("catatonit is missing: apt-get install -y catatonit")
    with tempfile.TemporaryDirectory() as context:
        shutil.copy(catatonit, Path(context) / "catatonit")
        (Path(context) / "Dockerfile").write_text(
            'FROM scratch\nCOPY catatonit /pause\nENTRYPOINT ["/pause", "-P"]\n'
        )
        subprocess.run(
            [docker_cli(), "build", "--force-rm", "-t", config.PAUSE_IMAGE, context],
            check=True, capture_output=True,
        )


def ensure_pause_image(socket: Path) -> None:
    if not docker_has(config.PAUSE_IMAGE):
        build_pause_image()
    import_image(socket, config.PAUSE_IMAGE)
