// pynq-mnist: the IP as a shared library, for emulation on a host (g++ only).
//
// A small C API over pynq_mnist_top(): push input beats with their TLAST flags,
// run the IP over every frame that is ready, pop output beats with their TLAST
// flags. The IP itself never blocks here: run() starts a frame only when all of
// its beats are queued, or when a TLAST ends it early (the IP then pads it with
// zeros, as the hardware does), so a partial frame just waits for more beats.
//
// Every function takes the handle from pm_create(). The hls4ml network keeps no
// state between frames, so handles are independent at frame boundaries. The
// network loads its weights from pm_weights_dir() on its first frame: call
// pm_set_weights_dir() before the first pm_run() (the Python side checks the
// folder first, since hls4ml's loader exits the process when a file is missing).
#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>

#include "pynq_mnist_top.h"

#define PM_ABI_VERSION 2

// The SHA-256 of the sources this library was built from (pynq_mnist's
// library_build.sources_digest, weights included), given by the build.
#ifndef PM_SOURCES_DIGEST
#error "build with -DPM_SOURCES_DIGEST=\"<digest of the sources>\" (pynq_mnist library_build)"
#endif

namespace {

struct Beat {
    uint64_t data;
    bool last;
};

struct Device {
    std::deque<Beat> input;
    std::deque<Beat> output;
};

// Beats of the frame at the front of the queue, or 0 if it is not complete yet.
size_t ready_frame_beats(const std::deque<Beat> &input) {
    size_t n = 0;
    for (std::deque<Beat>::const_iterator it = input.begin(); it != input.end(); ++it) {
        ++n;
        if (it->last || n == PYNQ_MNIST_BEATS_IN)
            return n;
    }
    return 0;
}

std::string weights_dir = ".";

} // namespace

extern "C" {

const char *pm_weights_dir(void) { return weights_dir.c_str(); }
void pm_set_weights_dir(const char *path) { weights_dir = path; }

int pm_abi_version(void) { return PM_ABI_VERSION; }
const char *pm_sources_digest(void) { return PM_SOURCES_DIGEST; }
int pm_beats_in_per_frame(void) { return PYNQ_MNIST_BEATS_IN; }
int pm_beats_out_per_frame(void) { return 1; }

void *pm_create(void) { return new Device(); }

void pm_destroy(void *handle) { delete static_cast<Device *>(handle); }

void pm_reset(void *handle) {
    Device *dev = static_cast<Device *>(handle);
    dev->input.clear();
    dev->output.clear();
}

// Queues n input beats; last[i] != 0 is TLAST on beat i. Returns n.
size_t pm_push(void *handle, const uint64_t *data, const uint8_t *last, size_t n) {
    Device *dev = static_cast<Device *>(handle);
    for (size_t i = 0; i < n; i++) {
        Beat beat = {data[i], last[i] != 0};
        dev->input.push_back(beat);
    }
    return n;
}

// Runs the IP on every ready frame; returns how many frames it processed.
size_t pm_run(void *handle) {
    Device *dev = static_cast<Device *>(handle);
    size_t frames = 0;
    hls::stream<axis_beat_t> in_stream("in_stream"), out_stream("out_stream");
    for (size_t n; (n = ready_frame_beats(dev->input)) != 0; frames++) {
        for (size_t i = 0; i < n; i++) {
            axis_beat_t beat;
            beat.data = dev->input.front().data;
            beat.keep = -1;
            beat.strb = -1;
            beat.last = dev->input.front().last;
            in_stream.write(beat);
            dev->input.pop_front();
        }
        pynq_mnist_top(in_stream, out_stream);
        while (!out_stream.empty()) {
            axis_beat_t beat = out_stream.read();
            Beat out = {beat.data.to_uint64(), beat.last != 0};
            dev->output.push_back(out);
        }
    }
    return frames;
}

// Moves up to max output beats into data/last; returns how many it moved.
size_t pm_pop(void *handle, uint64_t *data, uint8_t *last, size_t max) {
    Device *dev = static_cast<Device *>(handle);
    size_t n = 0;
    for (; n < max && !dev->output.empty(); n++) {
        data[n] = dev->output.front().data;
        last[n] = dev->output.front().last ? 1 : 0;
        dev->output.pop_front();
    }
    return n;
}

size_t pm_pending_output(void *handle) { return static_cast<Device *>(handle)->output.size(); }

size_t pm_pending_input(void *handle) { return static_cast<Device *>(handle)->input.size(); }

} // extern "C"
