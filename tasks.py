"""Wiring only: the tasks live in the todoops package, one module per concern."""
from pathlib import Path

from invoke import Collection

from todoops import bases, cluster, config, testing
from todoops import lint, render
from todoops import images as image_tasks
from todoops import chart, cleanup, k8s, pipeline, preflight, rollout, validate

config.check_project_file(Path(__file__).parent)

images = Collection("images")
images.add_task(bases.bases)
images.add_task(image_tasks.build_images)
images.add_task(image_tasks.load_images_task)

ns = Collection(testing.test)
ns.add_collection(images)
ns.add_task(render.render)
ns.add_task(lint.lint)
ns.add_task(pipeline.deploy)
ns.add_task(pipeline.prepare_secrets)
ns.add_task(preflight.doctor)
ns.add_task(validate.validate)
ns.add_task(cleanup.clean)
ns.add_collection(Collection("k8s", k8s.apply))
ns.add_collection(Collection("chart", chart.install_chart))
ns.add_collection(Collection("rollout", rollout.status))
ns.add_task(k8s.status)
ns.add_task(k8s.logs)
ns.add_task(k8s.port_forward)
ns.add_collection(Collection.from_module(cluster))
ns.configure(config.DEFAULTS)
