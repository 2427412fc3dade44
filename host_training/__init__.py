"""pynq_mnist.host_training: the workstation side.

:mod:`.training` makes the teacher and the compressed student of a run;
:mod:`.conversion` turns that student into the IP and the overlay bundle.
Importing this package first sets up TensorFlow with Keras 2 (:mod:`.tf_stack`).
"""

from pynq_mnist.host_training import tf_stack  # noqa: F401  (before anything imports TF)
