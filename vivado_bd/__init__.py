"""pynq_mnist.vivado_bd: the PYNQ-Z2 block design (Tcl) and the HLS + Vivado build.

``pynq-mnist build-overlay BUNDLE`` (:mod:`.build`) runs the bundle's HLS project,
then Vivado in batch mode, checks every output and records the bitstream in the
bundle. The pieces:

====================  ==============================================================
build.py              the command: steps, checks, resume, install into the bundle
plan.py               ``--check``: the tool-free checks and the build plan
toolchain.py          the supported tools (HLS_SHAPES, the one tool matrix); finding
                      them, refusing an unpatched Vivado HLS 2020.1; running them
params.py             bundle.json -> the parameters the Tcl reads (params.tcl)
reports.py            Vivado's utilization/timing, HLS's csynth.xml, the log scan for
                      design-breaking warnings, modelled vs synthesised figures
build_overlay.tcl     Vivado batch entry: project, block design, bitstream, reports
pynq_z2_design.tcl    the block design: PS7, AXI DMA (simple mode), the IP, wiring
pynq_z2_ps7.tcl       PYNQ-Z2 PS settings for installs without the board files
stream_timer.v        optional in-fabric latency counter (``--latency-counter``)
ip_reset_and.v        the IP reset's AND gate (a module reference, no library IP)
====================  ==============================================================
"""
