/* dist_serial.c: nn_dist for a build without MPI: one rank, no-op reductions. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/dist.h"
#include "nn/error.h"

const char *nn_dist_kind(void) { return "serial"; }

void nn_dist_library(char *buf, size_t n) { snprintf(buf, n, "none (a serial build: make MPI=0)"); }

int nn_dist_init(nn_dist *d, int *argc, char ***argv) {
    (void)argc, (void)argv;
    memset(d, 0, sizeof *d);
    d->size = d->local_size = 1;
    return NN_OK;
}

void nn_dist_free(nn_dist *d) { memset(d, 0, sizeof *d); }

float *nn_dist_shared_buffer(nn_dist *d, size_t n) {
    (void)d, (void)n;
    return NULL;
}

int nn_dist_allreduce_sum(nn_dist *d, float *buf, size_t n) {
    (void)d, (void)buf, (void)n;
    return NN_OK;
}

int nn_dist_allreduce_sum_f64(nn_dist *d, double *buf, size_t n) {
    (void)d, (void)buf, (void)n;
    return NN_OK;
}

int nn_dist_reduce_begin(nn_dist *d, float *buf, size_t n, size_t body, size_t bucket_floats) {
    (void)d, (void)buf, (void)n, (void)body, (void)bucket_floats;
    return NN_OK;
}

int nn_dist_reduce_ready(nn_dist *d, size_t from) {
    (void)d, (void)from;
    return NN_OK;
}

int nn_dist_reduce_end(nn_dist *d) {
    (void)d;
    return NN_OK;
}

bool nn_dist_overlap_useful(const nn_dist *d) {
    (void)d;
    return false;
}

int nn_dist_bcast(nn_dist *d, void *buf, size_t bytes, int root) {
    (void)d, (void)buf, (void)bytes, (void)root;
    return NN_OK;
}

int nn_dist_alltoallv(nn_dist *d, const void *send, const int *send_bytes, void *recv,
                      const int *recv_bytes) {
    (void)d, (void)recv_bytes;
    memcpy(recv, send, (size_t)send_bytes[0]);
    return NN_OK;
}

int nn_dist_check(nn_dist *d, int status) {
    (void)d;
    return status;
}

void nn_dist_heartbeat(nn_dist *d, unsigned long long step) { (void)d, (void)step; }

int nn_dist_behind(const nn_dist *d, unsigned long long step, char *buf, size_t n) {
    (void)d, (void)step;
    if (n) buf[0] = 0;
    return -1;
}

int nn_dist_stopped(const nn_dist *d, char *buf, size_t n) {
    (void)d;
    if (n) buf[0] = 0;
    return 0; /* one process: no other rank */
}

int nn_dist_barrier(nn_dist *d) {
    (void)d;
    return NN_OK;
}

void nn_dist_abort(nn_dist *d, int code) {
    (void)d;
    exit(code);
}
