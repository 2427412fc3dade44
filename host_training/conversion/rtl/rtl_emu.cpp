// pynq-mnist: the Verilated RTL IP, clocked beat by beat behind a small C API.
//
// The board's emulator loads this library with ctypes (board/emulator/rtl_sim.py).
// Every clock the harness offers the next queued input beat (TVALID high while
// any is queued) and takes every output beat (TREADY high), as the AXI DMA
// does, or, when asked, only one clock in N (a slow receiver); a beat moves on
// a clock edge where VALID and READY are both high.
// Each output beat (and, when asked, each accepted input beat) is stamped with
// its clock number since the instance was created, so cycles per frame and
// latency are measured on the RTL itself.
//
//   int    rtl_abi_version(void);
//   int    rtl_beats_in_per_frame(void);
//   void  *rtl_create(void);
//   void   rtl_destroy(void *h);
//   void   rtl_reset(void *h);       // the reset port low for 4 clocks; drops queued beats
//   size_t rtl_push(void *h, const uint64_t *data, const uint8_t *last, size_t n);
//   size_t rtl_run(void *h);         // clocks until the queue is taken and the IP drained;
//                                    // returns the output beats it produced
//   void   rtl_set_output_ready_every(void *h, uint64_t n); // TREADY one clock in n
//   size_t rtl_pop(void *h, uint64_t *data, uint8_t *last, uint64_t *cycle, size_t max);
//   void   rtl_stamp_inputs(void *h, int on); // keep each input beat's clock (off at start)
//   size_t rtl_pending_in_cycles(void *h);
//   size_t rtl_pop_in_cycles(void *h, uint64_t *cycle, size_t max);
//   size_t rtl_pending_output(void *h);
//   size_t rtl_pending_input(void *h);
//   uint64_t rtl_cycles(void *h);
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>

#include "Vip.h"
#include "verilated.h"

#include "rtl_config.h"

namespace {

const int ABI_VERSION = 1;
const int RESET_CYCLES = 4;

struct Beat {
    uint64_t data;
    bool last;
    uint64_t cycle;
};

struct Sim {
    std::unique_ptr<VerilatedContext> context;
    std::unique_ptr<Vip> top;
    std::deque<Beat> in, out;
    std::deque<uint64_t> in_cycles;
    uint64_t cycle = 0;
    bool stamp_inputs = false;
    uint64_t ready_every = 1;

    Sim() : context(new VerilatedContext), top(new Vip(context.get(), "ip")) {
        top->PM_RTL_CLOCK = 0;
        reset();
    }

    // One clock: drive the inputs, settle, rising edge (beats move), falling edge.
    // Returns whether an output beat moved.
    bool tick() {
        bool offer = !in.empty();
        top->PM_RTL_IN(TVALID) = offer;
        top->PM_RTL_IN(TDATA) = offer ? in.front().data : 0;
        top->PM_RTL_IN(TLAST) = offer && in.front().last;
        top->PM_RTL_IN(TKEEP) = 0xFF;
        top->PM_RTL_IN(TSTRB) = 0xFF;
        bool ready = cycle % ready_every == 0;
        top->PM_RTL_OUT(TREADY) = ready;
        top->eval();
        bool took = offer && top->PM_RTL_IN(TREADY);
        bool gave = ready && top->PM_RTL_OUT(TVALID);
        Beat result{top->PM_RTL_OUT(TDATA), static_cast<bool>(top->PM_RTL_OUT(TLAST)), cycle};
        top->PM_RTL_CLOCK = 1;
        top->eval();
        top->PM_RTL_CLOCK = 0;
        top->eval();
        if (took) {
            in.pop_front();
            if (stamp_inputs)
                in_cycles.push_back(cycle);
        }
        if (gave)
            out.push_back(result);
        cycle++;
        return gave;
    }

    void reset() {
        in.clear();
        top->PM_RTL_RESET = 0;
        for (int i = 0; i < RESET_CYCLES; i++)
            tick();
        top->PM_RTL_RESET = 1;
        out.clear();
        in_cycles.clear();
    }

    size_t run() {
        size_t before = out.size();
        while (!in.empty())
            tick();
        // Drained once no beat came out for as long as the last frame taken can
        // need (plus a slow receiver's wait for each of the results queued).
        uint64_t quiet = 0, enough = PM_RTL_DRAIN_CYCLES + ready_every;
        while (quiet < enough)
            quiet = tick() ? 0 : quiet + 1;
        return out.size() - before;
    }
};

Sim *sim(void *h) { return static_cast<Sim *>(h); }

} // namespace

extern "C" {

int rtl_abi_version(void) { return ABI_VERSION; }
int rtl_beats_in_per_frame(void) { return PM_RTL_BEATS_IN; }
void *rtl_create(void) { return new Sim(); }
void rtl_destroy(void *h) { delete sim(h); }
void rtl_reset(void *h) { sim(h)->reset(); }

size_t rtl_push(void *h, const uint64_t *data, const uint8_t *last, size_t n) {
    for (size_t i = 0; i < n; i++)
        sim(h)->in.push_back(Beat{data[i], last[i] != 0, 0});
    return n;
}

size_t rtl_run(void *h) { return sim(h)->run(); }

size_t rtl_pop(void *h, uint64_t *data, uint8_t *last, uint64_t *cycle, size_t max) {
    std::deque<Beat> &out = sim(h)->out;
    size_t n = 0;
    for (; n < max && !out.empty(); n++) {
        data[n] = out.front().data;
        last[n] = out.front().last;
        if (cycle)
            cycle[n] = out.front().cycle;
        out.pop_front();
    }
    return n;
}

void rtl_set_output_ready_every(void *h, uint64_t n) { sim(h)->ready_every = n ? n : 1; }
void rtl_stamp_inputs(void *h, int on) { sim(h)->stamp_inputs = on != 0; }
size_t rtl_pending_in_cycles(void *h) { return sim(h)->in_cycles.size(); }

size_t rtl_pop_in_cycles(void *h, uint64_t *cycle, size_t max) {
    std::deque<uint64_t> &in_cycles = sim(h)->in_cycles;
    size_t n = 0;
    for (; n < max && !in_cycles.empty(); n++) {
        cycle[n] = in_cycles.front();
        in_cycles.pop_front();
    }
    return n;
}

size_t rtl_pending_output(void *h) { return sim(h)->out.size(); }
size_t rtl_pending_input(void *h) { return sim(h)->in.size(); }
uint64_t rtl_cycles(void *h) { return sim(h)->cycle; }
}
