"""What every Python benchmark sets up before importing the test helpers: tests/ on the path, the
build to measure (build-rel/ when built, else build/; TANDEM_BUILD_DIR overrides) and the demo
image (TANDEM_IMAGE_DIR overrides). Import it first."""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..")
sys.path.insert(0, os.path.join(ROOT, "tests"))


def default_build():
    rel = os.path.join(ROOT, "build-rel")
    return rel if os.path.exists(os.path.join(rel, "hostd", "tandem-hostd")) else os.path.join(ROOT, "build")


os.environ.setdefault("TANDEM_BUILD_DIR", default_build())
os.environ.setdefault("TANDEM_IMAGE_DIR", "/var/cache/tandem/image")
