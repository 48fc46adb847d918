"""The value kinds of the settings schema: one reader per kind, the same for every layer.

A reader takes what a layer holds, a YAML value (invoke.yaml) or a string (an
``INVOKE_TODOOPS_*`` variable, a task flag), and returns the value or raises
``Invalid``. Its kind's ``expected`` says what was wanted in the words of a
problem ("todoops.KEY (from SOURCE) is not ..."), never the value itself.
"""
import re
from collections.abc import Callable
from dataclasses import dataclass

PROVIDERS = ("minikube", "kind", "k3d", "docker-desktop", "containerd", "registry")
METHODS = ("kubectl", "helm")
# RFC 1123 label: what Kubernetes accepts for namespaces and helm for release names.
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
# RFC 1123 subdomain: what Kubernetes accepts for most object names (Secrets included).
DNS_SUBDOMAIN = re.compile(r"^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DURATION = re.compile(r"^(?=\d)(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m)?(?:(?P<s>\d+)s?)?$")
SWITCHES = {"true": True, "yes": True, "on": True, "1": True, "false": False, "no": False, "off": False, "0": False}


class Invalid(ValueError):
    """A value a kind cannot read; the message says what was expected, never what was given."""


@dataclass(frozen=True)
class Kind:
    """A value type of the schema: ``read`` takes a YAML value or a string and returns the value or raises."""

    expected: str  # completes "todoops.KEY (from SOURCE) is not ..."
    read: Callable[[object], object]
    # How a default is spelled for invoke (a string, so invoke never converts a variable).
    spell: Callable[[object], str] = str


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise Invalid
    if re.search(r"[\x00-\x1f\x7f]", value):
        raise Invalid
    return value.strip()


def _matching(pattern: re.Pattern) -> Callable[[object], str]:
    def read(value: object) -> str:
        text = _text(value)
        if not pattern.match(text):
            raise Invalid
        return text
    return read


def _choice(choices: tuple[str, ...], allow_empty: bool = False) -> Callable[[object], str]:
    def read(value: object) -> str:
        text = _text(value)
        if text not in choices and not (allow_empty and not text):
            raise Invalid
        return text
    return read


def _count(value: object) -> int:
    number = value if isinstance(value, int) and not isinstance(value, bool) else None
    if isinstance(value, str) and value.strip().isdecimal():
        number = int(value.strip())
    if number is None or not 0 < number < 10**6:
        raise Invalid
    return number


def _seconds(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        seconds = value
    else:
        found = DURATION.match(_text(value).lower()) if isinstance(value, str) and len(value) < 32 else None
        if not found:
            raise Invalid
        seconds = sum(int(found[unit] or 0) * factor for unit, factor in (("h", 3600), ("m", 60), ("s", 1)))
    if not 0 < seconds <= 86400:
        raise Invalid
    return seconds


def _switch(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in SWITCHES:
        return SWITCHES[value.strip().lower()]
    raise Invalid


def _items(value: object) -> tuple[str, ...]:
    # A YAML list, or "a,b" from a variable or flag.
    items = value if isinstance(value, (list, tuple)) else _text(value).split(",")
    return tuple(text for text in (_text(item) for item in items) if text)


def _port(value: object) -> int:
    number = _count(value)
    if number > 65535:
        raise Invalid
    return number


def _path(value: object) -> str:
    text = _text(value)
    if len(text) > 4096:
        raise Invalid
    return text


TEXT = Kind("text on one line (quote numbers in YAML)", _text)
NAME = Kind("a DNS label: lowercase letters, digits and '-', at most 63, starting and ending alphanumeric",
            _matching(DNS_LABEL))
OBJECT_NAME = Kind("a Kubernetes name: lowercase letters, digits, '-' and '.'", _matching(DNS_SUBDOMAIN))
CONTEXT = Kind("a kube context name on one line (empty: the kubeconfig's current context)", _text)
PROVIDER = Kind(f"a known provider: {', '.join(PROVIDERS)} (empty: the one the context implies)",
                _choice(PROVIDERS, allow_empty=True))
METHOD = Kind(f"a known method: {', '.join(METHODS)}", _choice(METHODS))
COUNT = Kind("a whole number above 0", _count)
SECONDS = Kind("a duration above 0 and at most 24h: seconds (180) or with units (90s, 3m, 1h30m)", _seconds)
SWITCH = Kind("a switch: true/false, yes/no, on/off or 1/0", _switch, lambda value: "true" if value else "false")
PORT = Kind("a port number from 1 to 65535", _port)
# The app's components, as `logs` and `port-forward` name them (postgresql serves no HTTP to forward to).
COMPONENT = Kind("one of backend, frontend, postgresql", _choice(("backend", "frontend", "postgresql")))
SERVICE = Kind("backend or frontend", _choice(("backend", "frontend")))
PATH = Kind("a path on one line", _path)
LIST = Kind("a list (in YAML) or comma-separated text", _items, ",".join)
