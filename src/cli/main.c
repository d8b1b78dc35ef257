/* main.c: nntrain's entry point: pick the OpenBLAS kernel, parse the command
 * line (before MPI starts: a usage error never needs the job), start the
 * ranks, place the threads, run the command of the table. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "commands.h"
#include "nn/backend.h"
#include "nn/dist.h"
#include "nn/error.h"
#include "nn/guard.h"
#include "nn/train.h"

/* Whether this process is rank 0 of the job, before MPI says so: from the
 * launchers' environment (mpirun, srun), else yes. */
static int launcher_rank0(void) {
    const char *vars[] = {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", "SLURM_PROCID"};
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++)
        if (getenv(vars[i])) return atoi(getenv(vars[i])) == 0;
    return 1;
}

static int exit_code(int rc) {
    return rc == NN_OK               ? NN_EXIT_OK
           : rc == NN_TRAIN_STOPPED  ? NN_EXIT_STOPPED
           : rc == NN_ERR_USAGE      ? NN_EXIT_USAGE
                                     : NN_EXIT_FAIL;
}

int main(int argc, char **argv) {
    /* A stop signal from the first instant must mean "stop cleanly" (issue 29.9). */
    if (argc >= 2 && (!strcmp(argv[1], "train") || !strcmp(argv[1], "gan"))) nn_guard_signals();
    /* Before MPI_Init: may re-exec with the right OpenBLAS kernel. */
    nn_blas_fix_coretype(argc, argv);
    static nn_args a;
    if (nn_args_parse(&a, argc, argv) != NN_OK) {
        if (launcher_rank0())
            fprintf(stderr, "nntrain: error: %s\n", nn_errmsg());
        return NN_EXIT_USAGE;
    }
    if (a.cmd == NN_CMD_HELP || a.help || a.version) {
        if (!launcher_rank0()) return NN_EXIT_OK;
        if (a.version) nn_help_version(stdout);
        else if (a.help) nn_help_command(stdout, a.cmd);
        else if (nn_help_run(&a, NULL) != NN_OK) {
            fprintf(stderr, "nntrain: error: %s\n", nn_errmsg());
            return NN_EXIT_USAGE;
        }
        /* `nntrain` alone is a usage error that prints the usage. */
        return argc < 2 ? NN_EXIT_USAGE : NN_EXIT_OK;
    }
    if (getenv("NNTRAIN_PARSE_ONLY")) return NN_EXIT_OK; /* tests/cli/surface.sh */
    nn_dist dist;
    if (nn_dist_init(&dist, &argc, &argv) != NN_OK) {
        fprintf(stderr, "nntrain: error: %s\n", nn_errmsg());
        return NN_EXIT_FAIL;
    }
    int rc = nn_args_agree(&a, &dist);
    if (rc == NN_OK) rc = nn_place_threads(&a, &dist);
    if (rc == NN_OK) rc = nn_dist_check(&dist, nn_backend_select(a.device, dist.local_rank));
    if (rc == NN_OK) rc = nn_cli_run(&a, &dist);
    if ((rc == NN_ERR || rc == NN_ERR_USAGE) && dist.rank == 0)
        fprintf(stderr, "nntrain: error: %s\n", nn_errmsg());
    nn_dist_free(&dist);
    return exit_code(rc);
}
