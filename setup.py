"""pynq-mnist: one distribution, two sides.

The top-level folders are installed under the single ``pynq_mnist`` namespace:

==================  ==========================  ==============================
folder              package                     runs on
==================  ==========================  ==============================
pynq_mnist/         pynq_mnist                  both (no TensorFlow)
board/              pynq_mnist.board            the PYNQ-Z2 (no TensorFlow)
overlays/           pynq_mnist.overlays         both: built bundles + locator
notebooks/          pynq_mnist.notebooks        both: ``pynq get-notebooks``
host_training/      pynq_mnist.host_training    the workstation (extra ``host``)
vivado_bd/          pynq_mnist.vivado_bd        the workstation (extra ``host``)
==================  ==========================  ==============================

The plain install is what the board gets; ``pip install ".[host]"`` adds the
training and conversion toolchain, ``.[test]`` the test tools.
"""

from pynqutils.setup_utils import build_py, du_download_overlays
from setuptools import find_namespace_packages, find_packages, setup

FOLDERS = {
    "pynq_mnist": "pynq_mnist",
    "pynq_mnist.board": "board",
    "pynq_mnist.overlays": "overlays",
    "pynq_mnist.notebooks": "notebooks",
    "pynq_mnist.host_training": "host_training",
    "pynq_mnist.vivado_bd": "vivado_bd",
}


#: Folders of data files (no ``__init__.py``): listed as packages, so setuptools installs
#: them without its "Package would be ignored" warning (one 40-line banner per folder).
DATA_FOLDERS = {"pynq_mnist.host_training": ["conversion.hls*"]}


def packages() -> list[str]:
    """Every package under each mapped folder, named inside the namespace."""
    found = []
    for package, folder in FOLDERS.items():
        found.append(package)
        found += [f"{package}.{sub}" for sub in find_packages(folder)]
        include = DATA_FOLDERS.get(package)
        if include:
            found += [
                f"{package}.{sub}" for sub in find_namespace_packages(folder, include=include)
            ]
    return found


# The host stack is pinned (TF 2.15 with its native Keras 2); pynq 3.0.1
# is the newest pynq that installs beside it without moving numpy.
HOST = [
    "tensorflow-cpu==2.15.1",
    "qkeras==0.9.0",
    "pyparsing",  # qkeras 0.9.0 imports it without declaring it
    "tensorflow-model-optimization==0.7.5",
    "hls4ml==1.3.0",
    "keras-tuner==1.4.8",
    "pynq==3.0.1",
    "tqdm",
    "pydantic>=2,<3",  # the host configuration's checks and their messages
    # The RTL backend (convert --backend rtl); 0.6 needs numpy 2, TF 2.15 numpy 1.
    "da4ml==0.5.2",
]
TEST = ["pytest>=8", "ruff", "nbclient", "nbformat", "ipykernel"]

setup(
    name="pynq-mnist",
    version="0.1.0",
    description="MNIST on a PYNQ-Z2: train, compress, convert with hls4ml, and measure on the board",
    python_requires=">=3.10",
    packages=packages(),
    package_dir=FOLDERS,
    package_data={
        "": [
            "*.json",
            "*.tcl",
            "*.v",
            "*.xdc",
            "*.cpp",
            "*.h",
            "*.ipynb",
            "*.md",
            "*.bit",
            "*.hwh",
            "*.npz",
            "*.link",
            "*.png",
        ],
        # The IP's HLS C++ and Tcl templates (folders of files, see DATA_FOLDERS).
        "pynq_mnist.host_training.conversion.hls": ["*"],
        "pynq_mnist.host_training.conversion.hls.emulator": ["*"],
        "pynq_mnist.host_training.conversion.hls.emulator.include": ["*"],
        "pynq_mnist.host_training.conversion.rtl": ["*.in", "*.cpp"],
    },
    include_package_data=True,
    # The board side: the PYNQ image already has pynq, numpy and matplotlib.
    # pynq 3.0.1's pynq.lib (imported by every Overlay) needs pycparser.plyparser,
    # which pycparser 3 removed; the PYNQ image's pycparser is older.
    install_requires=["numpy", "matplotlib", "pynq>=3.0.1", "pycparser<3"],
    extras_require={"host": HOST, "test": TEST},
    entry_points={
        "console_scripts": ["pynq-mnist = pynq_mnist.cli:main"],
        "pynq.notebooks": ["pynq-mnist = pynq_mnist.notebooks"],
        "pynq.overlays": ["pynq-mnist = pynq_mnist.overlays"],
    },
    cmdclass={"build_py": build_py, "download_overlays": du_download_overlays},
)
