// pynq-mnist: a minimal ap_axi_sdata.h for g++ emulation ONLY.
//
// The HLS tools bring their own ap_axi_sdata.h; this folder is never on their
// include path. It declares just what the wrapper uses of ap_axiu<D,0,0,0>
// (TDATA, TKEEP, TSTRB, TLAST), with the field names and widths of the real one.
#ifndef PYNQ_MNIST_EMU_AP_AXI_SDATA_H_
#define PYNQ_MNIST_EMU_AP_AXI_SDATA_H_

#include "ap_int.h"

// Only the side-channel-free form exists here: any other use fails to compile.
template <int D, int U, int TI, int TD> struct ap_axiu;

template <int D> struct ap_axiu<D, 0, 0, 0> {
    ap_uint<D> data;
    ap_uint<(D + 7) / 8> keep;
    ap_uint<(D + 7) / 8> strb;
    ap_uint<1> last;
};

#endif
