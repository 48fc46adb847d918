"""Report: one line per change, said as done, or as "would" in a dry run, at every call site."""
import re

from tests.unit.fixtures import ENV, placed
from tests.unit.fixtures.cleanup import clean
from tests.unit.fixtures.cleanup import deployed as clean_answers
from tests.unit.fixtures.deploy import deployed
from todoops.config import resolve
from todoops.report import Report, as_done
from todoops.secrets import prepare

# A word that reports a change as made, unless "would be"/"would" stands before it.
CLAIMED = re.compile(r"(?<!would be )\b(created(?! by)|updated|written|loaded|built|removed|deleted)\b|\[ ok \] remove")


def claims(text: str) -> list[str]:
    return [line for line in text.splitlines() if CLAIMED.search(line) and "not loaded" not in line]


def test_as_done_says_would_in_a_dry_run():
    assert (as_done(False, "created"), as_done(True, "written to x")) == ("created", "would be written to x")


def test_a_dry_run_step_says_would_and_skip(capsys):
    with Report().step("remove namespace todo-app", dry_run=True):
        pass
    assert capsys.readouterr().out == "[skip] would remove namespace todo-app (dry run)\n"


def test_no_dry_run_line_claims_a_change(make_context, tmp_path, capsys):
    deployed(make_context, tmp_path, "kind", "kubectl", first=True, dry_run=True)
    target = tmp_path / "secrets" / "out.yaml"
    c = make_context(placed(tmp_path, target))
    prepare(c, resolve(c, dry_run=True), Report(), output=target)
    clean(make_context, clean_answers(), dry_run=True, yes=True)
    out = capsys.readouterr().out
    assert claims(out) == [] and not target.exists()
    for expected in ("namespace todo-app would be created", "Secret todo-app-secrets would be created",
                     "would be built", "would be loaded into the cluster", f"would be written to {target}",
                     "[skip] would remove"):
        assert expected in out
    assert ENV["JWT_SECRET"] not in out
