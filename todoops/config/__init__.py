"""The suite's settings: one typed schema, read the same way in every layer, resolved once per task.

``kinds`` reads values (name, number, duration, switch, path, list), ``schema``
declares every key with its kind and default, ``settings`` is the frozen result,
``reading`` checks one layer, ``flags`` the task flags, ``layers`` resolves the
four layers (``resolve``) and ``project_file`` checks ``invoke.yaml`` before
invoke reads it. A step never reads ``c.config``: it gets ``Settings``.
"""
from .flags import context_help, read_flag
from .kinds import COMPONENT, COUNT, PORT, PROVIDERS, SECONDS, SERVICE
from .layers import resolve
from .project_file import check_project_file
from .schema import DEFAULTS, SCHEMA, env_name, leaves
from .settings import ClusterSettings, ImageSpec, Settings, SshSettings

__all__ = ("COMPONENT", "COUNT", "DEFAULTS", "PORT", "PROVIDERS", "SCHEMA", "SECONDS", "SERVICE", "ClusterSettings",
           "ImageSpec", "Settings", "SshSettings", "check_project_file", "context_help", "env_name", "leaves",
           "read_flag", "resolve")
