"""Stand-in for ansible-test's pip bootstrap script, for machines that reach PyPI but not ansible's CI file host.

ansible-test runs it as `python pip_bootstrap.py <pip options> pip==X [--no-setuptools] [--no-wheel]`
inside an empty virtual environment, with pip configuration files disabled, once for each of the ten or so
virtual environments a fresh `make sanity` creates. With the uv that `make setup` installs on PATH, uv puts
the requested packages there (a third of a second, where the bundled pip and then the requested one take
four); otherwise it installs the interpreter's bundled pip, then the requested one, trusting the system's
certificate store as the requested pip (which uses truststore) will do afterwards.
"""

import ensurepip
import os
import shutil
import ssl
import subprocess
import sys

PIP_OPTIONS = {"--disable-pip-version-check", "--no-setuptools", "--no-wheel"}


def system_ca_bundle() -> list:
    paths = ssl.get_default_verify_paths()
    for candidate in (paths.cafile, paths.openssl_cafile, "/etc/ssl/certs/ca-certificates.crt"):
        if candidate and os.path.exists(candidate):
            return ["--cert", candidate]
    return []


uv = shutil.which("uv")
if uv:
    packages = [arg for arg in sys.argv[1:] if arg not in PIP_OPTIONS]
    subprocess.check_call([uv, "pip", "install", "--quiet", "--native-tls", "--python", sys.executable, *packages])
else:
    ensurepip.bootstrap(upgrade=True)
    arguments = [arg for arg in sys.argv[1:] if arg not in {"--no-setuptools", "--no-wheel"}]
    subprocess.check_call([sys.executable, "-m", "pip", "install", *system_ca_bundle(), *arguments])
