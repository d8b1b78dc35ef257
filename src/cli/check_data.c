/* check_data.c: `nntrain check-data --data SPEC`, a preflight for a long job.
 * Every rank reads its part of every split (nn_data_check: each file read
 * and decoded whole); rank 0 gathers the per-class counts, the image sizes
 * found and every problem ("path: reason"), prints them, and the command
 * fails when there is any problem. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "nn/data.h"
#include "nn/error.h"

/* One split: gathered and printed by rank 0; *problems += its count. */
static int check_split(const nn_args *a, nn_dist *d, const char *split, size_t *problems) {
    nn_data_report r;
    int rc = nn_data_check(a->train.data, split, d->rank, d->size, &r);
    NN_TRY(nn_dist_check(d, rc));
    /* Counts: summed over the ranks. */
    const size_t k = (size_t)r.classes;
    double *sums = calloc(k + 1, sizeof *sums);
    rc = sums ? NN_OK : nn_fail("out of memory");
    for (size_t c = 0; rc == NN_OK && c < k; c++) sums[c] = r.class_count[c];
    if (rc == NN_OK) sums[k] = (double)r.checked;
    rc = nn_dist_check(d, rc);
    if (rc == NN_OK) rc = nn_dist_allreduce_sum_f64(d, sums, k + 1);
    /* Sizes and problems: to rank 0 as bytes. */
    char *sizes = NULL, *probs = NULL;
    size_t nsizes = 0, nprobs = 0;
    if (rc == NN_OK)
        rc = nn_dist_gatherv(d, r.sizes, (size_t)r.nsizes * sizeof *r.sizes, 0, &sizes, &nsizes);
    size_t count = 0;
    if (rc == NN_OK)
        rc = nn_dist_gather_strings(d, r.problems, r.nproblems, 0, &probs, &nprobs, &count);
    if (rc == NN_OK && d->rank == 0) {
        double total = 0;
        for (size_t c = 0; c < k; c++) total += sums[c];
        printf("%s: %.0f readable sample(s) in %d class(es), %.0f read, %zu problem(s)\n", split,
               total, r.classes, sums[k], count);
        for (size_t c = 0; c < k; c++) {
            char name[32];
            snprintf(name, sizeof name, "%zu", c);
            printf("  %-24s %8.0f\n", r.class_names ? r.class_names[c] : name, sums[c]);
        }
        /* Sizes: merge the ranks' tables. */
        nn_size_count *all = (nn_size_count *)sizes;
        const size_t ns = nsizes / sizeof *all;
        for (size_t i = 0; i < ns; i++)
            for (size_t j = i + 1; j < ns; j++)
                if (all[j].n && all[i].c == all[j].c && all[i].h == all[j].h && all[i].w == all[j].w)
                    all[i].n += all[j].n, all[j].n = 0;
        printf("  sizes (channels x height x width):");
        for (size_t i = 0; i < ns; i++)
            if (all[i].n)
                printf(" %dx%dx%d (%s): %zu", all[i].c, all[i].h, all[i].w,
                       all[i].c == 1 ? "gray" : "RGB", all[i].n);
        printf("\n");
        for (size_t i = 0; i < nprobs; i += strlen(probs + i) + 1) printf("  BAD %s\n", probs + i);
        *problems += count;
    }
    free(sizes), free(probs), free(sums);
    nn_data_report_free(&r);
    return rc;
}

int nn_cmd_check_data(const nn_args *a, nn_dist *d) {
    size_t problems = 0;
    if (d->rank == 0) printf("check-data %s (%d rank(s))\n", a->train.data, d->size);
    static const char *const splits[2] = {"train", "test"};
    for (int s = 0; s < 2; s++) NN_TRY(check_split(a, d, splits[s], &problems));
    if (d->rank == 0) fflush(stdout);
    int rc = problems ? nn_fail("%s: %zu unreadable, corrupt, empty or unsupported file(s) or "
                                "folder(s), listed above (BAD)",
                                a->train.data, problems)
                      : NN_OK;
    if (rc == NN_OK && d->rank == 0) printf("all files readable\n");
    return nn_dist_check(d, rc);
}
