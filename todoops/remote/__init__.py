"""Remote hosts: the suite's steps over SSH with fabric, one module per job.

targets (``--host`` values), options (SSH options from settings and the SSH
config), sync (the project's copy on the remote), connection (the remote
Context; the only module that imports fabric), hosts (where a task's steps run:
here, on one host or on each) and hosttask (the ``--host`` task decorator).
"""
from .hosts import checks_everywhere, on_host
from .hosttask import task

__all__ = ("checks_everywhere", "on_host", "task")
