"""The ``task`` decorator of the tasks that take ``--host`` (deploy, validate, doctor, ...).

Assumption: every such task names its host parameter ``host``, so invoke would
give it the short flag ``-h``, which is help everywhere else.
"""
from invoke import Task
from invoke import task as invoke_task


class HostTask(Task):
    """A task with --host: its short flag is -o, so -h stays help (`invoke deploy -h`)."""

    def arg_opts(self, name, default, taken_names):
        return super().arg_opts(name, default, taken_names | {"h"})


def task(*args, **kwargs):
    """``invoke.task`` for the tasks that take --host."""
    return invoke_task(*args, klass=HostTask, **kwargs)
