"""Seeded random and hostile input for .env parsing and config resolution.

Properties, over every generated case: no exception but invoke's ``Exit`` (so no
traceback), exit code 2 whenever an input is bad, and no secret value, no
unknown key and no content of a line that is not an assignment in any output:
stdout, stderr, ``--json``, the error message, the commands run. Each secret
carries a unique marker, so a leak in any spelling of it shows. hypothesis is
not among the dev dependencies; ``TODOOPS_FUZZ_SEED`` replays one run, and
``TODOOPS_FUZZ_CASES`` makes a longer one.
"""
import base64
import json
import os
import random
import shutil
import string
from pathlib import Path
from urllib.parse import quote

import yaml
from invoke import Config, Context, Exit

from tests.conftest import commands_run
from tests.unit.fixtures import failed, ok, project
from todoops.checks import show
from todoops.config import DEFAULTS, SCHEMA, check_project_file, env_name, leaves, resolve
from todoops.env_keys import KEYS
from todoops.errors import ExitCode
from todoops.preflight import source_checks
from todoops.redaction import REDACTOR
from todoops.report import Report
from todoops.secrets import prepare

SEED = int(os.environ.get("TODOOPS_FUZZ_SEED", "20261201"))
CASES = int(os.environ.get("TODOOPS_FUZZ_CASES", "150"))
KUBECTL = "kubectl --context minikube --namespace todo-app"


def cluster() -> dict:
    """A fresh answer table (MockContext turns the one it gets into iterators)."""
    return {f"{KUBECTL} get secret todo-app-secrets -o json":
            failed(stderr='Error from server (NotFound): secrets "todo-app-secrets" not found\n'),
            f"{KUBECTL} get namespace todo-app -o name": ok("namespace/todo-app"), f"{KUBECTL} apply -f -": ok()}


SECRET_KEYS = [spec.name for spec in KEYS if spec.secret]
PLAIN_KEYS = [spec.name for spec in KEYS if not spec.secret]
# Every character class a value may hold: quotes, backslashes, '=', '#', '$', shell and URL
# specials, whitespace, control characters, NUL, CR, non-ASCII, astral, combining, right-to-left.
ALPHABET = (string.ascii_letters + string.digits + string.punctuation + " \t" + "\x00\r\x0b\x1b\x7f"
            + "äöüßéñ€漢字ü\u0301\u200b\u2028\u202e😀\U0001f9ea" + "'\"\\=#$`")


def marker(rng: random.Random) -> str:
    """A unique, long token that is easy to find in output in any spelling."""
    return "Mk" + "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(14))


def hostile(rng: random.Random, size: int) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(size))


def spellings(token: str) -> set[str]:
    raw = token.encode()
    return {token, base64.b64encode(raw).decode().rstrip("="), quote(token, safe=""), json.dumps(token)[1:-1]}


class Case:
    """One generated .env: its text, the markers that must never be shown, and whether it must be refused."""

    def __init__(self, rng: random.Random) -> None:
        self.lines: list[str] = []
        self.hidden: list[str] = []
        self.bad = False
        for _ in range(rng.randint(0, 9)):
            getattr(self, rng.choice(["secret", "secret", "plain", "not_assignment", "unknown", "comment",
                                      "duplicate", "unterminated", "huge"]))(rng)

    def secret(self, rng: random.Random) -> None:
        token = marker(rng)
        value = rng.choice([token + hostile(rng, rng.randint(0, 40)), hostile(rng, 8) + token,
                            f"postgresql://app:{token}@[{hostile(rng, 5)}/db", f"postgresql://u:{token}@h:{token}/d"])
        quoting = rng.choice(["", "'", '"'])
        self.lines.append(f"{rng.choice(SECRET_KEYS)}={quoting}{value}{quoting}")
        self.hidden.append(token)

    def plain(self, rng: random.Random) -> None:
        self.lines.append(f"{rng.choice(PLAIN_KEYS)}={hostile(rng, rng.randint(0, 30))}")

    def not_assignment(self, rng: random.Random) -> None:
        token = marker(rng)
        self.lines.append(rng.choice([token, f"{rng.choice(SECRET_KEYS)}: {token}", f"{token} {hostile(rng, 9)}",
                                      f"-----BEGIN KEY-----{token}"]).replace("\n", " "))
        self.hidden.append(token)
        self.bad = True

    def unknown(self, rng: random.Random) -> None:
        token = marker(rng)
        self.lines.append(f"{token}={marker(rng)}")
        self.hidden.append(token)
        self.bad = True

    def comment(self, rng: random.Random) -> None:
        self.lines.append(rng.choice(["", "   ", f"# {hostile(rng, 20)}".replace("\n", " ")]))

    def duplicate(self, rng: random.Random) -> None:
        name = rng.choice(SECRET_KEYS)
        first, second = marker(rng), marker(rng)
        self.lines += [f"{name}={first}", f"{name}={second}"]
        self.hidden += [first, second]
        self.bad = True

    def unterminated(self, rng: random.Random) -> None:
        token = marker(rng)
        self.lines.append(f'{rng.choice(SECRET_KEYS)}="{token}')
        self.hidden.append(token)
        self.bad = True

    def huge(self, rng: random.Random) -> None:
        token = marker(rng)
        self.lines.append(f"{rng.choice(SECRET_KEYS)}={token}{'x' * rng.randint(10_000, 70_000)}")
        self.hidden.append(token)

    @property
    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def leaks(hidden: list[str], *outputs: str) -> list[str]:
    shown = "\n".join(outputs)
    return sorted(form for token in hidden for form in spellings(token) if form in shown)


