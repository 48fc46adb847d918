"""`invoke dev`: the inner loop. Deploy once, then rebuild and roll out what each edit changes.

The first deploy is `invoke deploy` itself (preflight, namespace, secrets,
build, load, apply, rollout, verify). After it the loop watches what the
deploy reads (todoops.watch) and, when the content of an image's build context
or of the chart and manifests differs from what the cluster was given last,
runs deploy's own build -> load -> apply -> rollout (deploy.roll_out), which
builds only the image whose content tag is new, loads only what the cluster
lacks, sends kubectl only the objects that differ from what dev applied before
(manifests.Applied) and restarts only the Deployment whose pod template
changed; preflight and secrets were checked at the start and are not run
again. One status line per cycle says what changed, the seconds of build,
load and roll, and whether it is ready. A failed cycle prints deploy's diagnosis and the loop goes on
watching: a build that fails changed nothing, a rollout that fails leaves the
previous pods serving (maxUnavailable 0; helm rolls back). The next edit
retries, and so does saving again after a failure.

Beside the loop the release's pod logs stream (todoops.logstream), redacted,
and with ``--port-forward`` a forward to the frontend is kept open.

Stopping (SIGINT, SIGTERM, SIGHUP): invoke forwards none of these to the
command it waits on, and waits for that command to end before an exception
gets through. So a stop signal first interrupts every command dev started
(SIGINT to its descendants, as Ctrl-C reaches a terminal's job: docker build
cancels its build), then ends the loop. While an apply runs the signal waits
for it to finish, so the release is never left half-applied by dev itself (a
terminal's Ctrl-C also reaches kubectl directly: like any interrupted deploy,
the next run finishes what it began). The app stays deployed unless
``--clean-on-exit`` (todoops.cleanup).
"""
import os
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from invoke import Context, Exit, task
from invoke.exceptions import Failure

from .cleanup import clean_release
from .cluster import registry
from .commands import echo
from .config import PORT, Settings, read_flag, resolve
from .deploy import TARGET_HELP, deploy_release, roll_out
from .images import planned_images
from .known_secrets import load_known_secrets
from .logstream import Forward, PodLogs
from .manifests import Applied
from .preflight import target
from .processes import STOP_SIGNALS, Stopped, process_tree, signal_all
from .release import release_objects
from .report import Report
from .watch import CHART, changed, sources, watch_changes, watched

Sources = dict[str, str]
Changes = Callable[[Settings, threading.Event], Iterator[set[str]]]


def interrupt_descendants() -> None:
    """SIGINT to every process this one started, and theirs: what Ctrl-C does to a terminal's job."""
    signal_all(process_tree(os.getpid())[1:], signal.SIGINT)


class StopSignals:
    """The stop signals while dev runs: each interrupts dev's commands and raises ``Stopped``.

    Inside ``deferred()`` a signal is only recorded (and ``event`` set, which ends the watcher's wait);
    ``Stopped`` is raised when the block ends.
    """

    def __init__(self, interrupt: Callable[[], None] = interrupt_descendants) -> None:
        self.signum = 0
        self.event = threading.Event()
        self._interrupt = interrupt
        self._deferring = False
        self._previous: dict = {}

    def __enter__(self) -> "StopSignals":
        # The handlers need the main thread, where invoke runs a task.
        self._previous = {signum: signal.signal(signum, self._handle) for signum in STOP_SIGNALS}
        return self

    def __exit__(self, *exc) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    def _handle(self, signum: int, frame) -> None:
        self.signum = self.signum or signum
        self.event.set()
        if not self._deferring:
            self._interrupt()
            raise Stopped(signum)

    @contextmanager
    def deferred(self) -> Iterator[None]:
        self._deferring = True
        try:
            yield
        finally:
            self._deferring = False
        if self.signum:
            raise Stopped(self.signum)


def described(what: Sequence[str]) -> str:
    """What a cycle is about: the changed components, the chart named as such."""
    if not what:
        return "no change since the running version (retrying it)"
    return ", ".join("chart/manifests" if name == CHART else name for name in what) + " changed"


