"""`invoke doctor` and the preflight of every task that touches the cluster.

Everything is checked before anything changes, and all problems are reported
together, each with its fix. The target first: without a configured context the
kubeconfig's current one is used (after `invoke cluster.up`, kind-todo), and
without a configured provider the one its name implies, as Skaffold and Tilt
detect local clusters; a context that implies none needs a named provider. Then
the kube-context guard: the context must exist and look local
(``local_contexts`` patterns) unless ``--context`` named it explicitly, and it
must answer. Checks are data (checks.py), shared with validate.
"""
import json
from collections.abc import Sequence
from dataclasses import replace
from fnmatch import fnmatchcase

from invoke import Context, Result

from .checks import Check, ok, require, show
from .commands import probe
from .config import PROVIDERS, Settings, context_help, resolve
from .consistency import consistency_findings, images_of
from .env_file import check_env
from .errors import ExitCode
from .processes import probes
from .providers import cluster_name, in_cluster_build, minikube, minikube_driver, minikube_profile, provider_for
from .remote import checks_everywhere, task
from .report import Report
from .tools import DOCKER_DAEMON_HINT, TOOLS, version_of

# How each local cluster tool names the kube context it creates, first match wins.
CONTEXT_PROVIDERS = (("kind-*", "kind"), ("k3d-*", "k3d"), ("minikube", "minikube"),
                     ("docker-desktop", "docker-desktop"), ("docker-for-desktop", "docker-desktop"))
UNREACHABLE_HINTS = {
    "minikube": "start it: minikube start -p {context}",
    "kind": "create it: kind create cluster --name {name}",
    "k3d": "start it: k3d cluster start {name}",
    "docker-desktop": "enable Kubernetes in Docker Desktop's settings",
}


def needed_tools(cfg: Settings) -> list[str]:
    tools = ["docker", "kubectl"]
    if cfg.method == "helm":
        tools.append("helm")
    tool = provider_for(cfg).tool
    return tools + ([tool] if tool else [])


def tool_checks(c: Context, names: Sequence[str]) -> list[Check]:
    """Each tool's version, asked of them all at once."""
    return [tool_check(name, result) for name, (result, _) in zip(names, probes(c, [TOOLS[n].version for n in names]))]


def tool_check(name: str, result: Result) -> Check:
    """What ``name``'s version command answered, judged."""
    tool = TOOLS[name]
    if result.exited == 127:
        return Check(name, "fail", "not installed", tool.hint)
    version = version_of(result.stdout)
    if not result.ok or version is None:
        # `docker version` fails when only the daemon is down; the daemon check says so.
        return Check(name, "ok" if name == "docker" else "fail", "version unknown", f"run `{' '.join(tool.version)}`")
    shown = ".".join(map(str, version))
    if tool.minimum and version < tool.minimum:
        return Check(name, "fail", f"{shown} is too old",
                     f"upgrade {name} to {'.'.join(map(str, tool.minimum))} or newer")
    return ok(name, shown)


def daemon_checks(c: Context, cfg: Settings) -> list[Check]:
    checks = []
    if not in_cluster_build(cfg):
        info = probe(c, ["docker", "info", "--format", "{{.ServerVersion}}"])
        checks.append(ok("docker daemon", f"up ({info.stdout.strip()})") if info.ok else
                      Check("docker daemon", "fail", "does not answer", DOCKER_DAEMON_HINT))
    if cfg.provider == "containerd":
        version = probe(c, ["ctr", "--address", cfg.containerd.address, "version"])
        checks.append(ok("containerd", f"answers at {cfg.containerd.address}") if version.ok else
                      Check("containerd", "fail", f"no answer at {cfg.containerd.address}",
                            "start the node's containerd, or point todoops.containerd.address "
                            "(INVOKE_TODOOPS_CONTAINERD_ADDRESS) at its socket", ExitCode.UNREACHABLE))
    if cfg.provider == "registry" and not cfg.registry:
        checks.append(Check("registry", "fail", "no registry address",
                            "set todoops.registry (host:port/path) or INVOKE_TODOOPS_REGISTRY", ExitCode.BAD_INPUT))
    return checks


