"""Deterministic parser: a fixed set of phrasings, no network, same answer every time.

Matching ignores case but titles keep the case the person typed. Dates are
resolved against the `today` passed in, so tests can pin it.
"""

import re
from datetime import date, timedelta

from app.chat import intents

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_ID = r"(?:task\s+)?#?(?P<id>\d{1,9})"
_LEVEL = r"(?P<level>low|medium|high)"


def _patterns(*sources: str) -> tuple[re.Pattern, ...]:
    return tuple(re.compile(f"^{source}$", re.IGNORECASE) for source in sources)


_HELP = _patterns(r"help", r"\?", r"what can you do")
_LIST = _patterns(
    r"what(?:'s| is) left",
    r"what do i (?:still )?(?:have|need) to do",
    r"(?:list|show)(?: me)?(?: my| the)?(?: (?P<state>all|open|pending|done|finished|completed))?(?: tasks| todos| items)?",
    r"(?:my )?(?:tasks|todos)",
)
_BY_ID = (
    (
        _patterns(rf"(?:mark|set) {_ID} (?:as )?(?:done|complete|completed|finished)",
                  rf"(?:complete|finish|done|check off|tick off) {_ID}"),
        lambda m: intents.SetDone(int(m["id"]), True),
    ),
    (
        _patterns(rf"(?:mark|set) {_ID} (?:as )?(?:undone|not done|open|incomplete|todo)",
                  rf"(?:reopen|uncheck|undo) {_ID}"),
        lambda m: intents.SetDone(int(m["id"]), False),
    ),
    (_patterns(rf"(?:delete|remove|drop) {_ID}"), lambda m: intents.Delete(int(m["id"]))),
    (
        _patterns(rf"(?:rename|retitle|change) {_ID} to (?P<title>.+)"),
        lambda m: intents.Update(int(m["id"]), {"title": _tidy_title(m["title"])}),
    ),
    (
        _patterns(rf"set (?:the )?priority of {_ID} to {_LEVEL}",
                  rf"set {_ID} priority (?:to )?{_LEVEL}",
                  rf"make {_ID} {_LEVEL}(?: priority)?"),
        lambda m: intents.Update(int(m["id"]), {"priority": m["level"].lower()}),
    ),
)
_CREATE = _patterns(r"(?:add|create|new|remind me to|todo:?)(?:\s+(?:a\s+)?(?:new\s+)?task:?)?\s+(?P<rest>.+)")
_PRIORITY_IN_TEXT = re.compile(
    r"\s*,?\s*\b(?:(?P<a>high|low|medium) priority|priority (?P<b>high|low|medium)|(?P<urgent>urgent|important))\b",
    re.IGNORECASE,
)
_DUE_IN_TEXT = re.compile(
    r"\s+(?:(?:due|by|on)\s+)?(?P<when>today|tonight|tomorrow|\d{4}-\d{2}-\d{2}|(?:next\s+)?(?:"
    + "|".join(WEEKDAYS)
    + r")|next week|in (?:a|\d{1,3}) (?:day|days|week|weeks))$",
    re.IGNORECASE,
)


def parse(message: str, today: date) -> intents.Intent:
    text = _normalise(message)
    for matcher in (_match_help_or_list, _match_by_id, _match_create):
        intent = matcher(text, today)
        if intent is not None:
            return intent
    return intents.Help(understood=False)


def _normalise(message: str) -> str:
    text = re.sub(r"\s+", " ", message.strip())
    text = re.sub(r"^(?:please|can you|could you)\s+", "", text, flags=re.IGNORECASE)
    return text.rstrip(" .!?") or text


def _first_match(patterns: tuple[re.Pattern, ...], text: str) -> re.Match | None:
    return next((m for m in (p.match(text) for p in patterns) if m), None)


def _match_help_or_list(text: str, _today: date) -> intents.Intent | None:
    if _first_match(_HELP, text):
        return intents.Help()
    listing = _first_match(_LIST, text)
    if listing:
        return intents.ListTasks(done=_list_state(listing.groupdict().get("state")))
    return None


def _list_state(word: str | None) -> bool | None:
    word = (word or "").lower()
    if word == "all":
        return None
    return word in ("done", "finished", "completed")


def _match_by_id(text: str, _today: date) -> intents.Intent | None:
    for patterns, build in _BY_ID:
        match = _first_match(patterns, text)
        if match:
            return build(match)
    return None


def _match_create(text: str, today: date) -> intents.Intent | None:
    match = _first_match(_CREATE, text)
    if not match:
        return None
    rest, priority = _take_priority(match["rest"])
    rest, due = _take_due_date(rest, today)
    title = _tidy_title(rest)
    if not title:
        return intents.Help(understood=False)
    return intents.Create(title=title, due_date=due, priority=priority)


def _take_priority(text: str) -> tuple[str, str]:
    match = _PRIORITY_IN_TEXT.search(text)
    if not match:
        return text, "medium"
    level = (match["a"] or match["b"] or "high").lower()
    return text[: match.start()] + text[match.end() :], level


def _take_due_date(text: str, today: date) -> tuple[str, date | None]:
    match = _DUE_IN_TEXT.search(text)
    due = resolve_when(match["when"], today) if match else None
    if due is None:
        return text, None
    return text[: match.start()], due


def resolve_when(when: str, today: date) -> date | None:
    when = re.sub(r"^next (?=\w+day$)", "", when.lower())
    if when in ("today", "tonight"):
        return today
    if when == "tomorrow":
        return today + timedelta(days=1)
    if when == "next week":
        return today + timedelta(days=7)
    if when in WEEKDAYS:
        # The next such day strictly after today.
        return today + timedelta(days=(WEEKDAYS.index(when) - today.weekday()) % 7 or 7)
    relative = re.fullmatch(r"in (a|\d+) (days?|weeks?)", when)
    if relative:
        count = 1 if relative[1] == "a" else int(relative[1])
        return today + timedelta(days=count * (7 if relative[2].startswith("week") else 1))
    try:
        return date.fromisoformat(when)
    except ValueError:
        return None


def _tidy_title(text: str) -> str:
    title = text.strip(" ,.;:-")[:200].strip()
    return title[:1].upper() + title[1:]
