"""Wiring only: the tasks live in the todoops package, one module per concern and namespace."""
from pathlib import Path

from invoke import Collection

from todoops import (app, bases, chart, cleanup, cluster, config, deploy, dev, images, lint, manifests, preflight,
                     render, rollout, status, suites, validate)

config.check_project_file(Path(__file__).parent)

ns = Collection(deploy.deploy, dev.dev, validate.validate, deploy.prepare_secrets, cleanup.clean, preflight.doctor,
                status.status, suites.test)
ns.add_collection(Collection.from_module(app))
ns.add_collection(Collection("chart", chart.install_chart, render.render, lint.lint))
ns.add_collection(Collection.from_module(cluster))
image_tasks = Collection.from_module(images)
image_tasks.add_task(bases.bases)
ns.add_collection(image_tasks)
ns.add_collection(Collection.from_module(manifests, name="k8s"))
ns.add_collection(Collection.from_module(rollout))
ns.configure(config.DEFAULTS)
