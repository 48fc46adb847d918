"""Image references (``[host[:port]/]path[:tag][@digest]``), parsed in one place.

One image has several spellings: a Deployment says ``todo-backend:abc``,
containerd and minikube list ``docker.io/library/todo-backend:abc``, minikube's
cache stores the file ``todo-backend_abc``. These pure functions turn one
spelling into another. Assumption (docker's rule): a ref's first path part is
a registry host when it holds a ``.`` or a ``:`` or is ``localhost``; a ref
without one lives on Docker Hub, an official image under ``library/``.
"""
DEFAULT_REGISTRY = "docker.io"
OFFICIAL = f"{DEFAULT_REGISTRY}/library/"


def split_ref(ref: str) -> tuple[str, str]:
    """(repository, tag) of ``repo[:tag][@digest]``; tag "" when absent."""
    name = ref.split("@", 1)[0]
    repository, _, tag = name.rpartition(":")
    if not repository or "/" in tag:  # the colon belonged to a registry port
        return name, ""
    return repository, tag


def image_name(ref: str) -> str:
    """``reg:5000/team/todo-backend:tag`` -> ``todo-backend``: the repository's last path part."""
    return split_ref(ref)[0].rsplit("/", 1)[-1]


def registry_of(ref: str) -> str:
    """The registry ``host[:port]`` the ref names, "" when it names none (Docker Hub)."""
    first, _, rest = ref.partition("/")
    return first if rest and ("." in first or ":" in first or first == "localhost") else ""


def registry_host(ref: str) -> str:
    """The registry's host without its port: ``127.0.0.1:5000/todo:1`` -> ``127.0.0.1``, ``[::1]:5000/x`` ->
    ``[::1]``; "" for Docker Hub."""
    registry = registry_of(ref)
    if registry.startswith("["):
        return registry.partition("]")[0] + "]"
    return registry.partition(":")[0]


def normalize(ref: str) -> str:
    """``todo-backend:1`` -> ``docker.io/library/todo-backend:1``, as container runtimes store it."""
    if registry_of(ref):
        return ref
    return f"{DEFAULT_REGISTRY}/{ref}" if "/" in ref else f"{OFFICIAL}{ref}"


def shorten(ref: str) -> str:
    """``docker.io/library/postgres:15`` -> ``postgres:15``, as docker prints it: the inverse of ``normalize``."""
    return normalize(ref).removeprefix(OFFICIAL).removeprefix(f"{DEFAULT_REGISTRY}/")


def cache_names(ref: str) -> set[str]:
    """The file names minikube caches ``ref`` under (the ref as it was given, ':' as '_'), in each spelling."""
    return {spelling.replace(":", "_") for spelling in (normalize(ref), shorten(ref))}


def listed_refs(text: str) -> set[str]:
    """Normalized refs from an image listing (one ref per line, or a table whose first column is one)."""
    refs = set()
    for line in text.splitlines():
        word = line.split()[0] if line.split() else ""
        if ":" in word and not word.startswith("sha256:"):
            refs.add(normalize(word))
    return refs
