"""What the SSH tests watch: a secret that must never leak, a folder's files, the machine's process list."""
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SECRET = "s3cr3t-Value-that-must-never-leak-42"


def tree(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` with its content (empty when the folder does not exist)."""
    if not folder.exists():
        return {}
    return {path.relative_to(folder).as_posix(): path.read_bytes() for path in folder.rglob("*") if path.is_file()}


@contextmanager
def process_snapshots() -> Iterator[list[str]]:
    """The machine's process list (every command line), taken every 20 ms while the block runs."""
    found: list[str] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            found.append(subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout)
            stop.wait(0.02)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        yield found
    finally:
        stop.set()
        watcher.join()
