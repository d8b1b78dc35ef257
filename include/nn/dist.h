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
 * failed, all return NN_ERR and the message is that of the lowest failing
 * rank, prefixed with "rank R: " when there are several ranks. */
int nn_dist_check(nn_dist *d, int status);
/* Where ranks share a node-shared buffer: record that this rank has reached
 * step `step` (a store into shared memory, no MPI). */
void nn_dist_heartbeat(nn_dist *d, unsigned long long step);
/* For the watchdog (any thread, no MPI): write into buf the world ranks on
 * this node whose heartbeat is below `step`, e.g. "1, 3"; returns how many,
 * or -1 when unknown (no node-shared buffer). */
int nn_dist_behind(const nn_dist *d, unsigned long long step, char *buf, size_t n);
/* All ranks meet (used only to split waiting from reducing in --profile). */
int nn_dist_barrier(nn_dist *d);
/* Tear down the whole job now (an error that cannot be made collective). */
void nn_dist_abort(nn_dist *d, int code);
/* "mpi" or "serial". */
const char *nn_dist_kind(void);

#endif
