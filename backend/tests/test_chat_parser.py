from datetime import date

import pytest

from app.chat import intents
from app.chat.parser import parse

TODAY = date(2025, 1, 15)  # a Wednesday


@pytest.mark.parametrize(
    "message, expected",
    [
        ("add buy milk tomorrow", intents.Create("Buy milk", date(2025, 1, 16))),
        ("Add Buy milk", intents.Create("Buy milk")),
        ("please add call Bob today.", intents.Create("Call Bob", TODAY)),
        ("create task: file taxes by 2025-04-15", intents.Create("File taxes", date(2025, 4, 15))),
        ("new task pay rent on friday", intents.Create("Pay rent", date(2025, 1, 17))),
        ("remind me to water plants next wednesday", intents.Create("Water plants", date(2025, 1, 22))),
        ("add dentist in 3 days", intents.Create("Dentist", date(2025, 1, 18))),
        ("add review PR in a week", intents.Create("Review PR", date(2025, 1, 22))),
        ("add fix the roof high priority", intents.Create("Fix the roof", None, "high")),
        ("add read a book, low priority, next week", intents.Create("Read a book", date(2025, 1, 22), "low")),
        ("add urgent call the bank tomorrow", intents.Create("Call the bank", date(2025, 1, 16), "high")),
        ("add meet at today's standup", intents.Create("Meet at today's standup")),
        ("add", intents.Help(understood=False)),
        ("what is left", intents.ListTasks(done=False)),
        ("What's left?", intents.ListTasks(done=False)),
        ("what do I still have to do", intents.ListTasks(done=False)),
        ("show my tasks", intents.ListTasks(done=False)),
        ("list", intents.ListTasks(done=False)),
        ("show done", intents.ListTasks(done=True)),
        ("list completed tasks", intents.ListTasks(done=True)),
        ("show all tasks", intents.ListTasks(done=None)),
        ("mark 3 done", intents.SetDone(3, True)),
        ("Mark task #3 as complete", intents.SetDone(3, True)),
        ("complete 12", intents.SetDone(12, True)),
        ("finish task 4", intents.SetDone(4, True)),
        ("done 5", intents.SetDone(5, True)),
        ("mark 3 undone", intents.SetDone(3, False)),
        ("mark 3 as not done", intents.SetDone(3, False)),
        ("reopen 7", intents.SetDone(7, False)),
        ("delete 9", intents.Delete(9)),
        ("remove task #9", intents.Delete(9)),
        ("rename 2 to Buy oat milk", intents.Update(2, {"title": "Buy oat milk"})),
        ("set 2 priority high", intents.Update(2, {"priority": "high"})),
        ("set the priority of task 2 to low", intents.Update(2, {"priority": "low"})),
        ("make 2 high priority", intents.Update(2, {"priority": "high"})),
        ("help", intents.Help()),
        ("what can you do?", intents.Help()),
        ("tell me a joke", intents.Help(understood=False)),
        ("delete everything", intents.Help(understood=False)),
        ("mark all done", intents.Help(understood=False)),
    ],
)
def test_phrasings(message, expected):
    assert parse(message, TODAY) == expected


def test_same_weekday_means_next_week():
    assert parse("add standup on wednesday", TODAY) == intents.Create("Standup", date(2025, 1, 22))


def test_invalid_date_stays_in_the_title():
    assert parse("add party on 2025-02-30", TODAY) == intents.Create("Party on 2025-02-30")
