"""`invoke deploy` and `invoke prepare-secrets`: the user-facing sequences of steps.

``deploy_release`` is the deploy, read top to bottom: preflight -> namespace ->
secrets -> build -> load -> apply (kubectl | helm) -> rollout -> verify, then a
summary. Each step is a plain function that takes what it needs and returns what
a later one uses (the release's objects, the built images, the helm revision to
roll back to), timed as one line; ``roll_out`` (build -> load -> apply -> rollout)
is also each cycle of `invoke dev`. Each step is idempotent and checks its own
result, so an interrupted run (Ctrl-C) is finished by running it again; with
nothing changed a re-run builds, loads and restarts nothing. prepare-secrets is
the same guard, namespace and secrets steps alone. Both tasks live here, above
every step module, because they compose the preflight guard with the steps (the
preflight reads .env through todoops.env_file); only the namespace step creates
the namespace.
"""
import sys
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

from invoke import Context

from . import chart, manifests
from .checks import show
from .commands import probe
from .config import Settings, context_help, resolve
from .env_file import env_values
from .errors import ExitCode, fail
from .images import BuiltImage, build, load_images, planned_images
from .kubectl import ensure_namespace, kubectl
from .preflight import preflight, require_cluster, target
from .providers import access_lines
from .release import external_images, ingress_hosts, release_objects, service_port, unserved_classes
from .remote import on_host, task
from .report import Report, as_done
from .rollout import release_rolled_out, undo_hint
from .secrets import Ask, hidden_prompt, prepare
from .validate import verify


def make_namespace(c: Context, cfg: Settings, report: Report) -> None:
    """The release's namespace, created labelled as ours (Pod Security restricted) when it is absent."""
    created = ensure_namespace(c, cfg)
    report.line("ok", f"namespace {cfg.namespace} {as_done(cfg.dry_run, 'created') if created else 'exists'}")


def apply_release(c: Context, cfg: Settings, images: Sequence[BuiltImage], objects: Sequence[dict],
                  applied: manifests.Applied | None = None) -> int:
    """The release's objects with the built images, by ``cfg.method``; the helm revision replaced (0: none).

    ``applied``: what this process applied before (kubectl sends only what differs; helm diffs by itself).
    """
    if cfg.method == "helm":
        return chart.install(c, cfg, images, objects)
    manifests.apply_manifests(c, cfg, images, objects, applied)
    return 0


def wait_or_roll_back(c: Context, cfg: Settings, report: Report, revision: int) -> None:
    """Wait until every workload is ready; else explain, roll helm back to ``revision`` and stop (exit 5)."""
    if cfg.dry_run or release_rolled_out(c, cfg, report):
        return
    if cfg.method == "helm" and revision:
        chart.rollback(c, cfg, revision)
        hint = f"rolled back to revision {revision}; fix the cause above and deploy again"
    elif cfg.method == "helm":
        hint = "fix the cause above and deploy again (a first install stays for inspection; `invoke clean` removes it)"
    else:
        hint = undo_hint(c, cfg)
    fail("the rollout did not become ready", hint, ExitCode.ROLLOUT)


def verify_running(c: Context, cfg: Settings, report: Report, images: Sequence[BuiltImage]) -> None:
    """The rolled-out pods run ``images`` and answer; else the failed checks and stop (exit 6)."""
    if cfg.dry_run:
        return
    found = verify(c, cfg, images)
    if any(item.status == "fail" for item in found):
        show(report, found)
        fail("the new version is rolled out but does not work as expected", "see the failed checks above; "
             "`invoke validate` runs every check", ExitCode.UNHEALTHY)


def served_hosts(c: Context, cfg: Settings, report: Report, objects: Sequence[dict]) -> list[str]:
    """The ingress hosts a controller serves now; for the others, what would make them work."""
    if not ingress_hosts(objects):
        return []
    listing = probe(c, kubectl(cfg, "get", "ingressclasses", "-o", "name"))
    classes = {name.rpartition("/")[2] for name in listing.stdout.split()} if listing.ok else set()
    missing = ", ".join(name or "(default)" for name in unserved_classes(objects, classes))
    if missing:
        enable = f"`minikube -p {cfg.context} addons enable ingress`" if cfg.provider == "minikube" else \
            "install an ingress controller"
        report.line("info", f"ingress: no controller serves class {missing} in this cluster, so no ingress host "
                            f"is offered; {enable}, then deploy again")
        return []
    return ingress_hosts(objects)


def summary(c: Context, cfg: Settings, report: Report, images: Sequence[BuiltImage], objects: Sequence[dict],
            driver: str) -> None:
    """The time of each step, each image and whether this run built it, and how to reach the app."""
    report.table(["step", "seconds"], [[name, f"{seconds:.1f}"] for name, seconds, _ in report.timings])
    report.table(["image", "size", "this run"],
                 [[image.cluster_ref, f"{image.size / 1e6:.0f} MB",
                   as_done(cfg.dry_run, "built") if image.built else "unchanged"]
                  for image in images])
    for text in access_lines(cfg, served_hosts(c, cfg, report, objects), service_port(objects, "frontend"), driver):
        report.line("info", text)
    report.emit({"steps": {name: round(seconds, 2) for name, seconds, _ in report.timings},
                 "images": [{"ref": i.cluster_ref, "size": i.size, "built": i.built} for i in images]})


