// pynq-mnist: the IP's top level (see pynq_mnist_top.h for the stream format).
//
// Three stages run on every frame: unpack the beats into the network's input,
// run the hls4ml network, pack the argmax and the logits into one beat.
//
// io_stream (CNN): the stages are DATAFLOW processes that talk only through
// hls::stream FIFOs (the "ended" stream carries the input's TLAST past the
// network to the packer), the pattern UG1399 allows under ap_ctrl_none.
// io_parallel (MLP): the network's input and output are arrays, and UG1399
// allows ap_ctrl_none over a DATAFLOW region only when its channels are FIFOs,
// so the stages run one after the other in a plain function, as in hls4ml's own
// VivadoAccelerator AXI-Stream wrapper (hls4ml 1.3.0 vivado_accelerator_writer.py
// adds DATAFLOW to it for io_stream only).
#include "pynq_mnist_top.h"

#if PYNQ_MNIST_CLASS_BITS + PYNQ_MNIST_N_CLASSES * PYNQ_MNIST_LOGIT_BITS > PYNQ_MNIST_STREAM_WIDTH_BITS
#error "the class index and the logits do not fit in one output beat"
#endif
#if PYNQ_MNIST_PIXELS_PER_BEAT * PYNQ_MNIST_WIRE_BITS != PYNQ_MNIST_STREAM_WIDTH_BITS
#error "a beat must hold a whole number of pixels"
#endif
#if PYNQ_MNIST_BEATS_IN != (PYNQ_MNIST_PIXELS + PYNQ_MNIST_PIXELS_PER_BEAT - 1) / PYNQ_MNIST_PIXELS_PER_BEAT
#error "a frame must take the beats its pixels need, the last one padded"
#endif

