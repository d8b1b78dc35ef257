/* blas_setup.c: make OpenBLAS use the right kernel and thread count.
 *
 * OpenBLAS 0.3.21 (Debian bookworm) does not know some newer CPUs and falls
 * back to a generic SSE3 kernel ("Prescott"), up to 5x slower than the AVX-512
 * one. The core type is read from OPENBLAS_CORETYPE when the library loads,
 * so the only in-process fix is to set it and re-exec. An explicit
 * OPENBLAS_CORETYPE from the user is always respected. */
#define _GNU_SOURCE
#include "nn/backend.h"
#include "nn/guard.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *openblas_get_corename(void);
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);

int nn_blas_threads(void) { return openblas_get_num_threads(); }

const char *nn_blas_corename(void) { return openblas_get_corename(); }

void nn_blas_set_threads(int threads) {
    if (threads > 0) openblas_set_num_threads(threads);
}

static int is_generic_kernel(const char *core) {
    static const char *generic[] = {"Prescott", "Core2", "Penryn", "Dunnington", "Nehalem",
                                    "Atom", "Katmai", "Coppermine", "Northwood", "Banias"};
    for (size_t i = 0; i < sizeof generic / sizeof *generic; i++)
        if (strcasecmp(core, generic[i]) == 0) return 1;
    return 0;
}

void nn_blas_fix_coretype(int argc, char **argv) {
    (void)argc;
    if (getenv("OPENBLAS_CORETYPE") || getenv("NN_NO_REEXEC")) return;
    const char *core = openblas_get_corename();
    if (!core || !is_generic_kernel(core)) return;
    const char *want = NULL;
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
        want = "SkylakeX";
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        want = "Haswell";
    if (!want) return;
    setenv("OPENBLAS_CORETYPE", want, 1);
    setenv("NN_NO_REEXEC", "1", 1); /* never loop */
    /* Exec the binary by its real path, not by /proc/self/exe: the kernel
     * names a process after the file it executes, and a process called "exe"
     * hides from ps, top, pgrep -x nntrain and pkill nntrain. */
    char self[4096];
    /* A stop signal caught so far (or arriving during the exec) stays
     * pending for the new image's handler instead of killing it. */
    nn_guard_hold_for_exec();
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len > 0) {
        self[len] = '\0';
        execv(self, argv);
    }
    execv("/proc/self/exe", argv);
    nn_guard_unblock();
    /* exec failed: carry on with the slow kernel, but say so. */
    fprintf(stderr, "nntrain: warning: OpenBLAS uses the generic '%s' kernel; set "
                    "OPENBLAS_CORETYPE=%s for up to 5x faster training\n", core, want);
}
