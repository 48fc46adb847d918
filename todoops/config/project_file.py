"""``check_project_file``: ``invoke.yaml`` checked against the schema before invoke reads it.

invoke loads the file after importing tasks.py and would die with a bare
traceback on a syntax error, a null or string where a section goes, or a
variable it cannot convert: it converts a variable to the type of the value
invoke.yaml gives ("false" over a YAML boolean becomes True, "3m" over a number
and anything over a list raise). tasks.py calls this first, so the user gets the
key and the fix instead, exit 2. Reading one small file keeps import cheap.
"""
from collections.abc import Mapping
from pathlib import Path

from ..errors import ExitCode, fail
from .reading import environment_names, not_a_section, read_tree, refuse
from .schema import dotted, env_name, leaves


def invoke_yaml_problems(data: Mapping, names: set[str]) -> list[str]:
    """invoke.yaml against the schema, and the variables invoke would misread over it."""
    problems: list[str] = []
    if "todoops" in data and not isinstance(data["todoops"], Mapping):
        return [not_a_section((), "invoke.yaml", data["todoops"])]
    tree = data.get("todoops") or {}
    read_tree(tree, lambda path: "invoke.yaml", problems)
    for path, _ in leaves():
        value = _lookup(tree, path)
        if env_name(path) in names and value is not None and not isinstance(value, str):
            problems.append(f"{env_name(path)} cannot override {dotted(path)}: invoke.yaml spells it as a "
                            f"{'list' if isinstance(value, list) else type(value).__name__}, and invoke converts "
                            "the variable to that type (misreading 'false', failing on '3m'): quote the value "
                            "in invoke.yaml, or unset the variable")
    return problems


def _lookup(tree: Mapping, path: tuple[str, ...]) -> object:
    for name in path:
        if not isinstance(tree, Mapping):
            return None
        tree = tree.get(name)
    return tree


def check_project_file(folder: Path) -> None:
    """Fail cleanly (exit 2, the key and the fix) when ``invoke.yaml`` cannot be read, parsed or merged by invoke."""
    import yaml

    path = folder / "invoke.yaml"
    try:
        data = yaml.safe_load(path.read_text()) if path.exists() else {}
    except OSError as error:
        fail(f"cannot read {path}: {error.strerror}",
             "make the file readable (chmod a+r) or remove it to use the defaults", ExitCode.BAD_INPUT)
    except yaml.YAMLError as error:
        where = getattr(error, "problem_mark", None)
        line = f" line {where.line + 1}" if where else ""
        fail(f"{path}{line} is not valid YAML ({getattr(error, 'problem', error)})",
             "fix the syntax; the file must be a mapping with a 'todoops:' section", ExitCode.BAD_INPUT)
    if data is not None and not isinstance(data, Mapping):
        fail(f"{path} must be a mapping, not a {type(data).__name__}",
             "start the file with 'todoops:' and indent the keys below it", ExitCode.BAD_INPUT)
    refuse(invoke_yaml_problems(data or {}, environment_names()),
           f"fix {path} (every setting and its kind: todoops/config/schema.py, SCHEMA)")
