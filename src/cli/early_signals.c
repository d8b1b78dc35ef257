/* early_signals.c: the stop-signal handler of train and gan from the
 * program's first instant. A function in .preinit_array runs before any
 * shared library's initialisers (OpenBLAS starting its threads, Open MPI,
 * HDF5: the ~20 ms before main in which a SIGTERM used to kill the process
 * with 143 instead of asking it to stop, 75), right after the loader has
 * mapped and relocated them; glibc passes it main's argc and argv.
 * main() installs the handler again as its first statement (idempotent),
 * for a libc without preinit arguments. The loader's own 2-20 ms before
 * this point are covered by build/nntrain, a static launcher that blocks
 * the stop signals and execs this binary (src/launcher/nntrain.c): a signal
 * sent then stays pending until the handler is in place. Every other
 * command gets its signals unblocked here, with their default action. */
#include <string.h>

#include "nn/guard.h"

static void early_signals(int argc, char **argv, char **envp) {
    (void)envp;
    if (argc >= 2 && argv && argv[1] && (!strcmp(argv[1], "train") || !strcmp(argv[1], "gan")))
        nn_guard_signals(); /* and unblocks them */
    else
        nn_guard_unblock(); /* blocked by the launcher: the default again */
}

__attribute__((section(".preinit_array"), used)) static void (*const nn_preinit)(int, char **,
                                                                                  char **) =
    early_signals;
