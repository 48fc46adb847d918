"""Docker's .dockerignore rules, so the suite knows exactly which files a build sends.

Used for content-addressed image tags (images) and for syncing build contexts
to remote hosts (remote). Pure functions on paths and patterns.
"""
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

# Always sent to the daemon, whatever .dockerignore says, and they shape the image.
ALWAYS_SENT = ("Dockerfile", ".dockerignore")


@dataclass(frozen=True)
class Rule:
    pattern: re.Pattern
    negate: bool


def glob_regex(pattern: str) -> str:
    """Docker's .dockerignore glob (Go filepath.Match plus ``**``) as a regex."""
    out, index = [], 0
    while index < len(pattern):
        char = pattern[index]
        if pattern.startswith("**/", index):
            out.append("(?:.*/)?")
            index += 3
            continue
        if pattern.startswith("**", index):
            out.append(".*")
            index += 2
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "\\" and index + 1 < len(pattern):
            index += 1
            out.append(re.escape(pattern[index]))
        elif char == "[":
            end = pattern.find("]", index + 1)
            if end < 0:
                out.append(re.escape(char))
            else:
                body = pattern[index + 1:end]
                out.append("[" + ("^" + body[1:] if body.startswith(("!", "^")) else body) + "]")
                index = end
        else:
            out.append(re.escape(char))
        index += 1
    return "".join(out)


def parse_dockerignore(text: str) -> tuple[Rule, ...]:
    rules = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        line = os.path.normpath(line[1:].strip() if negate else line).lstrip("/")
        if line and line != ".":
            rules.append(Rule(re.compile(glob_regex(line) + r"\Z"), negate))
    return tuple(rules)


def included(path: str, rules: Sequence[Rule]) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parent folders decides."""
    parts = path.split("/")
    prefixes = ["/".join(parts[:end]) for end in range(1, len(parts) + 1)]
    keep = True
    for rule in rules:
        if any(rule.pattern.match(prefix) for prefix in prefixes):
            keep = rule.negate
    return keep


def context_files(context: Path, rules: Sequence[Rule]) -> list[str]:
    """The build context's files as docker sends them (relative POSIX paths, sorted)."""
    # An excluded folder can only be skipped whole when no '!' rule could bring something back.
    prunable = not any(rule.negate for rule in rules)
    found = []
    for folder, dirs, files in os.walk(context):
        relative = Path(folder).relative_to(context).as_posix()
        base = "" if relative == "." else relative + "/"
        if prunable:
            dirs[:] = [d for d in dirs if included(base + d, rules)]
        found.extend(base + name for name in files if included(base + name, rules))
    return sorted(set(found) | {name for name in ALWAYS_SENT if (context / name).is_file()})


def sent_files(context: Path) -> list[str]:
    """The files a ``docker build`` of ``context`` sends, honouring its .dockerignore."""
    ignore = context / ".dockerignore"
    return context_files(context, parse_dockerignore(ignore.read_text() if ignore.is_file() else ""))
