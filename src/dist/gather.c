/* gather.c: variable-size gathers, built on the collectives of dist.h (so the
 * MPI and the serial build share it). */
#include <stdlib.h>
#include <string.h>

#include "nn/dist.h"
#include "nn/error.h"

int nn_dist_gatherv(nn_dist *d, const void *buf, size_t bytes, int root, char **all,
                    size_t *total) {
    *all = NULL;
    *total = 0;
    const int n = d->size;
    const bool mine = root < 0 || d->rank == root;
    double *len = calloc((size_t)n, sizeof *len);
    int *sb = calloc((size_t)n, sizeof *sb), *rb = calloc((size_t)n, sizeof *rb);
    int rc = len && sb && rb ? NN_OK : nn_fail("out of memory");
    if (rc == NN_OK && bytes > (size_t)0x7fffffff)
        rc = nn_fail("%zu bytes to gather from one rank, more than 2 GB", bytes);
    if (rc == NN_OK) len[d->rank] = (double)bytes;
    rc = nn_dist_check(d, rc);
    if (rc == NN_OK) rc = nn_dist_allreduce_sum_f64(d, len, (size_t)n);
    size_t sum = 0;
    for (int r = 0; rc == NN_OK && r < n; r++) {
        rb[r] = mine ? (int)len[r] : 0;
        sb[r] = root < 0 || r == root ? (int)bytes : 0;
        sum += (size_t)len[r];
    }
    if (rc == NN_OK && mine && sum > (size_t)0x7fffffff)
        rc = nn_fail("%zu bytes to gather, more than 2 GB", sum);
    char *out = rc == NN_OK && mine ? malloc(sum + 1) : NULL;
    if (rc == NN_OK && mine && !out) rc = nn_fail("out of memory gathering %zu bytes", sum);
    rc = nn_dist_check(d, rc);
    /* alltoallv sends `bytes` to each destination from one packed buffer:
     * for an allgather, the same bytes once per rank. */
    char *send = NULL, none[1] = {0};
    if (rc == NN_OK && root < 0 && n > 1) {
        send = malloc(bytes * (size_t)n + 1);
        for (int r = 0; send && r < n; r++) memcpy(send + (size_t)r * bytes, buf, bytes);
        rc = nn_dist_check(d, send ? NN_OK : nn_fail("out of memory"));
    }
    if (rc == NN_OK)
        rc = nn_dist_alltoallv(d, send ? send : buf ? buf : none, sb, out ? out : none, rb);
    free(send), free(len), free(sb), free(rb);
    if (rc != NN_OK) {
        free(out);
        return NN_ERR;
    }
    if (out) out[sum] = 0;
    *all = out;
    *total = out ? sum : 0;
    return NN_OK;
}

int nn_dist_gather_strings(nn_dist *d, char *const *v, size_t n, int root, char **all,
                           size_t *total, size_t *count) {
    size_t len = 0;
    for (size_t i = 0; i < n; i++) len += strlen(v[i]) + 1;
    char *mine = malloc(len + 1), *p = mine;
    for (size_t i = 0; mine && i < n; i++) {
        const size_t k = strlen(v[i]) + 1;
        memcpy(p, v[i], k);
        p += k;
    }
    int rc = nn_dist_check(d, mine ? NN_OK : nn_fail("out of memory"));
    if (rc == NN_OK) rc = nn_dist_gatherv(d, mine, len, root, all, total);
    free(mine);
    *count = 0;
    for (size_t i = 0; rc == NN_OK && i < *total; i++) *count += (*all)[i] == 0;
    return rc;
}
