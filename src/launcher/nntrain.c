/* nntrain.c: build/nntrain, a static launcher for build/libexec/nntrain.
 *
 * A stop signal (SIGTERM, SIGINT, SIGUSR1) must mean "stop cleanly, exit
 * 75" from the moment the process exists, but the real binary links some
 * 50 shared libraries (Open MPI, HDF5, OpenBLAS, ...) and the dynamic
 * loader takes 2-20 ms (more on a loaded machine) before any code of ours
 * can install a handler: a SIGTERM then killed it with 143. This program is
 * static (nothing to load: it runs within microseconds of its exec), blocks
 * the stop signals, and execs the real binary next to it; the blocked mask
 * and any pending signal survive execve, and the real binary's first
 * initialiser (src/cli/early_signals.c, before any library's) installs the
 * handler for train and gan and unblocks them, so a signal sent at any time
 * is either caught or, for other commands, acted on as before. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
    (void)argc;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGUSR1);
    sigprocmask(SIG_BLOCK, &set, NULL);
    static const char rel[] = "libexec/nntrain";
    char path[4096];
    ssize_t n = readlink("/proc/self/exe", path, sizeof path - sizeof rel);
    char *slash = n > 0 ? memrchr(path, '/', (size_t)n) : NULL;
    if (!slash) {
        fprintf(stderr, "nntrain: error: cannot find this program's folder (/proc/self/exe: %s)\n",
                n < 0 ? strerror(errno) : "no folder");
        return 127;
    }
    memcpy(slash + 1, rel, sizeof rel);
    execv(path, argv);
    fprintf(stderr, "nntrain: error: cannot run %s (%s); build it with make\n", path,
            strerror(errno));
    return 127;
}
