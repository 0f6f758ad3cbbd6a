"""Packaging for gluon-lrfinder."""
import re
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent
VERSION = re.search(
    r'^__version__ = "([^"]+)"', (HERE / "gluon_lrfinder" / "core" / "_version.py").read_text(), re.M
).group(1)

setup(
    name="gluon-lrfinder",
    version=VERSION,
    description="Learning-rate range test (LR finder) for Apache MXNet Gluon models",
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["gluon_lrfinder", "gluon_lrfinder.*"]),
    # MXNet 1.9.1 (the last release) needs NumPy < 1.24 (it uses np.bool), which has no
    # wheels past Python 3.11.
    python_requires=">=3.8,<3.12",
    # MXNet is not a requirement: its builds (mxnet, mxnet-cu112, mxnet-cu117, ...) are different
    # distributions of the same `mxnet` module, so requiring one would make pip install the CPU
    # build over a user's GPU build (GluonCV and GluonNLP leave it out for the same reason).
    # Importing an MXNet-backed name without a supported MXNet raises an ImportError that says
    # which build to install (gluon_lrfinder/_mxnet.py); `pip install gluon-lrfinder[cpu]` adds
    # the CPU build.
    install_requires=[
        "numpy>=1.17,<1.24",  # MXNet 1.9.1 uses np.bool, removed in NumPy 1.24
        "matplotlib>=3.3,<3.11",  # 3.11 needs NumPy >= 1.25
        "tqdm>=4.40",
    ],
    # Horovod has no wheels: pip builds it from source against the installed MXNet, which
    # needs the build variables and no build isolation (about 7 minutes on 2 cores):
    #   pip install wheel setuptools cloudpickle psutil pyyaml packaging cffi
    #   HOROVOD_WITH_MXNET=1 HOROVOD_WITHOUT_TENSORFLOW=1 HOROVOD_WITHOUT_PYTORCH=1 \
    #   HOROVOD_WITH_GLOO=1 HOROVOD_WITHOUT_MPI=1 pip install --no-build-isolation ".[horovod]"
    # (`make test-horovod` does this in .venv; see docs/distributed.md.)
    # scikit-learn only for the bundled demo data (gluon_lrfinder.demo, the command line's default
    # data set); 1.7.x is the newest line that still supports NumPy < 1.24.
    extras_require={"cpu": ["mxnet==1.9.1"], "demo": ["scikit-learn>=1.0,<1.8"], "horovod": ["horovod==0.28.1"]},
    entry_points={"console_scripts": ["gluon-lrfinder=gluon_lrfinder.integrations.cli:main"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