namespace {

const int PIXELS_PER_BEAT = PYNQ_MNIST_PIXELS_PER_BEAT;
const int WIRE_BITS = PYNQ_MNIST_WIRE_BITS;

#if PYNQ_MNIST_IO_STREAM
typedef input_t::value_type pixel_t;
typedef result_t::value_type logit_t;
#else
typedef input_t pixel_t;
typedef result_t logit_t;
#endif

// The logits as they leave the IP: truncated toward -inf, saturated.
typedef ap_fixed<PYNQ_MNIST_LOGIT_BITS, PYNQ_MNIST_LOGIT_INT_BITS, AP_TRN, AP_SAT> logit_out_t;

// A uint8 pixel p is the ap_ufixed<8,0> value p * 2^-8: same bits, no arithmetic.
// The wire carries its top WIRE_BITS bits; the bits below them are 0.
pixel_t pixel_from_wire(ap_uint<WIRE_BITS> bits) {
#pragma HLS INLINE
    ap_uint<8> byte = 0;
    byte.range(7, 8 - WIRE_BITS) = bits;
    pixel_t pixel;
    pixel.range(7, 0) = byte;
    return pixel;
}

// Pixel p of a beat.
pixel_t pixel_of_beat(ap_uint<64> data, int p) {
#pragma HLS INLINE
    return pixel_from_wire(data.range(WIRE_BITS * p + WIRE_BITS - 1, WIRE_BITS * p));
}

// Reads the next beat unless the transfer has ended; a missing beat reads as 0.
ap_uint<64> next_beat(hls::stream<axis_beat_t> &in_stream, bool &ended) {
#pragma HLS INLINE
    ap_uint<64> data = 0;
    if (!ended) {
        axis_beat_t beat = in_stream.read();
        data = beat.data;
        ended = beat.last;
    }
    return data;
}

#if PYNQ_MNIST_IO_STREAM
void read_frame(hls::stream<axis_beat_t> &in_stream, hls::stream<input_t> &pixels,
                hls::stream<bool> &ended_out) {
    bool ended = false;
    ap_uint<64> data = 0;
read_pixels:
    for (int i = 0; i < PYNQ_MNIST_PIXELS; i++) {
#pragma HLS PIPELINE II = 1
        int p = i % PIXELS_PER_BEAT;
        if (p == 0)
            data = next_beat(in_stream, ended);
        input_t pixel;
        pixel[0] = pixel_of_beat(data, p);
        pixels.write(pixel);
    }
    ended_out.write(ended);
}
#else
// Returns whether the transfer ended (TLAST) within the frame.
bool read_frame(hls::stream<axis_beat_t> &in_stream, input_t pixels[PYNQ_MNIST_PIXELS]) {
    bool ended = false;
read_beats:
    for (int b = 0; b < PYNQ_MNIST_BEATS_IN; b++) {
#pragma HLS PIPELINE II = 1
        ap_uint<64> data = next_beat(in_stream, ended);
    unpack:
        for (int p = 0; p < PIXELS_PER_BEAT; p++) {
#pragma HLS UNROLL
            if (PIXELS_PER_BEAT * b + p < PYNQ_MNIST_PIXELS) // the last beat's padding: dropped
                pixels[PIXELS_PER_BEAT * b + p] = pixel_of_beat(data, p);
        }
    }
    return ended;
}
#endif

// The output word of one frame's logits (anything indexable by class).
template <class Logits> ap_uint<64> pack_word(const Logits &logits) {
#pragma HLS INLINE
    ap_uint<PYNQ_MNIST_CLASS_BITS> best = 0;
    logit_t best_value = logits[0];
argmax:
    for (int k = 1; k < PYNQ_MNIST_N_CLASSES; k++) {
#pragma HLS UNROLL
        if (logits[k] > best_value) {
            best_value = logits[k];
            best = k;
        }
    }
    ap_uint<64> word = 0;
    word.range(PYNQ_MNIST_CLASS_BITS - 1, 0) = best;
pack_logits:
    for (int k = 0; k < PYNQ_MNIST_N_CLASSES; k++) {
#pragma HLS UNROLL
        logit_out_t logit = logits[k];
        const int lsb = PYNQ_MNIST_CLASS_BITS + PYNQ_MNIST_LOGIT_BITS * k;
        word.range(lsb + PYNQ_MNIST_LOGIT_BITS - 1, lsb) = logit.range(PYNQ_MNIST_LOGIT_BITS - 1, 0);
    }
    return word;
}

void write_beat(hls::stream<axis_beat_t> &out_stream, ap_uint<64> word, bool last) {
#pragma HLS INLINE
    axis_beat_t beat;
    beat.data = word;
    beat.keep = -1;
    beat.strb = -1;
    beat.last = last;
    out_stream.write(beat);
}

#if PYNQ_MNIST_IO_STREAM
void write_result(hls::stream<result_t> &logits, hls::stream<bool> &ended,
                  hls::stream<axis_beat_t> &out_stream) {
    result_t frame_logits = logits.read();
    write_beat(out_stream, pack_word(frame_logits), ended.read());
}
#else
void write_result(result_t logits[PYNQ_MNIST_N_CLASSES], bool ended,
                  hls::stream<axis_beat_t> &out_stream) {
    write_beat(out_stream, pack_word(logits), ended);
}
#endif

} // namespace

void pynq_mnist_top(hls::stream<axis_beat_t> &in_stream, hls::stream<axis_beat_t> &out_stream) {
#pragma HLS INTERFACE axis port = in_stream
#pragma HLS INTERFACE axis port = out_stream
#pragma HLS INTERFACE ap_ctrl_none port = return
#if PYNQ_MNIST_IO_STREAM
#pragma HLS DATAFLOW
    hls::stream<bool> ended("ended");
#pragma HLS STREAM variable = ended depth = 4
    hls::stream<input_t> pixels("pixels");
#pragma HLS STREAM variable = pixels depth = 16
    hls::stream<result_t> logits("logits");
#pragma HLS STREAM variable = logits depth = 2
    read_frame(in_stream, pixels, ended);
    PYNQ_MNIST_NET(pixels, logits);
    write_result(logits, ended, out_stream);
#else
    // The same directives hls4ml puts on the network's own arguments, so they agree.
    input_t pixels[PYNQ_MNIST_PIXELS];
#pragma HLS ARRAY_RESHAPE variable = pixels complete dim = 0
    result_t logits[PYNQ_MNIST_N_CLASSES];
#pragma HLS ARRAY_PARTITION variable = logits complete dim = 0
    bool ended = read_frame(in_stream, pixels);
    PYNQ_MNIST_NET(pixels, logits);
    write_result(logits, ended, out_stream);
#endif
}
