import sys

from pynq_mnist.cli import main

sys.exit(main())
