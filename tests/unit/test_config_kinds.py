"""``todoops.config.kinds``: each reader takes a YAML value or a string and returns the value or refuses it."""
import pytest

from todoops.config.kinds import COUNT, LIST, NAME, OBJECT_NAME, PORT, PROVIDER, SECONDS, SWITCH, TEXT, Invalid


@pytest.mark.parametrize(("kind", "given", "read"), [
    (TEXT, "  todo  ", "todo"),
    (NAME, "todo-app", "todo-app"),
    (OBJECT_NAME, "todo-app.secrets", "todo-app.secrets"),
    (PROVIDER, "", ""),
    (PROVIDER, "registry", "registry"),
    (COUNT, 3, 3),
    (COUNT, " 4 ", 4),
    (SECONDS, 180, 180),
    (SECONDS, "90s", 90),
    (SECONDS, "3M", 180),
    (SECONDS, "1h30m", 5400),
    (SECONDS, "24h", 86400),
    (SWITCH, False, False),
    (SWITCH, " On ", True),
    (SWITCH, "0", False),
    (PORT, "65535", 65535),
    (LIST, ["kind-*", " lab "], ("kind-*", "lab")),
    (LIST, "a,,b", ("a", "b")),
    (LIST, "", ()),
])
def test_a_readable_value_is_read(kind, given, read):
    assert kind.read(given) == read


@pytest.mark.parametrize(("kind", "given"), [
    (TEXT, 5),
    (TEXT, "two\nlines"),
    (NAME, "Todo_App"),
    (NAME, "-todo"),
    (NAME, "a" * 64),
    (OBJECT_NAME, "todo..secrets"),
    (PROVIDER, "aks"),
    (COUNT, True),
    (COUNT, 0),
    (COUNT, "2.5"),
    (SECONDS, 0),
    (SECONDS, "-3m"),
    (SECONDS, "3 fortnights"),
    (SECONDS, "25h"),
    (SECONDS, "1" * 40),
    (SWITCH, "maybe"),
    (SWITCH, 1),
    (PORT, 65536),
    (LIST, [1, 2]),
])
def test_an_unreadable_value_is_refused(kind, given):
    with pytest.raises(Invalid):
        kind.read(given)


def test_invoke_gets_every_default_spelled_as_the_reader_reads_it_back():
    for kind, value in ((SWITCH, False), (SWITCH, True), (LIST, ("kind-*", "lab")), (SECONDS, 180), (COUNT, 2)):
        assert kind.read(kind.spell(value)) == value
