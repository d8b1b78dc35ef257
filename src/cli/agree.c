/* agree.c: the start-up agreement of the ranks. Ranks started with other
 * flags (an MPMD launch `-np 1 nntrain ... : -np 1 nntrain ...`, a script
 * that builds each rank's line, a node with another spec file) would train
 * different things in lockstep: crash in a reduction of another size, hang
 * in a collective the others never reach, or silently average two
 * configurations. Before any collective that depends on the configuration,
 * each rank hashes the command and every flag's value (the rows of flags.c
 * not marked NN_FLAG_LOCAL: those may differ, as --out or --threads); a
 * difference ends every rank with the first flag that differs and its value
 * on each rank, exit 2. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "commands.h"
#include "nn/error.h"

static uint64_t hash_str(const char *s) {
    uint64_t h = 1469598103934665603ULL;
    for (; s && *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return s ? h : 7; /* NULL (no value) differs from "" */
}

/* Row i's value as compared ("-" for none); the command is row -1. */
static void value_of(const nn_args *a, int i, char *buf, size_t n) {
    if (i < 0) {
        snprintf(buf, n, "%s", a->cmd_name);
    } else if (!strcmp(nn_flags[i].name, "checkpoint")) {
        buf[0] = 0; /* every --checkpoint given, in order */
        for (int k = 0; k < a->nensemble; k++)
            snprintf(buf + strlen(buf), n - strlen(buf), "%s%s", k ? " " : "", a->ensemble[k]);
        if (!a->nensemble) snprintf(buf, n, "-");
    } else {
        snprintf(buf, n, "%s", a->raw[i] ? (a->raw[i][0] ? a->raw[i] : "(given)") : "-");
    }
}

int nn_args_agree(const nn_args *a, nn_dist *d) {
    if (d->size == 1) return NN_OK;
    const int n = nn_nflags + 1; /* the command, then every row */
    double *sum = nn_calloc((size_t)n * 2, sizeof(double), "flag hashes");
    if (!sum) return nn_dist_check(d, NN_ERR);
    double *own = sum + n;
    char v[4096];
    for (int i = -1; i < nn_nflags; i++) {
        if (i >= 0 && (nn_flags[i].opts & NN_FLAG_LOCAL)) continue;
        value_of(a, i, v, sizeof v);
        /* 40 bits: a sum over up to 2^13 ranks stays exact in a double. */
        own[i + 1] = sum[i + 1] = (double)(hash_str(v) >> 24);
    }
    int rc = nn_dist_allreduce_sum_f64(d, sum, (size_t)n);
    /* Where some rank's value is not the mean of all: summed, so that every
     * rank sees every row any rank saw differ, and takes the first. */
    for (int i = 0; rc == NN_OK && i < n; i++) own[i] = sum[i] != own[i] * d->size;
    if (rc == NN_OK) rc = nn_dist_allreduce_sum_f64(d, own, (size_t)n);
    int first = n;
    for (int i = 0; rc == NN_OK && i < n && first == n; i++)
        if (own[i] > 0) first = i;
    const int row = first - 1;
    if (rc != NN_OK || first == n) {
        free(sum);
        return nn_dist_check(d, rc);
    }
    value_of(a, row, v, sizeof v);
    char *mine[1] = {v}, *all = NULL;
    size_t total = 0, count = 0;
    rc = nn_dist_gather_strings(d, mine, 1, 0, &all, &total, &count);
    char msg[1500] = "";
    if (rc == NN_OK && d->rank == 0) {
        /* "rank 0: 100, rank 1: 50" (at most the first 8 ranks). */
        size_t off = 0;
        for (int r = 0; r < (int)count && r < 8; r++) {
            char q[200];
            nn_escaped(all + off, 120, q, sizeof q);
            snprintf(msg + strlen(msg), sizeof msg - strlen(msg), "%srank %d: %s", r ? ", " : "",
                     r, q);
            off += strlen(all + off) + 1;
        }
        if (count > 8) snprintf(msg + strlen(msg), sizeof msg - strlen(msg), ", ...");
    }
    free(all), free(sum);
    if (rc != NN_OK) return nn_dist_check(d, rc);
    if (row < 0)
        rc = nn_usage("the ranks were started with different commands (%s): every rank must run "
                      "the same nntrain command line",
                      d->rank == 0 ? msg : "");
    else
        rc = nn_usage("the ranks were started with different --%s (%s): every rank must have the "
                      "same flags (only --out, --threads, --progress and the like may differ)",
                      nn_flags[row].name, d->rank == 0 ? msg : "");
    return nn_dist_check(d, d->rank == 0 ? rc : NN_OK); /* rank 0's message, on every rank */
}
