import pytest

from todoops.dockerignore import context_files, included, parse_dockerignore, sent_files


@pytest.mark.parametrize(("patterns", "path", "expected"), [
    ("node_modules", "node_modules/react/index.js", False),
    ("node_modules", "src/node_modules/x.js", True),
    ("**/node_modules", "src/node_modules/x.js", False),
    ("*.md", "README.md", False),
    ("*.md", "docs/guide.md", True),
    ("**/*.test.ts", "src/lib/api.test.ts", False),
    ("**/*.test.ts", "api.test.ts", False),
    ("/build", "build/out.js", False),
    ("src/test", "src/test/setup.ts", False),
    ("src/test", "src/testing.ts", True),
    ("*.log\n!keep.log", "keep.log", True),
    ("*.log\n!keep.log", "other.log", False),
    ("docs\n!docs/api.md", "docs/api.md", True),
    ("te?t.txt", "test.txt", False),
    ("[a-c].txt", "b.txt", False),
    ("[!a-c].txt", "b.txt", True),
    ("# a comment\n\n", "anything", True),
    ("*", "Dockerfile", False),
    ("*\n!app", "app/main.py", True),
])
def test_dockerignore_matching(patterns, path, expected):
    assert included(path, parse_dockerignore(patterns)) is expected


def test_context_files_follow_dockerignore_and_always_include_the_dockerfile(tmp_path):
    for name in ("Dockerfile", ".dockerignore", "app.py", "node_modules/x/index.js", "docs/a.md", "docs/keep.md"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(name)
    (tmp_path / ".dockerignore").write_text("Dockerfile\n.dockerignore\nnode_modules\ndocs\n!docs/keep.md\n")
    rules = parse_dockerignore((tmp_path / ".dockerignore").read_text())
    assert context_files(tmp_path, rules) == [".dockerignore", "Dockerfile", "app.py", "docs/keep.md"]
    assert sent_files(tmp_path) == context_files(tmp_path, rules)
