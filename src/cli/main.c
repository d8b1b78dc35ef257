/* main.c: nntrain's entry point: set up OpenBLAS and MPI, parse options,
 * dispatch to a command. The loops live in the library (src/core/train.c). */
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "args.h"
#include "commands.h"
#include "nn/backend.h"
#include "nn/dist.h"
#include "nn/error.h"
#include "nn/guard.h"
#include "nn/train.h"

static void set_threads(const nn_args *a, const nn_dist *d) {
    int threads = a->threads;
    if (threads == 0 && getenv("OPENBLAS_NUM_THREADS")) return; /* the user's choice */
    if (threads == 0) {
        /* The CPUs this process may run on (taskset, cgroups, Slurm), not all online ones. */
        cpu_set_t set;
        long cores = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set)
                                                                  : sysconf(_SC_NPROCESSORS_ONLN);
        /* Ranks bound to one core each see one CPU: do not divide again. */
        int share = cores >= d->local_size ? d->local_size : 1;
        threads = (int)(cores / (share > 0 ? share : 1));
        if (threads < 1) threads = 1;
    }
    nn_blas_set_threads(threads);
}

int main(int argc, char **argv) {
    /* A stop signal from the first instant must mean "stop cleanly" (issue 29.9). */
    if (argc >= 2 && (!strcmp(argv[1], "train") || !strcmp(argv[1], "gan"))) nn_guard_signals();
    /* Before MPI_Init: may re-exec with the right OpenBLAS kernel. */
    nn_blas_fix_coretype(argc, argv);
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
        !strcmp(argv[1], "help")) {
        nn_args_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    nn_dist dist;
    if (nn_dist_init(&dist, &argc, &argv) != NN_OK) {
        fprintf(stderr, "nntrain: error: %s\n", nn_errmsg());
        return 1;
    }
    nn_args a;
    int rc = nn_args_parse(&a, argc, argv);
    if (rc == NN_OK && a.help) {
        if (dist.rank == 0) nn_args_usage(stdout);
    } else if (rc == NN_OK) {
        set_threads(&a, &dist);
        rc = nn_dist_check(&dist, nn_backend_select(a.device, dist.local_rank));
        if (rc == NN_OK) rc = nn_cli_run(&a, &dist);
    }
    if (rc == NN_ERR && dist.rank == 0) fprintf(stderr, "nntrain: error: %s\n", nn_errmsg());
    nn_dist_free(&dist);
    return rc == NN_OK ? 0 : rc == NN_TRAIN_STOPPED ? NN_EXIT_STOPPED : 1;
}
