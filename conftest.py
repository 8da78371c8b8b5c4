"""Lab fixtures (lab, lab_factory, fresh_lab) for every test directory; see tests/lab/README.md."""

pytest_plugins = ["lab.pytest_plugin"]
