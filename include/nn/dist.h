/* dist.h: everything nntrain asks of MPI, and nothing else calls MPI.
 * Built with MPI=0 (or run without mpirun) it is a world of one rank. */
#ifndef NN_DIST_H
#define NN_DIST_H

#include <stdbool.h>
#include <stddef.h>

typedef struct nn_dist {
    int rank, size;             /* in the world */
    int local_rank, local_size; /* on this node (threads per rank = cores / local_size) */
    double wait_seconds;        /* time spent in allreduce, for the per-epoch report */
    void *impl;
} nn_dist;

int nn_dist_init(nn_dist *d, int *argc, char ***argv);
void nn_dist_free(nn_dist *d);
/* A buffer of n floats that nn_dist_allreduce_sum(d, buf, n) reduces through
 * node-shared memory (see dist_mpi.c), or NULL when that does not apply (one
 * rank per node, unequal ranks per node, NNTRAIN_SHM=0, a serial build):
 * then use ordinary memory. Collective; at most one per process; released by
 * nn_dist_free. */
float *nn_dist_shared_buffer(nn_dist *d, size_t n);
/* In-place sums across ranks. */
int nn_dist_allreduce_sum(nn_dist *d, float *buf, size_t n);
int nn_dist_allreduce_sum_f64(nn_dist *d, double *buf, size_t n);
/* The same sum as nn_dist_allreduce_sum(d, buf, n), overlapped with the
 * computation that fills buf: a backward pass finishes the gradients from the
 * end of the buffer towards its start. begin() opens a step over buf (n
 * floats, the same buf as nn_dist_shared_buffer's when it is that) of which
 * the first `body` are filled from the end and the rest (the metrics tail)
 * only at the end; ready(from) says buf[from, body) is final and starts
 * reducing it, in buckets of at least bucket_floats, on every rank in the
 * same order; it also lets MPI progress what is in flight. end() reduces the
 * rest and the tail and waits for all of it. Every rank must make the same
 * ready() calls. Between nodes the buckets go out as MPI_Iallreduce; within
 * a node through the shared buffer as above, one bucket at a time. Only
 * worth it where there is more than one node (nn_dist_overlap_useful); the
 * sums are the same as the one-shot reduction's (bit for bit with two nodes
 * or two ranks; a different order of additions with more). */
int nn_dist_reduce_begin(nn_dist *d, float *buf, size_t n, size_t body, size_t bucket_floats);
int nn_dist_reduce_ready(nn_dist *d, size_t from);
int nn_dist_reduce_end(nn_dist *d);
/* Whether the reduction crosses a network (ranks on more than one node, or
 * no node-shared buffer): only then is there something to overlap. */
bool nn_dist_overlap_useful(const nn_dist *d);
int nn_dist_bcast(nn_dist *d, void *buf, size_t bytes, int root);
/* Personalised exchange (collective): this rank sends send_bytes[r] bytes to
 * each rank r, packed in rank order in send, and receives recv_bytes[r] bytes
 * from each rank r, packed in rank order into recv. Both arrays have size
 * entries; the buffers must not overlap. */
int nn_dist_alltoallv(nn_dist *d, const void *send, const int *send_bytes, void *recv,
                      const int *recv_bytes);
/* Gather (collective, gather.c): every rank's `bytes` bytes, packed in rank
 * order, into *all (malloc'd, NUL-terminated) with their sum in *total, on
 * every rank (root < 0) or on rank root only (others get NULL, 0). */
int nn_dist_gatherv(nn_dist *d, const void *buf, size_t bytes, int root, char **all,
                    size_t *total);
/* The same for n strings per rank: *all holds every rank's, each
 * NUL-terminated, in rank order; *count of them, *total bytes. */
int nn_dist_gather_strings(nn_dist *d, char *const *v, size_t n, int root, char **all,
                           size_t *total, size_t *count);
/* Collective error check: every rank passes its own status. If any rank
 * failed, all return its negative status (NN_ERR, or a caller's own code
 * such as the CLI's usage error) and the message is that of the lowest failing
 * rank, prefixed with "rank R: " when there are several ranks. */
int nn_dist_check(nn_dist *d, int status);
/* Where ranks share a node-shared buffer: record that this rank has reached
 * step `step` (a store into shared memory, no MPI). */
void nn_dist_heartbeat(nn_dist *d, unsigned long long step);
/* For the watchdog (any thread, no MPI): write into buf the world ranks on
 * this node whose heartbeat is below `step`, e.g. "1, 3"; returns how many,
 * or -1 when unknown (no node-shared buffer). */
int nn_dist_behind(const nn_dist *d, unsigned long long step, char *buf, size_t n);
/* For the watchdog (any thread, no MPI): write into buf the other ranks of
 * this node whose process is stopped (SIGSTOP, a debugger: state T in
 * /proc/PID/stat), e.g. "1 (pid 4242)"; returns how many, or -1 when
 * unknown. */
int nn_dist_stopped(const nn_dist *d, char *buf, size_t n);
/* All ranks meet (used only to split waiting from reducing in --profile). */
int nn_dist_barrier(nn_dist *d);
/* Tear down the whole job now (an error that cannot be made collective). */
void nn_dist_abort(nn_dist *d, int code);
/* "mpi" or "serial". */
const char *nn_dist_kind(void);
/* The MPI library's name and version (first line), for --version. */
void nn_dist_library(char *buf, size_t n);

#endif
