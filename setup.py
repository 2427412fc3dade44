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

from setuptools import find_namespace_packages, find_packages, setup

try:
    # On the board: pynqutils' build_py resolves per-board overlays (``*.bit.d/``,
    # ``*.link``) and ``download_overlays`` fetches linked ones (PYNQ's packaging).
    from pynqutils.setup_utils import build_py, du_download_overlays

    COMMANDS = {"build_py": build_py, "download_overlays": du_download_overlays}
except ImportError:
    # Where pynqutils cannot install (Python 3.13: pynqutils >= 0.1.2 pins numpy<2, which
    # has no cp313 wheels) setuptools' own build_py copies the package as it is. Nothing
    # is lost on a workstation: this package ships no per-board overlay to resolve.
    COMMANDS = {}

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


# The host stack, one for Python 3.10 to 3.13: TensorFlow 2.21 with Keras 2 (tf-keras;
# host_training/tf_stack.py sets it up before anything imports TensorFlow). tf-keras
# requires `tensorflow`, not `tensorflow-cpu` (both would end up installed).
HOST = [
    "tensorflow==2.21.0",
    "tf-keras==2.21.0",
    "qkeras==0.9.0",
    "pyparsing",  # qkeras 0.9.0 imports it without declaring it
    "tensorflow-model-optimization==0.8.1",
    "hls4ml==1.3.0",
    "keras-tuner==1.4.8",
    # pynq's real DMA driver runs the emulated board. pynq 3.0.1 is the newest that installs
    # beside TF 2.21 (3.1+ pin grpcio-tools, whose protobuf<6 clashes with TF's >=6.31);
    # pynqutils 0.1.1 is the last that does not pin numpy<2 (no numpy 1.x for 3.13).
    "pynq==3.0.1",
    "pynqutils==0.1.1",
    "tqdm",
    "pydantic>=2,<3",  # the host configuration's checks and their messages
    "da4ml==0.5.2",  # the RTL backend (convert --backend rtl)
]
# NVIDIA GPUs: TensorFlow with its CUDA 12 and cuDNN 9 wheels (pip install ".[host,gpu]").
GPU = ["tensorflow[and-cuda]==2.21.0"]
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
        "pynq_mnist.host_training.conversion.rtl": ["*.in", "*.cpp", "cnn_templates/*"],
    },
    include_package_data=True,
    # The board side: the PYNQ image already has pynq, numpy and matplotlib. The PYNQ-Z2's
    # last image is v3.1 (pynq 3.1.x); pynq 4 removed Zynq-7000 support, so it is refused
    # here and, for an install that slipped past, at run time (board/pynq_version.py).
    # pynq 3.0.1's pynq.lib (imported by every Overlay) needs pycparser.plyparser,
    # which pycparser 3 removed; the PYNQ image's pycparser is older.
    # pynq 3.x imports pynqutils, which imports pkg_resources: gone from setuptools >= 81.
    install_requires=["numpy", "matplotlib", "pynq>=3.0.1,<4", "pycparser<3", "setuptools<81"],
    extras_require={"host": HOST, "gpu": GPU, "test": TEST},
    entry_points={
        "console_scripts": ["pynq-mnist = pynq_mnist.cli:main"],
        "pynq.notebooks": ["pynq-mnist = pynq_mnist.notebooks"],
        "pynq.overlays": ["pynq-mnist = pynq_mnist.overlays"],
    },
    cmdclass=COMMANDS,
)
