/* testutil.h: helpers shared by the CUnit suites: temp folders, fixture
 * writers, finite-difference gradient checks. */
#ifndef NN_TESTUTIL_H
#define NN_TESTUTIL_H

#include <CUnit/CUnit.h>
#include <stddef.h>
#include <stdint.h>

#include "nn/net.h"

/* A fresh temp folder under /tmp for this test run (created once). */
const char *tu_tmpdir(void);
/* tu_path("x.idx") -> "<tmpdir>/x.idx" (static buffer rotated among 8). */
const char *tu_path(const char *name);
/* Write bytes to a file (gzip-compressed when gz is nonzero). */
void tu_write_file(const char *path, const void *data, size_t n, int gz);
/* A tiny MNIST-like IDX data set in dir: n_train/n_test images of h x w,
 * pixel and label patterns that a small net can learn (class = bright row
 * band). Writes the four files with the MNIST names, gzipped or not. */
void tu_write_mnist_like(const char *dir, int n_train, int n_test, int h, int w, int gz);

/* Largest relative error between the analytic gradient (backward) and
 * central finite differences of L = sum(y * r) for a fixed random r, over
 * the net's parameters and its input. n: batch size. */
double tu_gradcheck(nn_net *net, int n, uint64_t seed, double *max_input_err);

/* A loader that blocks (on a FIFO) must fail the run, not hang it: arm
 * (what != NULL: names the call) or disarm a 10 s alarm that exits 3. */
void tu_hang_guard(const char *what);

#define TU_REGISTER(fn) void fn(void)
TU_REGISTER(register_layer_tests);
TU_REGISTER(register_blas_tests);
TU_REGISTER(register_idx_tests);
TU_REGISTER(register_checkpoint_tests);
TU_REGISTER(register_spec_tests);
TU_REGISTER(register_sampler_tests);
TU_REGISTER(register_optim_tests);
TU_REGISTER(register_image_tests);
TU_REGISTER(register_gan_tests);
TU_REGISTER(register_prefetch_tests);
TU_REGISTER(register_metrics_tests);

#endif
