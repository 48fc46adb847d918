"""The tool registry: version parsing, install hints, and the pinned versions as the one source CI reads."""
import re
import subprocess
import sys
from pathlib import Path

import pytest

from todoops import tools
from todoops.tools import TOOLS, version_of

ROOT = Path(__file__).resolve().parents[2]
CI_RUN = ROOT / ".ci" / "run"
PINNED = {"helm": tools.HELM_VERSION, "kube-score": tools.KUBE_SCORE_VERSION, "kind": tools.KIND_VERSION}


@pytest.mark.parametrize(("text", "version"), [
    ("Client Version: v1.32.4-dispatcher\nKustomize Version: v5.5.0", (1, 32, 4)),
    ("v3.22.0+g1234567", (3, 22, 0)), ("20.10.24+dfsg1", (20, 10, 24)), ("nothing", None)])
def test_version_of(text, version):
    assert version_of(text) == version


@pytest.mark.parametrize("name", PINNED)
def test_a_go_tools_hint_installs_the_pinned_version(name):
    assert f"@{PINNED[name]} " in TOOLS[name].hint


def test_every_library_is_found_by_import_and_every_binary_by_its_version_command():
    assert [name for name, tool in TOOLS.items() if tool.version is None] == ["kubernetes-validate"]
    assert all(tool.hint for tool in TOOLS.values())


def test_the_registry_imports_nothing_beyond_the_standard_library():
    # -S: no site-packages, so a third-party import fails as it would before .ci/run makes the venv.
    done = subprocess.run([sys.executable, "-S", "-E", "-s", "-c", "import todoops.tools"], cwd=ROOT,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_ci_reads_the_pinned_versions_from_the_registry():
    script = CI_RUN.read_text()
    lines = re.search(r"^TOOL_VERSIONS=.*?^read -r [^\n]*$", script, re.MULTILINE | re.DOTALL)
    assert lines, "the version lines of .ci/run moved: update this test"
    shown = subprocess.run(["bash", "-euc", f"{lines[0]}\necho $HELM_VERSION $KUBE_SCORE_VERSION $KIND_VERSION"],
                           cwd=ROOT, capture_output=True, text=True)
    assert shown.stdout.split() == [tools.HELM_VERSION, tools.KUBE_SCORE_VERSION, tools.KIND_VERSION], shown.stderr
    assert not [version for version in PINNED.values() if version in script]