def status_line(what: Sequence[str], timings: Sequence[tuple[str, float, str]], ok: bool) -> str:
    """The one line of a cycle: what changed, the seconds of build, load and roll (apply + rollout), the outcome."""
    seconds = {name: elapsed for name, elapsed, _ in timings}
    parts = [f"{label} {sum(seconds[name] for name in names if name in seconds):.1f}s"
             for label, names in (("build", ("build",)), ("load", ("load",)), ("roll", ("apply", "rollout")))
             if any(name in seconds for name in names)]
    outcome = "ready" if ok else "FAILED (see above); what ran before keeps serving, the next save retries"
    return f"{described(what)}: {', '.join(parts) or 'nothing ran'}: {outcome}"


def failure_text(error: Exception) -> str:
    """What a failed step said: deploy's own message and hint, or the command that failed."""
    if isinstance(error, Exit):
        return str(error.message)
    return f"error: `{error.result.command}` failed with exit code {error.result.exited} (its output is above)"


def cycle(c: Context, cfg: Settings, stop: StopSignals, what: Sequence[str], applied: Applied) -> bool:
    """One rebuild and rollout of what changed, its status line printed; True when it is ready."""
    report = Report()
    try:
        objects = release_objects(c, cfg, planned_images(cfg))
        roll_out(c, cfg, report, objects, guard=stop.deferred, applied=applied)
        ok = True
    except (Exit, Failure) as error:
        echo(failure_text(error))
        ok = False
    report.line("ok" if ok else "fail", status_line(what, report.timings, ok))
    return ok


@dataclass
class Beside:
    """The pod logs, and the port-forward when asked for, next to the loop."""

    logs: PodLogs
    forward: Forward | None = None

    def look_after(self) -> None:
        self.logs.look_after()
        if self.forward:
            self.forward.look_after()

    def after_rollout(self) -> None:
        self.logs.restart()
        if self.forward:
            self.forward.look_after()


@contextmanager
def beside(c: Context, cfg: Settings, report: Report, forward: bool, port: int | None) -> Iterator[Beside]:
    """Start the log stream (and with ``forward`` the port-forward, see Forward) for the block; stop them after it."""
    running = Beside(PodLogs(c, cfg), Forward(c, cfg, port, lambda text: report.line("info", text)) if forward else None)
    try:
        running.logs.start()
        running.look_after()
        yield running
    finally:
        running.logs.stop()
        if running.forward:
            running.forward.stop()


@dataclass
class Loop:
    """The loop's memory: what the cluster runs, what the last cycle tried, whether it failed, what was applied."""

    running: Sources
    tried: Sources
    failed: bool
    applied: Applied = field(default_factory=Applied)
    # Set when files changed since the last cycle (a save after a failure retries).
    touched: bool = False
    cycles: list[bool] = field(default_factory=list)

    def due(self, now: Sources) -> bool:
        return now != self.tried or (self.failed and self.touched)

    def done(self, now: Sources, ok: bool) -> None:
        self.tried, self.failed, self.touched = now, not ok, False
        if ok:
            self.running = now
        self.cycles.append(ok)


def current(cfg: Settings) -> Sources | None:
    """The sources now; None (the reason shown) when they cannot be read, e.g. a Dockerfile removed mid-edit."""
    try:
        return sources(cfg)
    except Exit as error:
        echo(str(error.message))
        return None


def watch_loop(c: Context, cfg: Settings, stop: StopSignals, state: Loop, side: Beside,
               changes: Iterator[set[str]]) -> None:
    """Cycle whenever the sources differ from what was tried; otherwise wait for changes. Ends with the changes."""
    while True:
        now = current(cfg)
        if now is not None and state.due(now):
            state.done(now, cycle(c, cfg, stop, changed(state.running, now), state.applied))
            side.after_rollout()
            continue
        with stop.deferred():
            batch = next(changes, None)
        if batch is None:
            return
        if batch:
            state.touched = True
        else:
            side.look_after()


