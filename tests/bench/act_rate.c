/* act_rate.c: the elementwise activations' rate on the CPU backend (ns per
 * element, best of 7 rounds of ~0.2 s each) over a 64K-float array that stays
 * in L2: what vexpf (src/backend/cpu.c) costs, without the GEMMs around it.
 * Built against two libnntrain.a to compare a change to those loops:
 *   mpicc -O2 -Iinclude tests/bench/act_rate.c OLD/libnntrain.a -lopenblas -lm -o old
 * Usage: act_rate   (prints "sigmoid NS tanh NS gelu NS") */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "nn/backend.h"

static double seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(void) {
    enum { N = 1 << 16 };
    float *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y);
    if (!x || !y) return 1;
    for (int i = 0; i < N; i++) x[i] = (float)((i * 7919) % 2001 - 1000) * 0.01f;
    const nn_backend *be = nn_backend_current();
    const nn_act acts[3] = {NN_ACT_SIGMOID, NN_ACT_TANH, NN_ACT_GELU};
    const char *names[3] = {"sigmoid", "tanh", "gelu"};
    double sink = 0;
    for (int a = 0; a < 3; a++) {
        double best = 1e9;
        for (int round = 0; round < 7; round++) {
            long reps = 0;
            double t0 = seconds(), t;
            do {
                be->act_forward(acts[a], 0.0f, N, x, y);
                sink += y[reps % N];
                reps++;
            } while ((t = seconds() - t0) < 0.2);
            double ns = t / ((double)reps * N) * 1e9;
            if (ns < best) best = ns;
        }
        printf("%s %.4f%s", names[a], best, a < 2 ? " " : "\n");
    }
    free(x), free(y);
    return sink == 12345.678 ? 2 : 0;
}
