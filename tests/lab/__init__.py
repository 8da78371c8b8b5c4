"""The local test lab of eksnodes.windows: an EKS look-alike (AWS endpoint, Kubernetes API server,
node simulator and controllers) in one process.  Run it with ``PYTHONPATH=tests python -m lab``;
see ``tests/lab/README.md``.  Importing this package starts nothing."""