def roll_out(c: Context, cfg: Settings, report: Report, objects: Sequence[dict], *, force: bool = False,
             no_cache: bool = False, guard: Callable[[], AbstractContextManager] = nullcontext,
             applied: manifests.Applied | None = None) -> list[BuiltImage]:
    """build -> load -> apply -> rollout, each timed: what changed is built, loaded and rolled out, nothing else.

    `invoke dev` passes ``guard``, which wraps the apply (a stop signal waits until it is done: an
    apply cut short may leave the release half-applied), and ``applied`` (see apply_release).
    Returns the images the release runs now.
    """
    with report.step("build"):
        images = build(c, cfg, report, force=force, no_cache=no_cache)
    with report.step("load"):
        load_images(c, cfg, report, images, external_images(objects, images))
    with guard(), report.step("apply"):
        revision = apply_release(c, cfg, images, objects, applied)
    with report.step("rollout"):
        wait_or_roll_back(c, cfg, report, revision)
    return images


def deploy_release(c: Context, cfg: Settings, report: Report, *, force: bool = False,
                   no_cache: bool = False, applied: manifests.Applied | None = None) -> None:
    """The deploy: every step in order, each timed as one line, then the summary.

    ``force`` and ``no_cache`` rebuild the images (see todoops.images.build); ``applied`` learns what
    the apply sent (`invoke dev` keeps it for its cycles).
    """
    # Context and provider come first: every step names them (todoops.preflight).
    cfg = target(c, cfg)
    with report.step("preflight"):
        driver = preflight(c, cfg, report)
        # What this deploy puts in the cluster, known before anything changes.
        objects = release_objects(c, cfg, planned_images(cfg))
    with report.step("namespace"):
        make_namespace(c, cfg, report)
    with report.step("secrets"):
        prepare(c, cfg, report)
    images = roll_out(c, cfg, report, objects, force=force, no_cache=no_cache, applied=applied)
    with report.step("verify"):
        verify_running(c, cfg, report, images)
    summary(c, cfg, report, images, objects, driver)


# The flags that say where and how the release goes: deploy's, and those of `invoke dev` (which deploys first).
TARGET_HELP = {
    "method": "kubectl (apply the rendered k8s/) or helm (upgrade --install the chart).",
    "provider": "How images reach the cluster: minikube, kind, k3d, docker-desktop, containerd, registry.",
    "context": context_help("deploy to"),
    "namespace": "Namespace to deploy into (created and labelled when absent).",
    "build_in_cluster": "minikube: build straight into minikube's docker daemon (no copy); "
                        "--build-in-cluster=false turns a configured true off.",
}


@task(
    help={
        **TARGET_HELP,
        "force": "Rebuild the images even when their content tag exists.",
        "no_cache": "Rebuild without docker's layer cache.",
        "json": "Print the summary as JSON on stdout.",
        "dry_run": "Check everything and print every command that would change something; change nothing.",
        "host": "Run there over SSH: user@machine[:port] (default todoops.host; empty: this machine).",
    },
    # A value is optional: alone it means true, =false overrides a configured true.
    optional=["build_in_cluster"],
)
def deploy(c, method=None, provider=None, context=None, namespace=None, build_in_cluster=None, force=False,
           no_cache=False, json=False, dry_run=False, host=None):  # noqa: A002 (the flag is --json)
    """Build, load and roll out the app, then prove it runs; a re-run with nothing changed restarts nothing."""
    cfg = resolve(c, method=method, provider=provider, context=context, context_explicit=bool(context),
                  namespace=namespace, build_in_cluster=build_in_cluster, json=json, dry_run=dry_run,
                  host=host)
    with on_host(c, cfg) as here:
        deploy_release(here, cfg, Report(json_mode=cfg.json), force=force, no_cache=no_cache)


@task(
    help={
        "from_env": "Read the values from this file instead of .env.",
        "set": "Ask for this key's value (hidden input) even when .env has one; repeatable; needs a terminal.",
        "output": "Write the Secret manifest to this gitignored file (mode 0600) instead of applying it.",
        "context": context_help(),
        "namespace": "Namespace of the Secret.",
        "dry_run": "Check and print the plan without changing anything.",
        "host": "Run there over SSH: user@machine[:port] (default todoops.host; empty: this machine).",
    },
    iterable=["set"],
)
def prepare_secrets(c, from_env=None, set=None, output=None, context=None, namespace=None, dry_run=False,  # noqa: A002
                    host=None):
    """Create or update the app's Secret from .env: validated, generated where possible, applied via stdin."""
    cfg = resolve(c, dry_run=dry_run, context=context, context_explicit=bool(context), namespace=namespace,
                  host=host)
    interactive = sys.stdin.isatty()
    if set and not interactive:
        fail("--set asks for values with hidden input and needs a terminal",
             "run it in a terminal, or put the values in a gitignored file and pass --from-env FILE",
             ExitCode.BAD_INPUT)
    env_file = Path(from_env).resolve() if from_env else None
    ask, force_ask = hidden_prompt if interactive else None, tuple(set or ())
    if output:
        # The file holds every secret: it is written on this machine, whatever --host says.
        prepare(c, cfg, Report(), env_file=env_file, ask=ask, force_ask=force_ask, output=Path(output).resolve())
        return
    # The .env is read here and its values travel on SSH stdin.
    with on_host(c, cfg) as here:
        secret_in_cluster(here, cfg, Report(), env_file, ask, force_ask)


def secret_in_cluster(c: Context, cfg: Settings, report: Report, env_file: Path | None, ask: Ask | None,
                      force_ask: tuple[str, ...]) -> None:
    """prepare-secrets into the cluster: the target and .env checked before any change, the namespace, the Secret."""
    cfg = require_cluster(c, cfg)
    env_values(cfg, env_file, terminal=bool(ask))
    make_namespace(c, cfg, report)
    prepare(c, cfg, report, env_file=env_file, ask=ask, force_ask=force_ask)
