/* select.c: which backend this process computes on (--device cpu|cuda|auto).
 * Nets and optimizers are created on nn_backend_current(), which is the CPU
 * backend unless nn_backend_select() chose the GPU at start-up. The CUDA
 * backend (src/backend/cuda/) is compiled in only by `make CUDA=1` (NN_CUDA);
 * without it, --device cuda is one clear error. */
#include <stdio.h>
#include <string.h>

#include "nn/backend.h"
#include "nn/error.h"

static const nn_backend *g_current;
static char g_note[300] = "cpu";

const nn_backend *nn_backend_current(void) { return g_current ? g_current : nn_backend_cpu(); }

const char *nn_backend_note(void) { return g_note; }

int nn_backend_select(const char *device, int local_rank) {
    const char *d = device ? device : "auto";
    if (strcmp(d, "auto") && strcmp(d, "cpu") && strcmp(d, "cuda"))
        return nn_fail("--device %s: expected cpu, cuda or auto", d);
    g_current = nn_backend_cpu();
    snprintf(g_note, sizeof g_note, "cpu");
    if (!strcmp(d, "cpu")) return NN_OK;
#ifdef NN_CUDA
    char why[256] = "";
    if (nn_cuda_open(local_rank, why, sizeof why) == 0) {
        g_current = nn_backend_cuda();
        snprintf(g_note, sizeof g_note, "cuda (%s)", why);
        return NN_OK;
    }
    if (!strcmp(d, "cuda")) return nn_fail("--device cuda: %s", why);
    snprintf(g_note, sizeof g_note, "cpu (no usable GPU: %s)", why);
    return NN_OK;
#else
    (void)local_rank;
    if (!strcmp(d, "cuda"))
        return nn_fail("--device cuda: this nntrain was built without the CUDA backend; `make "
                       "CUDA=1` builds build/cuda/nntrain with it");
    return NN_OK;
#endif
}
