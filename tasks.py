"""Wiring only: the tasks live in the todoops package, one module per concern."""
from pathlib import Path

from invoke import Collection

from todoops import bases, config, testing

config.check_project_file(Path(__file__).parent)

images = Collection("images")
images.add_task(bases.bases)

ns = Collection(testing.test)
ns.add_collection(images)
ns.configure(config.DEFAULTS)
