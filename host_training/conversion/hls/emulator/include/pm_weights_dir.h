// pynq-mnist: where the emulated network reads its weights (g++ emulation only).
//
// hls4ml's C simulation loads weights from WEIGHTS_DIR at the first call. The
// emulator is built with -DWEIGHTS_DIR=pm_weights_dir() and this header forced
// in (-include), so the folder is given at run time (pm_set_weights_dir) rather
// than baked into the library: a bundle can move.
#ifndef PYNQ_MNIST_PM_WEIGHTS_DIR_H_
#define PYNQ_MNIST_PM_WEIGHTS_DIR_H_

#ifdef __cplusplus
extern "C" {
#endif
const char *pm_weights_dir(void);
#ifdef __cplusplus
}
#endif

#endif
