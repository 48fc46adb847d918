"""The one redaction filter every printed line passes through.

A secret can leak in several spellings: raw, base64 (Kubernetes Secret data),
and URL-encoded (inside a DATABASE_URL). The filter knows all of them for every
registered value and replaces each with ``***``.
"""
import base64
import io
from collections.abc import Mapping
from urllib.parse import quote, quote_plus

MASK = "***"
# Shorter values would mask ordinary words; the secrets layer refuses them anyway.
MIN_SECRET_LENGTH = 6


def spellings(value: str) -> set[str]:
    """Every form in which ``value`` may appear in output."""
    raw = value.encode()
    b64 = base64.b64encode(raw).decode()
    forms = {value, b64, b64.rstrip("="), base64.urlsafe_b64encode(raw).decode().rstrip("="),
             quote(value, safe=""), quote_plus(value)}
    return {form for form in forms if len(form) >= MIN_SECRET_LENGTH}


class Redactor:
    """Replaces every known spelling of every registered secret with ``***``."""

    def __init__(self) -> None:
        self._forms: list[str] = []

    def add(self, value: str) -> None:
        if len(value) < MIN_SECRET_LENGTH:
            return
        # Longest first, so a base64 form is masked before a raw substring of it.
        self._forms = sorted(set(self._forms) | spellings(value), key=len, reverse=True)

    def clear(self) -> None:
        self._forms = []

    def __call__(self, text: str) -> str:
        for form in self._forms:
            text = text.replace(form, MASK)
        return text

    def data(self, value: object) -> object:
        """JSON-like ``value`` with every string in it redacted.

        Serializing first would escape a secret holding a quote, a backslash or a
        non-ASCII character into a spelling the filter does not know, so data is
        redacted before it becomes JSON. Other objects become their ``str`` first.
        """
        if isinstance(value, Mapping):
            return {self.data(key): self.data(item) for key, item in value.items()}
        if isinstance(value, (list, tuple, set, frozenset)):
            return [self.data(item) for item in value]
        if value is None or isinstance(value, (bool, int, float)):
            return value
        return self(str(value))


REDACTOR = Redactor()


class RedactingStream(io.TextIOBase):
    """A write-only stream that redacts whole lines before passing them on.

    invoke hands output over in arbitrary chunks; buffering to the end of a
    line keeps a secret that straddles two chunks from slipping through, and
    keeps the lines of commands running side by side whole. invoke calls
    ``flush`` after every chunk, so ``flush`` keeps a partial line back;
    ``finish`` (the command is done) lets it out.
    """

    def __init__(self, target, redactor: Redactor = REDACTOR) -> None:
        self._target = target
        self._redactor = redactor
        self._pending = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self._pending += text
        complete, newline, self._pending = self._pending.rpartition("\n")
        if newline:
            self._target.write(self._redactor(complete + newline))
            self._target.flush()
        return len(text)

    def flush(self) -> None:
        self._target.flush()

    def finish(self) -> None:
        if self._pending:
            self._target.write(self._redactor(self._pending))
            self._pending = ""
        self._target.flush()
