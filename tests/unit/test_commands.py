import sys
import threading

from invoke import Config, Context, Result

from tests.conftest import commands_run
from todoops.commands import command_line, pipe, probe, run
from todoops.redaction import REDACTOR

SECRET = "hunter2-very-secret-value"


def test_argv_is_quoted_once():
    assert command_line(["echo", "a b", "$HOME", "it's"]) == "echo 'a b' '$HOME' 'it'\"'\"'s'"


def test_pipeline_fails_when_any_stage_fails():
    line = command_line(pipe(["docker", "save", "img:1"], ["ctr", "images", "import", "-"]))
    assert line == "set -o pipefail; docker save img:1 | ctr images import -"


def test_dry_run_skips_mutating_commands_but_runs_probes(make_context, capsys):
    c = make_context({"kubectl get ns": Result(stdout="default")})
    assert run(c, ["kubectl", "apply", "-f", "-"], mutates=True, dry_run=True, stdin="x").ok
    assert probe(c, ["kubectl", "get", "ns"]).stdout == "default"
    assert commands_run(c) == ["kubectl get ns"]
    assert "[dry-run] kubectl apply -f - < (stdin)" in capsys.readouterr().err


def test_echo_is_redacted(make_context, capsys):
    REDACTOR.add(SECRET)
    c = make_context({f"echo {SECRET}": Result()})
    run(c, ["echo", SECRET])
    err = capsys.readouterr().err
    assert SECRET not in err and "echo ***" in err


def _run_real(argv, **kwargs):
    """The runner with a real local Context and tiny real subprocesses (nox style)."""
    return run(Context(), argv, **kwargs)


def test_real_output_is_redacted_in_every_spelling(capfd):
    import base64
    from urllib.parse import quote
    REDACTOR.add(SECRET)
    script = ("import base64,sys,urllib.parse as u; s=sys.argv[1]; print(s); "
              "print(base64.b64encode(s.encode()).decode()); print(u.quote(s, safe='')); "
              "print(s, file=sys.stderr)")
    # The secret reaches the child on stdin-free argv here only because this is the
    # test's own tiny program; what matters is what the runner lets through.
    result = _run_real([sys.executable, "-c", script, SECRET])
    out, err = capfd.readouterr()
    for form in (SECRET, base64.b64encode(SECRET.encode()).decode(), quote(SECRET, safe="")):
        assert form not in out and form not in err
    assert result.stdout.count("\n") == 3  # captured for parsing, never printed raw


def test_stdin_reaches_the_command_and_not_the_screen(capfd):
    REDACTOR.add(SECRET)
    result = _run_real([sys.executable, "-c", "import sys; sys.stdin.read(); print('read')"], stdin=SECRET, hide=True)
    assert result.stdout.strip() == "read"
    out, err = capfd.readouterr()
    assert SECRET not in out + err


def test_warn_returns_a_failed_result_instead_of_raising():
    assert probe(Context(), ["false"]).exited == 1
    assert probe(Context(), ["no-such-tool-anywhere"]).exited == 127



def test_stdin_fed_commands_finish_under_invoke_pty():
    # `invoke --pty` / INVOKE_RUN_PTY=1: a pty never sends end-of-file; `timeout` turns a hang into exit 124.
    pty_context = Context(Config(overrides={"run": {"pty": True}}))
    reader = ["timeout", "10", sys.executable, "-c", "import sys; print(len(sys.stdin.read()))"]
    result = run(pty_context, reader, stdin="abc", hide=True, warn=True)
    assert (result.exited, result.stdout.strip()) == (0, "3")


def test_probes_keep_stdout_and_stderr_apart_under_invoke_pty():
    pty_context = Context(Config(overrides={"run": {"pty": True}}))
    result = probe(pty_context, [sys.executable, "-c", "import sys; print('{}'); print('NotFound', file=sys.stderr)"])
    assert (result.stdout, result.stderr) == ("{}\n", "NotFound\n")


def test_a_secret_split_across_chunks_never_shows_and_parallel_lines_stay_whole(capfd):
    # invoke flushes after every chunk it reads: a line is only shown once it is complete.
    REDACTOR.add(SECRET)
    half = ("import sys, time; w = sys.stdout.write; w('{tag} ' + sys.argv[1][:9]); sys.stdout.flush(); "
            "time.sleep(0.3); w(sys.argv[1][9:] + ' end\\n'); sys.stdout.flush()")
    threads = [threading.Thread(target=_run_real, args=([sys.executable, "-c", half.format(tag=tag), SECRET],),
                                kwargs={"prefix": f"[{tag}] "}) for tag in ("backend", "frontend")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    out = capfd.readouterr().out
    assert SECRET[:9] not in out
    assert sorted(out.splitlines()) == ["[backend] backend *** end", "[frontend] frontend *** end"]