def provider_of(context: str) -> str | None:
    """The provider a context's name implies (``kind-todo`` -> kind), None when it implies none."""
    return next((provider for pattern, provider in CONTEXT_PROVIDERS if fnmatchcase(context, pattern)), None)


def targeted(c: Context, cfg: Settings) -> tuple[Settings, list[Check]]:
    """``cfg`` with context and provider settled, and the failed checks when they cannot be.

    The current context is read through ``c``: with --host, from the remote's kubeconfig.
    """
    if not cfg.context:
        current = probe(c, ["kubectl", "config", "current-context"])
        if not (current.ok and current.stdout.strip()):
            return cfg, [Check("context", "fail", "no context is configured and the kubeconfig has no current one"
                               + (" (kubectl is not installed)" if current.exited == 127 else ""),
                               "create the cluster (invoke cluster.up), or name one: --context or "
                               "INVOKE_TODOOPS_CONTEXT")]
        cfg = replace(cfg, context=current.stdout.strip(), context_from="current")
    if not cfg.provider:
        provider = provider_of(cfg.context)
        if provider is None:
            return cfg, [Check("provider", "fail", f"context {cfg.context!r} does not say which provider it is",
                               f"name a provider: --provider or INVOKE_TODOOPS_PROVIDER ({', '.join(PROVIDERS)})")]
        cfg = replace(cfg, provider=provider, provider_from="from context")
    return cfg, []


def target(c: Context, cfg: Settings) -> Settings:
    """``cfg`` with context and provider settled; stops (exit 3) when they cannot be."""
    cfg, failed = targeted(c, cfg)
    require(failed, "cannot tell which cluster to use")
    return cfg


def looks_local(cfg: Settings) -> bool:
    return any(fnmatchcase(cfg.context, pattern) for pattern in cfg.local_contexts)


def stopped(name: str, detail: str, hint: str) -> Check:
    """A cluster its own tool knows but that is not running: exit 4 in every task, with its start command."""
    return Check("cluster", "fail", f"{name} is stopped ({detail})", f"start it: {hint}", ExitCode.UNREACHABLE)


def minikube_state(c: Context, cfg: Settings) -> Check | None:
    """What minikube knows of the profile (the context's name); None when it knows none."""
    profile = minikube_profile(probe(c, ["minikube", "profile", "list", "-o", "json"]).stdout, cfg.context)
    if not profile:
        return None
    status = str(profile.get("Status") or "unknown")
    if status in ("Running", "OK"):
        return Check("context", "fail", f"minikube profile {cfg.context} runs but the kubeconfig has no context "
                     "for it", f"minikube -p {cfg.context} update-context")
    # `minikube stop` takes the profile's context out of the kubeconfig.
    return stopped(f"minikube profile {cfg.context}", f"status {status}", f"minikube start -p {cfg.context}")


def kind_state(c: Context, cfg: Settings) -> Check | None:
    """Whether the kind cluster's node containers run; None when docker knows none of them."""
    name = cluster_name(cfg, "kind-")
    # kind labels every node container with its cluster; this is what `kind get nodes` lists.
    listing = probe(c, ["docker", "ps", "--all", "--filter", f"label=io.x-k8s.kind.cluster={name}",
                        "--format", "{{.Names}} {{.State}}"])
    nodes = dict(line.split(maxsplit=1) for line in listing.stdout.splitlines() if len(line.split()) == 2)
    if not (listing.ok and nodes):
        return None
    down = sorted(node for node, state in nodes.items() if state != "running")
    if down:
        return stopped(f"kind cluster {name}", f"node container(s) {', '.join(down)} not running",
                       f"docker start {' '.join(down)}, or `invoke cluster.up --name {name} --nodes {len(nodes)}`")
    return Check("context", "fail", f"kind cluster {name} runs but the kubeconfig has no context {cfg.context}",
                 f"kind export kubeconfig --name {name}")