def test_env_files_never_crash_never_show_a_value_and_bad_ones_exit_2(make_context, tmp_path, capsys):
    rng = random.Random(SEED)
    project(tmp_path, None)
    shutil.rmtree(tmp_path / "k8s")  # doctor's manifest checks are not about .env, and parsing them is slow
    for number in range(CASES):
        case = Case(rng)
        REDACTOR.clear()
        (tmp_path / ".env").write_bytes(case.text.encode("utf-8", "surrogatepass"))
        c = make_context(cluster())
        cfg = resolve(c)
        message, code = "", 0
        show(Report(json_mode=True), source_checks(cfg))  # what doctor --json prints
        document, table = capsys.readouterr()
        try:
            prepare(c, cfg, Report())
        except Exit as error:
            message, code = error.message or "", error.code
        out, err = capsys.readouterr()
        where = f"seed {SEED} case {number}: {case.text[:300]!r}"
        assert leaks(case.hidden, document, table, out, err, message, *commands_run(c)) == [], where
        assert json.loads(document), where
        if case.bad:
            assert code == ExitCode.BAD_INPUT, where
        assert code in (0, ExitCode.BAD_INPUT), where


# -- config: invoke.yaml trees, INVOKE_TODOOPS_* variables and flags

SETTINGS = [path for path, _ in leaves(SCHEMA)]
SECTIONS = [name for name, entry in SCHEMA.items() if isinstance(entry, dict)]


def yaml_value(rng: random.Random, depth: int = 0) -> object:
    kinds = ["text", "int", "float", "bool", "none", "list", "mapping", "duration", "switch", "name"]
    kind = rng.choice(kinds if depth < 2 else kinds[:5])
    return {"text": lambda: hostile(rng, rng.randint(0, 30)).replace("\x00", ""),
            "int": lambda: rng.randint(-10, 10**7), "float": lambda: rng.random() * 100, "bool": lambda: rng.random() < .5,
            "none": lambda: None, "list": lambda: [yaml_value(rng, depth + 1) for _ in range(rng.randint(0, 3))],
            "mapping": lambda: {rng.choice([*SCHEMA, marker(rng)]): yaml_value(rng, depth + 1)
                                for _ in range(rng.randint(0, 3))},
            "duration": lambda: rng.choice(["3m", "90s", "1h30m", "0", "-5", "3 fortnights", "1e3"]),
            "switch": lambda: rng.choice(["false", "no", "off", "on", "maybe", ""]),
            "name": lambda: rng.choice(["todo-dev", "Todo_App", "-x", "a" * 70, "kind-todo"])}[kind]()


def project_tree(rng: random.Random) -> dict:
    tree: dict = {}
    for _ in range(rng.randint(0, 5)):
        path = rng.choice(SETTINGS + [(name,) for name in SECTIONS] + [(marker(rng),)])
        target = tree
        for name in path[:-1]:
            target = target.setdefault(name, {}) if isinstance(target.get(name, {}), dict) else {}
        target[path[-1]] = yaml_value(rng)
    return tree


def env_value(rng: random.Random) -> str:
    return rng.choice([hostile(rng, rng.randint(0, 20)), "false", "no", "OFF", "3m", "90s", "a,b, c", "0", "-1",
                       "x" * 5000]).replace("\x00", "")


def loaded_like_the_cli(root: Path) -> Context:
    """What invoke does before a task runs: collection defaults, the project's invoke.yaml, the shell."""
    config = Config(project_location=str(root))
    config.load_collection(DEFAULTS)
    config.load_project()
    config.load_shell_env()
    return Context(config)


def test_config_layers_never_crash_never_show_a_value_and_bad_ones_exit_2(tmp_path, monkeypatch):
    rng = random.Random(SEED + 1)
    (tmp_path / "tasks.py").write_text("")
    for number in range(CASES * 5):  # five times as many: a config case is cheap
        tree = {"todoops": project_tree(rng)} if rng.random() < .9 else rng.choice([{"todoops": None}, [1], "x"])
        variables = {rng.choice([env_name(rng.choice(SETTINGS)), env_name((marker(rng),))]): env_value(rng)
                     for _ in range(rng.randint(0, 3))}
        flags = {name: rng.choice([None, env_value(rng), yaml_value(rng)]) for name in
                 rng.sample(["namespace", "rollout_timeout", "build_in_cluster", "provider", "env_file", "host"], 2)}
        (tmp_path / "invoke.yaml").write_text(yaml.safe_dump(tree, allow_unicode=True))
        with monkeypatch.context() as scope:
            for name in [name for name in os.environ if name.startswith("INVOKE_")]:
                scope.delenv(name)
            for name, value in variables.items():
                scope.setenv(name, value)
            code, message = 0, ""
            try:
                check_project_file(tmp_path)
                resolve(loaded_like_the_cli(tmp_path), **flags)
            except Exit as error:
                code, message = error.code, error.message or ""
        where = f"seed {SEED + 1} case {number}: {tree!r} {variables!r} {flags!r}"
        assert code in (0, ExitCode.BAD_INPUT), where
        hidden = [value for value in variables.values() if len(value) > 6]
        assert not [value for value in hidden if value in message], where
