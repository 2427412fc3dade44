"""pynq_mnist.host_training: the workstation side.

:mod:`.training` makes the teacher and the compressed student of a run;
:mod:`.conversion` turns that student into the IP and the overlay bundle.
"""