def k3d_state(c: Context, cfg: Settings) -> Check | None:
    """Whether k3d's cluster has its servers running; None when k3d knows no such cluster."""
    name = cluster_name(cfg, "k3d-")
    try:
        clusters = json.loads(probe(c, ["k3d", "cluster", "list", "-o", "json"]).stdout or "[]")
        found = next((cluster for cluster in clusters if cluster.get("name") == name), None)
    except (ValueError, AttributeError):
        return None
    if found is None:
        return None
    # k3d leaves zero counts out of its JSON.
    if found.get("serversRunning", 0) < max(found.get("serversCount", 0), 1):
        return stopped(f"k3d cluster {name}", f"{found.get('serversRunning', 0)} of "
                       f"{found.get('serversCount', 0)} server(s) running", f"k3d cluster start {name}")
    return Check("context", "fail", f"k3d cluster {name} runs but the kubeconfig has no context {cfg.context}",
                 f"k3d kubeconfig merge {name} --kubeconfig-merge-default")


# Each provider's own view of its clusters: it tells a stopped cluster from a missing one.
CLUSTER_STATES = {"minikube": minikube_state, "kind": kind_state, "k3d": k3d_state}


def cluster_state(c: Context, cfg: Settings) -> Check | None:
    state = CLUSTER_STATES.get(cfg.provider)
    return state(c, cfg) if state else None


def context_checks(c: Context, cfg: Settings) -> list[Check]:
    """The context guard: configured context exists, is local or explicitly named, and answers.

    A context the kubeconfig lacks may be a stopped cluster (`minikube stop` removes
    its context): the provider's own tool is asked before calling it missing.
    """
    contexts = probe(c, ["kubectl", "config", "get-contexts", "-o", "name"])
    # One name per line: a context name may hold spaces.
    if cfg.context not in contexts.stdout.splitlines():
        return [cluster_state(c, cfg) or Check(
            "context", "fail", f"{cfg.context!r} is not in your kubeconfig",
            "list them with `kubectl config get-contexts`; set todoops.context or pass --context")]
    if not (looks_local(cfg) or cfg.context_explicit):
        return [Check("context", "fail", f"{cfg.context!r} does not look like a local cluster",
                      f"to deploy there on purpose, pass --context {cfg.context}")]
    checks = [ok("context", target_line(cfg))]
    ready = probe(c, ["kubectl", "--context", cfg.context, "get", "--raw", "/readyz", "--request-timeout", "5s"])
    if ready.ok:
        return checks + [ok("cluster", "reachable")]
    known = cluster_state(c, cfg)
    if known and known.code == ExitCode.UNREACHABLE:
        return checks + [known]
    name = cfg.context.split("-", 1)[-1]
    hint = UNREACHABLE_HINTS.get(cfg.provider, "start the cluster (a local one: `invoke cluster.up`)").format(
        context=cfg.context, name=name)
    return checks + [Check("cluster", "fail", f"{cfg.context} does not answer", hint, ExitCode.UNREACHABLE)]


def target_line(cfg: Settings) -> str:
    """Which cluster and provider, and where each came from: ``kind-todo (current), provider kind (from context)``."""
    origin = cfg.context_from + ("" if looks_local(cfg) else ", named explicitly")
    return f"{cfg.context} ({origin}), provider {cfg.provider} ({cfg.provider_from})"


def addon_enabled(addons_json: str, name: str) -> bool:
    """Whether ``minikube addons list --output json`` shows ``name`` enabled."""
    try:
        return json.loads(addons_json).get(name, {}).get("Status") == "enabled"
    except (ValueError, AttributeError):
        return False


