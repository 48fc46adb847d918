"""todoops: build, ship and prove the Todo app on a local Kubernetes cluster.

Every external command goes through an invoke Context (see ``commands``), so the
same steps run locally, in dry-run mode, under MockContext in tests, and on a
remote host through a fabric Connection.
"""
