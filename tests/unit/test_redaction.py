import base64
import io
import json
from pathlib import Path
from urllib.parse import quote

import pytest

from todoops.redaction import MASK, RedactingStream, Redactor, spellings

SECRET = "s3cr3t/with+symbols=&more"


def test_spellings_cover_raw_base64_and_url_encoded():
    forms = spellings(SECRET)
    assert SECRET in forms
    assert base64.b64encode(SECRET.encode()).decode() in forms
    assert quote(SECRET, safe="") in forms


@pytest.mark.parametrize("render", [
    lambda s: s,
    lambda s: base64.b64encode(s.encode()).decode(),
    lambda s: quote(s, safe=""),
    lambda s: f"postgresql://app:{quote(s, safe='')}@db:5432/todo",
])
def test_redactor_masks_every_spelling(render):
    redactor = Redactor()
    redactor.add(SECRET)
    line = f"value: {render(SECRET)} end"
    assert redactor(line) == f"value: {MASK} end" or MASK in redactor(line)
    assert render(SECRET) not in redactor(line)


def test_short_values_are_not_registered():
    redactor = Redactor()
    redactor.add("abc")
    assert redactor("abc abc") == "abc abc"


def test_stream_redacts_a_secret_split_across_writes():
    target = io.StringIO()
    redactor = Redactor()
    redactor.add(SECRET)
    stream = RedactingStream(target, redactor)
    # As invoke does: a flush after every chunk, then (the command is done) finish.
    for chunk in ("token=" + SECRET[:5], SECRET[5:] + "\nnext line"):
        stream.write(chunk)
        stream.flush()
    assert SECRET not in target.getvalue() and target.getvalue() == f"token={MASK}\n"
    stream.finish()
    assert target.getvalue() == f"token={MASK}\nnext line"


ESCAPED_BY_JSON = 'pä"ss\\wörd-9Kq2\u2028Lm'


def test_data_is_redacted_before_it_becomes_json(capsys):
    from todoops.redaction import REDACTOR
    from todoops.report import Report

    REDACTOR.add(ESCAPED_BY_JSON)
    Report(json_mode=True).emit([{"detail": f"log: {ESCAPED_BY_JSON} end", "path": Path("/tmp") / ESCAPED_BY_JSON,
                                  "code": 3, ESCAPED_BY_JSON: None}])
    out = capsys.readouterr().out
    assert json.dumps(ESCAPED_BY_JSON)[1:-1] not in out and ESCAPED_BY_JSON not in out
    assert json.loads(out) == [{"detail": f"log: {MASK} end", "path": f"/tmp/{MASK}", "code": 3, MASK: None}]