def minikube_checks(c: Context, cfg: Settings) -> tuple[list[Check], str]:
    """minikube status, its driver, and the ingress addon (a warning: validate falls back)."""
    if cfg.provider != "minikube":
        return [], ""
    status = probe(c, minikube(cfg, "status", "--format", "{{.Host}}"))
    if status.stdout.strip() != "Running":
        return [Check("minikube", "fail", "not running", f"minikube start -p {cfg.context}",
                      ExitCode.UNREACHABLE)], ""
    driver = minikube_driver(probe(c, ["minikube", "profile", "list", "-o", "json"]).stdout, cfg.context)
    addons = probe(c, minikube(cfg, "addons", "list", "--output", "json"))
    ingress = addon_enabled(addons.stdout, "ingress")
    return [ok("minikube", f"running, driver {driver or 'unknown'}"),
            ok("ingress addon", "enabled") if ingress else
            Check("ingress addon", "warn", "disabled: use `invoke app.port-forward`",
                  f"minikube -p {cfg.context} addons enable ingress")], driver


def source_checks(cfg: Settings) -> list[Check]:
    """.env, Dockerfiles and the manifests or chart: files only, nothing runs."""
    _, problems = check_env(cfg)
    checks = [Check("env", "fail", problem, "see .env.example; `invoke prepare-secrets` explains each key",
                    ExitCode.BAD_INPUT) for problem in problems] or [ok("env", f"{cfg.env_file.name} valid")]
    for spec in cfg.images:
        if not (spec.context / "Dockerfile").is_file():
            checks.append(Check(f"{spec.name} image", "fail", f"no Dockerfile in {spec.context}",
                                "add it (see DESIGN.md)"))
    if cfg.method == "helm" and not (cfg.chart / "Chart.yaml").exists():
        checks.append(Check("helm", "fail", f"{cfg.chart}/Chart.yaml does not exist", "add the chart"))
    # The consistency rules over k8s/ (rendered from the chart, so they cover both methods).
    findings = consistency_findings(cfg.root, cfg.provider, images_of(cfg), str(cfg.manifests.relative_to(cfg.root)))
    return checks + [Check("consistency", "fail", f"{finding.file}: {finding.message}", finding.fix)
                     for finding in findings]


def gather(c: Context, cfg: Settings) -> tuple[list[Check], str]:
    """Every preflight check, and the minikube driver ("" elsewhere)."""
    cfg, untargeted = targeted(c, cfg)
    if untargeted:
        # Without a cluster and provider only what does not depend on them can be checked.
        return tool_checks(c, ("docker", "kubectl")) + untargeted + source_checks(cfg), ""
    checks = tool_checks(c, needed_tools(cfg))
    context = context_checks(c, cfg)
    # minikube's profile is the context: only ask about it once the context is known and allowed.
    cluster, driver = minikube_checks(c, cfg) if context[0].status == "ok" else ([], "")
    return checks + daemon_checks(c, cfg) + context + cluster + source_checks(cfg), driver


def preflight(c: Context, cfg: Settings, report: Report) -> str:
    """Check everything; stop before any change when something fails. Returns the minikube driver."""
    checks, driver = gather(c, cfg)
    if any(check.status != "ok" for check in checks):
        show(report, [check for check in checks if check.status != "ok"])
    require(checks, "preflight failed")
    report.line("info", "context " + next(check.detail for check in checks if check.name == "context"))
    return driver


def require_cluster(c: Context, cfg: Settings) -> Settings:
    """The target and the context guard alone, for tasks that only talk to the cluster: the settled ``cfg``."""
    cfg = target(c, cfg)
    require(context_checks(c, cfg), "cannot use the cluster")
    return cfg


@task(help={"context": context_help("check"),
            "json": "Print the checks as JSON on stdout.",
            "host": "Run there over SSH: user@machine[:port], comma-separated for several (default todoops.host).",})
def doctor(c, context=None, json=False, host=None):  # noqa: A002 (the flag is --json)
    """Check tools, daemon, cluster, context, .env and sources; print each problem with its fix. Changes nothing."""
    cfg = resolve(c, context=context, context_explicit=bool(context), json=json, host=host)
    checks = checks_everywhere(c, cfg, lambda here: gather(here, cfg)[0])
    show(Report(json_mode=cfg.json), checks)
    require(checks, "doctor found problems")
