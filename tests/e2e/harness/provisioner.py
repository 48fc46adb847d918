"""A minimal hostPath provisioner for the default StorageClass (single node only).

Why not pre-created PVs: a StatefulSet's claim names are not known in advance,
and a Retain-ed PV cannot be reused once released. This loop gives every
pending claim of our class its own directory under the state dir, and deletes
the volume and its directory once the claim is gone (reclaimPolicy Delete).
It polls through kubectl every two seconds: simple, and fast enough for tests.

Run by `up` as: python -m tests.e2e.harness.provisioner KUBECONFIG VOLUME_DIR
"""

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from . import config

POLL_SECONDS = 2


def kubectl(kubeconfig: str, *args: str, stdin: str | None = None) -> str:
    completed = subprocess.run(
        ["kubectl", "--kubeconfig", kubeconfig, *args],
        input=stdin, capture_output=True, text=True, check=True,
    )
    return completed.stdout


def ours(classes: list[dict]) -> set[str]:
    return {c["metadata"]["name"] for c in classes if c.get("provisioner") == config.PROVISIONER_NAME}


def claims_to_provision(claims: list[dict], our_classes: set[str]) -> list[dict]:
    """Pending, unbound claims asking for one of our classes (the admission plugin fills in the default)."""
    return [
        claim for claim in claims
        if claim.get("status", {}).get("phase") == "Pending"
        and not claim["spec"].get("volumeName")
        and claim["spec"].get("storageClassName") in our_classes
    ]


def volume_for(claim: dict, volume_dir: Path) -> dict:
    """A PV pre-bound to the claim through claimRef, so the PV controller binds exactly this pair."""
    meta = claim["metadata"]
    name = f"pvc-{meta['uid']}"
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {
            "name": name,
            "labels": {"app.kubernetes.io/managed-by": "todoops-e2e-harness"},
            "annotations": {"pv.kubernetes.io/provisioned-by": config.PROVISIONER_NAME},
        },
        "spec": {
            "capacity": {"storage": claim["spec"]["resources"]["requests"]["storage"]},
            "accessModes": claim["spec"]["accessModes"],
            "persistentVolumeReclaimPolicy": "Delete",
            "storageClassName": claim["spec"]["storageClassName"],
            "volumeMode": claim["spec"].get("volumeMode", "Filesystem"),
            "claimRef": {"namespace": meta["namespace"], "name": meta["name"], "uid": meta["uid"]},
            "hostPath": {"path": str(volume_dir / name), "type": "DirectoryOrCreate"},
        },
    }


def volumes_to_delete(volumes: list[dict]) -> list[dict]:
    """Our volumes whose claim is gone (Released) or could not be matched (Failed)."""
    return [
        volume for volume in volumes
        if volume["metadata"].get("annotations", {}).get("pv.kubernetes.io/provisioned-by") == config.PROVISIONER_NAME
        and volume.get("status", {}).get("phase") in ("Released", "Failed")
    ]


def provision(kubeconfig: str, claim: dict, volume_dir: Path) -> None:
    volume = volume_for(claim, volume_dir)
    directory = Path(volume["spec"]["hostPath"]["path"])
    directory.mkdir(parents=True, exist_ok=True)
    # World-writable: pods run as arbitrary non-root UIDs and hostPath ignores fsGroup.
    directory.chmod(0o777)
    kubectl(kubeconfig, "apply", "-f", "-", stdin=json.dumps(volume))
    print(f"provisioned {volume['metadata']['name']} for {claim['metadata']['namespace']}/{claim['metadata']['name']}", flush=True)


def delete(kubeconfig: str, volume: dict) -> None:
    kubectl(kubeconfig, "delete", "pv", volume["metadata"]["name"], "--ignore-not-found", "--wait=false")
    shutil.rmtree(volume["spec"]["hostPath"]["path"], ignore_errors=True)
    print(f"deleted {volume['metadata']['name']}", flush=True)


def items(kubeconfig: str, *resource: str) -> list[dict]:
    return json.loads(kubectl(kubeconfig, "get", *resource, "-o", "json"))["items"]


def reconcile(kubeconfig: str, volume_dir: Path) -> None:
    our_classes = ours(items(kubeconfig, "storageclass"))
    for claim in claims_to_provision(items(kubeconfig, "pvc", "--all-namespaces"), our_classes):
        provision(kubeconfig, claim, volume_dir)
    for volume in volumes_to_delete(items(kubeconfig, "pv")):
        delete(kubeconfig, volume)


def main(kubeconfig: str, volume_dir: str) -> None:
    while True:
        try:
            reconcile(kubeconfig, Path(volume_dir))
        except subprocess.CalledProcessError as error:
            # The apiserver may restart or be briefly unavailable: log and retry next round.
            print(f"kubectl failed: {error.stderr.strip()}", flush=True)
        time.sleep(POLL_SECONDS)


if __name__ == "__main__":
    main(*sys.argv[1:])
