/* placement.c: how many OpenBLAS threads each rank runs, and the start-up
 * line that says where the ranks are. Ranks x threads never exceed a node's
 * cores unless --oversubscribe says so: on a node of C cores with L ranks,
 * each rank runs C / L threads (at least 1); a rank bound to fewer CPUs than
 * the node has (mpirun --bind-to, Slurm's cgroups) uses the CPUs it has. */
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "args.h"
#include "commands.h"
#include "nn/backend.h"
#include "nn/error.h"

/* The CPUs this process may run on (taskset, cgroups, Slurm). */
static int usable_cpus(void) {
    cpu_set_t set;
    long n = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set)
                                                          : sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

/* "2 ranks on 1 host (node1: 2)" from every rank's host name. */
static int describe_hosts(nn_dist *d, char *buf, size_t n) {
    char host[256] = "?";
    gethostname(host, sizeof host - 1);
    char *mine[1] = {host}, *all = NULL;
    size_t total = 0, count = 0;
    NN_TRY(nn_dist_gather_strings(d, mine, 1, 0, &all, &total, &count));
    if (d->rank != 0) return NN_OK;
    /* Hosts in order of first rank, with their rank counts. */
    const char *names[64];
    int ranks[64], hosts = 0, more = 0;
    for (size_t i = 0; i < total; i += strlen(all + i) + 1) {
        int h = 0;
        while (h < hosts && strcmp(names[h], all + i)) h++;
        if (h == hosts && hosts == 64) {
            more = 1;
            continue;
        }
        if (h == hosts) names[hosts] = all + i, ranks[hosts++] = 0;
        ranks[h]++;
    }
    int len = snprintf(buf, n, "%d rank%s on %d%s host%s (", d->size, d->size == 1 ? "" : "s",
                       hosts, more ? "+" : "", hosts == 1 && !more ? "" : "s");
    for (int h = 0; h < hosts && h < 4 && len < (int)n; h++)
        len += snprintf(buf + len, n - (size_t)len, "%s%s: %d", h ? ", " : "", names[h], ranks[h]);
    if (len < (int)n) snprintf(buf + len, n - (size_t)len, "%s)", hosts > 4 ? ", ..." : "");
    free(all);
    return NN_OK;
}

int nn_place_threads(const nn_args *a, nn_dist *d) {
    const int cpus = usable_cpus();
    const long online = sysconf(_SC_NPROCESSORS_ONLN);
    const bool bound = online > 0 && cpus < online && d->local_size > 1;
    const int share = bound ? 1 : (d->local_size > 0 ? d->local_size : 1);
    int threads = a->threads;
    const char *why = "--threads";
    int rc = NN_OK;
    if (threads == 0 && getenv("OPENBLAS_NUM_THREADS")) {
        threads = atoi(getenv("OPENBLAS_NUM_THREADS"));
        why = "OPENBLAS_NUM_THREADS";
    } else if (threads == 0) {
        threads = cpus / share > 0 ? cpus / share : 1;
        why = "cores / ranks on the node";
    } else if (threads * share > cpus && !a->oversubscribe) {
        rc = nn_usage("--threads %d x %d rank%s on this node = %d threads for %d core%s: give "
                      "--threads %d or fewer, or --oversubscribe",
                      threads, share, share == 1 ? "" : "s", threads * share, cpus,
                      cpus == 1 ? "" : "s", cpus / share > 0 ? cpus / share : 1);
    }
    rc = nn_dist_check(d, rc);
    NN_TRY(rc);
    if (threads > 0) nn_blas_set_threads(threads);
    /* The line, for the training commands (whose start-up lines it heads). */
    if ((a->cmd != NN_CMD_TRAIN && a->cmd != NN_CMD_GAN) || a->train.quiet) return NN_OK;
    char hosts[400] = "";
    NN_TRY(describe_hosts(d, hosts, sizeof hosts));
    if (d->rank == 0) {
        printf("placement: %s, %d OpenBLAS thread%s per rank (%s), rank 0 may use %d of its "
               "node's %ld CPUs%s%s\n",
               hosts, threads, threads == 1 ? "" : "s", why, cpus, online, bound ? " (bound)" : "",
               !bound && d->local_size > cpus ? "; more ranks than CPUs: they oversubscribe" : "");
        fflush(stdout);
    }
    return NN_OK;
}
