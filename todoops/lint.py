"""placeholder"""
from invoke import task


@task
def lint(c):
    """Lint."""