def first_deploy(c: Context, cfg: Settings, report: Report) -> Loop:
    """`invoke deploy` once. When it fails after its checks and secrets, the loop starts anyway and retries."""
    aimed, applied = current(cfg) or {}, Applied()
    try:
        deploy_release(c, cfg, report, applied=applied)
        return Loop(aimed, aimed, failed=False, applied=applied)
    except (Exit, Failure) as error:
        if ("secrets", "ok") not in {(name, status) for name, _, status in report.timings}:
            raise
        echo(failure_text(error))
        report.line("fail", "the first deploy failed; watching: the next save retries")
        return Loop(aimed, aimed, failed=True, applied=applied)


def develop(c: Context, cfg: Settings, report: Report, *, forward: bool = False, port: int | None = None,
            clean_on_exit: bool = False, changes: Changes = watch_changes,
            stop: StopSignals | None = None) -> Loop | None:
    """Deploy, then the loop until a stop signal; the app stays deployed unless ``clean_on_exit``.

    ``forward`` keeps a port-forward to the frontend on local ``port`` (None: the Service's). Returns
    the loop's record (None when stopped during the first deploy).
    """
    stop = stop or StopSignals()
    state = None
    with stop:
        cfg = target(c, cfg)
        try:
            state = first_deploy(c, cfg, report)
            # Pod logs are the cluster's text: the filter learns the Secret's values before any is shown.
            load_known_secrets(c, cfg)
            with beside(c, cfg, report, forward, port) as side:
                report.line("info", watching_line(cfg, clean_on_exit))
                if cfg.provider == "kind":
                    report.line("info", f"kind load copies each rebuilt image whole into the nodes; faster: "
                                        f"`invoke cluster.up --registry`, then {registry.DEPLOY_THROUGH}")
                watch_loop(c, cfg, stop, state, side, changes(cfg, stop.event))
        except Stopped as stopped:
            report.line("info", f"stopped ({stopped})")
        leave(c, cfg, report, clean_on_exit, first_done=state is not None)
    return state


def watching_line(cfg: Settings, clean_on_exit: bool) -> str:
    paths = [os.path.relpath(path, cfg.root) if path.is_relative_to(cfg.root) else str(path) for path in watched(cfg)]
    gone = "--clean-on-exit removes it" if clean_on_exit else "it stays deployed"
    return f"watching {', '.join(paths)} for changes (Ctrl-C stops; {gone})"


def leave(c: Context, cfg: Settings, report: Report, clean_on_exit: bool, first_done: bool) -> None:
    """What is left when dev stops: the app as it is, or (``clean_on_exit``) nothing of it."""
    if not clean_on_exit:
        unfinished = "" if first_done else "the first deploy was stopped before its end, `invoke deploy` finishes it; "
        report.line("info", f"{unfinished}the app stays in {cfg.context}/{cfg.namespace}; `invoke clean` removes it")
        return
    try:
        clean_release(c, cfg, report, yes=True)
    except Stopped as stopped:
        report.line("fail", f"--clean-on-exit was stopped ({stopped}); `invoke clean` removes the rest")


def forward_port(value: object) -> tuple[bool, int | None]:
    """--port-forward: (whether to forward, the local port): alone the Service's port (None), =PORT that port."""
    if value is None or value is False:
        return False, None
    return True, None if value is True else read_flag(PORT, value, "--port-forward")


@task(
    help={
        **TARGET_HELP,
        "port_forward": "Keep a forward to the frontend open on 127.0.0.1 across restarts and print its URL; "
                        "alone the Service's port, --port-forward=PORT that local port.",
        "clean_on_exit": "Remove the release when dev stops (as `invoke clean --yes`); by default it stays.",
    },
    # A value is optional: alone it means true (the default port), =PORT names the local port.
    optional=["build_in_cluster", "port_forward"],
)
def dev(c, method=None, provider=None, context=None, namespace=None, build_in_cluster=None, port_forward=None,
        clean_on_exit=False):
    """Deploy, then watch the sources: rebuild, load and roll out only what an edit changed; stream the logs."""
    forward, port = forward_port(port_forward)
    cfg = resolve(c, method=method, provider=provider, context=context, context_explicit=bool(context),
                  namespace=namespace, build_in_cluster=build_in_cluster)
    develop(c, cfg, Report(), forward=forward, port=port, clean_on_exit=clean_on_exit)
