/* dist_mpi.c: nn_dist over MPI (the only file that includes mpi.h). */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/dist.h"
#include "nn/error.h"

const char *nn_dist_kind(void) { return "mpi"; }

int nn_dist_init(nn_dist *d, int *argc, char ***argv) {
    memset(d, 0, sizeof *d);
    int inited = 0;
    MPI_Initialized(&inited);
    if (!inited && MPI_Init(argc, argv) != MPI_SUCCESS) return nn_fail("MPI_Init failed");
    MPI_Comm_rank(MPI_COMM_WORLD, &d->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &d->size);
    MPI_Comm local;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, d->rank, MPI_INFO_NULL, &local);
    MPI_Comm_rank(local, &d->local_rank);
    MPI_Comm_size(local, &d->local_size);
    MPI_Comm_free(&local);
    return NN_OK;
}

void nn_dist_free(nn_dist *d) {
    int fin = 0;
    MPI_Finalized(&fin);
    if (!fin) MPI_Finalize();
    memset(d, 0, sizeof *d);
}

int nn_dist_allreduce_sum(nn_dist *d, float *buf, size_t n) {
    if (d->size == 1) return NN_OK;
    double t0 = MPI_Wtime();
    /* MPI counts are int: reduce in chunks for very large buffers. */
    for (size_t off = 0; off < n; off += 1u << 30) {
        int cnt = (int)(n - off < (1u << 30) ? n - off : (1u << 30));
        if (MPI_Allreduce(MPI_IN_PLACE, buf + off, cnt, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD) !=
            MPI_SUCCESS)
            return nn_fail("MPI_Allreduce of %zu floats failed", n);
    }
    d->wait_seconds += MPI_Wtime() - t0;
    return NN_OK;
}

int nn_dist_allreduce_sum_f64(nn_dist *d, double *buf, size_t n) {
    if (d->size == 1) return NN_OK;
    double t0 = MPI_Wtime();
    if (MPI_Allreduce(MPI_IN_PLACE, buf, (int)n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD) !=
        MPI_SUCCESS)
        return nn_fail("MPI_Allreduce of %zu doubles failed", n);
    d->wait_seconds += MPI_Wtime() - t0;
    return NN_OK;
}

int nn_dist_bcast(nn_dist *d, void *buf, size_t bytes, int root) {
    if (d->size == 1) return NN_OK;
    for (size_t off = 0; off < bytes; off += 1u << 30) {
        int cnt = (int)(bytes - off < (1u << 30) ? bytes - off : (1u << 30));
        if (MPI_Bcast((char *)buf + off, cnt, MPI_BYTE, root, MPI_COMM_WORLD) != MPI_SUCCESS)
            return nn_fail("MPI_Bcast of %zu bytes failed", bytes);
    }
    return NN_OK;
}

int nn_dist_alltoallv(nn_dist *d, const void *send, const int *send_bytes, void *recv,
                      const int *recv_bytes) {
    int *sd = malloc(2 * (size_t)d->size * sizeof(int)), *rd = sd + d->size;
    if (!sd) return nn_fail("out of memory for an exchange between %d ranks", d->size);
    for (int r = 0, so = 0, ro = 0; r < d->size; r++) {
        sd[r] = so, rd[r] = ro;
        so += send_bytes[r], ro += recv_bytes[r];
    }
    double t0 = MPI_Wtime();
    int rc = MPI_Alltoallv(send, send_bytes, sd, MPI_BYTE, recv, recv_bytes, rd, MPI_BYTE,
                           MPI_COMM_WORLD);
    d->wait_seconds += MPI_Wtime() - t0;
    free(sd);
    return rc == MPI_SUCCESS ? NN_OK : nn_fail("MPI_Alltoallv between %d ranks failed", d->size);
}

int nn_dist_check(nn_dist *d, int status) {
    if (d->size == 1) return status;
    int mine = status == NN_OK ? d->size : d->rank, first;
    MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (first == d->size) return NN_OK;
    char msg[2048];
    if (d->rank == first) snprintf(msg, sizeof msg, "rank %d: %s", d->rank, nn_errmsg());
    MPI_Bcast(msg, sizeof msg, MPI_CHAR, first, MPI_COMM_WORLD);
    msg[sizeof msg - 1] = 0;
    return nn_fail("%s", msg);
}

void nn_dist_abort(nn_dist *d, int code) {
    (void)d;
    MPI_Abort(MPI_COMM_WORLD, code);
}
