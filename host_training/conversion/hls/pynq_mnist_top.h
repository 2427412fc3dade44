// pynq-mnist: the IP's top level, an AXI-Stream wrapper around the hls4ml network.
//
// Input:  PYNQ_MNIST_STREAM_WIDTH_BITS-bit beats (64) of PYNQ_MNIST_PIXELS_PER_BEAT pixels,
//         each the top W = PYNQ_MNIST_WIRE_BITS bits of a uint8 pixel (pixel i of a
//         beat at bits W*i..W*i+W-1; 8, 4, 2 or 1 bits), PYNQ_MNIST_BEATS_IN beats
//         per frame, frames back to back, each starting on a beat (the bits after
//         a frame's last pixel are 0). The network gets the pixel byte with those
//         bits on top and zeros below (bundle.py InputFormat).
// Output: one 64-bit beat per frame: bits [CLASS_BITS-1:0] the argmax of the
//         full-precision logits (first maximum wins), then N_CLASSES signed
//         LOGIT_BITS-bit logits, logit k at bit CLASS_BITS + LOGIT_BITS*k, each
//         the network's logit truncated toward -inf and saturated to
//         ap_fixed<LOGIT_BITS, LOGIT_INT_BITS>.
// TLAST:  the input's TLAST ends a transfer. The output beat of the frame that
//         holds it carries TLAST. A TLAST before a frame's last beat ends that
//         frame early: its missing pixels are taken as 0 and the frame is emitted
//         with TLAST, so a short transfer never hangs the DMA.
//
// Builds with Vivado HLS 2020.1 and Vitis HLS 2022.1+ (ap_axi_sdata.h from the
// tool), and with g++ for emulation (the shim in emulator/include).
#ifndef PYNQ_MNIST_TOP_H_
#define PYNQ_MNIST_TOP_H_

#include "ap_axi_sdata.h"
#include "ap_int.h"
#include "hls_stream.h"

#include "pynq_mnist_config.h"

typedef ap_axiu<PYNQ_MNIST_STREAM_WIDTH_BITS, 0, 0, 0> axis_beat_t;

void pynq_mnist_top(hls::stream<axis_beat_t> &in_stream, hls::stream<axis_beat_t> &out_stream);

#endif
