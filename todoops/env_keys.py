"""The keys of the app's Secret and what makes a value valid: pure rules, no I/O.

Assumptions: a value is judged without ever being quoted. Every function that
looks at one takes ``(spec_or_name, value)`` and wears ``value_free``, so no
parser's error text (which may hold the value) escapes; every secret value is
taught to the redaction filter (``register``) the moment it is read, so no later
line, error or echo can print it. A placeholder is a whole value that stands for
one, also base64-encoded (a copied Secret manifest).
"""
import base64
import binascii
import functools
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from .redaction import REDACTOR


@dataclass(frozen=True)
class KeySpec:
    name: str
    # Registered with the redaction filter; False only for harmless settings.
    secret: bool = True
    min_length: int = 0
    # Bytes of randomness when the value may be generated; 0 = cannot be.
    generate: int = 0
    schemes: tuple[str, ...] = ()
    # The dummy value .env.example shows for it ("" for none); copying it is a placeholder.
    example: str = ""


KEYS = (
    KeySpec("JWT_SECRET", min_length=32, generate=48),
    KeySpec("POSTGRES_PASSWORD", min_length=16, generate=24),
    KeySpec("DATABASE_URL", schemes=("postgresql", "postgres")),
    KeySpec("OPENAI_API_KEY", min_length=20),
    KeySpec("OPENAI_BASE_URL", secret=False, schemes=("https", "http")),
    KeySpec("OPENAI_MODEL", secret=False),
)
# A placeholder is a whole value that stands for one: a word such as "changeme"
# (any case and separators), a "<...>" or "your-..." template, one repeated
# character, an example host. A value merely containing "xxx", "test" or
# "default" is real: 1 in 500 random tokens contains "xxx", and "o1" is a model.
PLACEHOLDER_WORDS = frozenset({
    "changeme", "replaceme", "placeholder", "dummy", "example", "sample", "secret", "password", "passwd",
    "apikey", "token", "todo", "tbd", "fixme", "test", "none", "null", "nil", "undefined", "admin", "empty"})
PLACEHOLDER_SHAPES = re.compile(
    r"^(change[-_ .]?me|replace[-_ .]?me|your[-_ ]|insert[-_ ]|put[-_ ]your)|^<.*>$|^\.\.\.$|^\$\{?[A-Z_]+\}?$",
    re.IGNORECASE)
EXAMPLE_HOSTS = re.compile(r"^(host|hostname|example\.(com|org|net)|.*\.example(\.(com|org|net))?)$")
BASE64 = re.compile(r"^[A-Za-z0-9+/]{4,}={0,2}$")
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def value_free(on_error: Callable[[str], object]):
    """Make any exception from looking at a value ``on_error(name)`` instead.

    Parsers put what they reject into their messages (urlsplit's port error
    quotes it), and a traceback shows it too: every function that inspects a
    secret value takes ``(spec_or_name, value)`` and wears this guard, so no
    input can turn validation into a leak.
    """
    def decorate(function):
        @functools.wraps(function)
        def guarded(subject, value: str, *args, **kwargs):
            try:
                return function(subject, value, *args, **kwargs)
            except Exception:  # noqa: BLE001 - whatever the parser raised, its text may hold the value
                return on_error(getattr(subject, "name", subject))
        return guarded
    return decorate


@value_free(lambda name: None)
def url_password(name: str, value: str) -> str | None:
    return urlsplit(value).password if "://" in value else None


def register(name: str, value: str, specs: Mapping[str, KeySpec]) -> None:
    """Teach the redaction filter every spelling of a secret value, and of a password inside a URL."""
    spec = specs.get(name, KeySpec(name))
    if not value or not spec.secret:
        return
    REDACTOR.add(value)
    password = url_password(name, value)
    if password:
        REDACTOR.add(password)
        REDACTOR.add(unquote(password))


def _is_placeholder_text(value: str, examples: Collection[str]) -> bool:
    words = re.sub(r"[-_ .]", "", value.lower())
    host = urlsplit(value).hostname if "://" in value else None
    return (value in examples or words in PLACEHOLDER_WORDS or bool(PLACEHOLDER_SHAPES.search(value))
            or (len(value) > 2 and len(set(value)) == 1) or bool(host and EXAMPLE_HOSTS.match(host)))


def is_placeholder(value: str, examples: Collection[str] = ()) -> bool:
    """A dummy value (``examples``: the .env.example values), also when base64-encoded (a copied Secret manifest)."""
    if _is_placeholder_text(value, examples):
        return True
    if BASE64.match(value) and len(value) % 4 == 0:
        try:
            decoded = base64.b64decode(value, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return False
        return decoded.isprintable() and _is_placeholder_text(decoded, examples)
    return False


@value_free(lambda name: [f"{name} cannot be read as a value of its kind: see .env.example for its format"])
def value_problems(spec: KeySpec, value: str, examples: Collection[str] = ()) -> list[str]:
    """What is wrong with one value given by the user, without ever quoting it."""
    if is_placeholder(value, examples):
        return [f"{spec.name} is a placeholder: put the real value in .env"
                + (" or leave it empty to generate one" if spec.generate else "")]
    problems = []
    if len(value) < spec.min_length:
        problems.append(f"{spec.name} has {len(value)} characters, at least {spec.min_length} are needed"
                        + (": leave it empty to generate one" if spec.generate else ""))
    if spec.schemes:
        parts = urlsplit(value)
        # .port raises for a port that is not a number; the guard turns that into a problem.
        if parts.scheme not in spec.schemes or not parts.hostname or (parts.port is not None and not parts.port):
            problems.append(f"{spec.name} must be a {spec.schemes[0]}://host/... URL")
    if any(char in value for char in "\r\n"):
        problems.append(f"{spec.name} spans several lines: put it on one line")
    elif CONTROL.search(value):
        problems.append(f"{spec.name} holds a control character (e.g. NUL): remove it")
    return problems


def env_problems(values: Mapping[str, str], specs: tuple[KeySpec, ...]) -> list[str]:
    """The problems of the values .env gives (pure); absent and empty keys are fine."""
    examples = {spec.example for spec in specs if spec.example}
    return [problem for spec in specs if values.get(spec.name)
            for problem in value_problems(spec, values[spec.name], examples)]
