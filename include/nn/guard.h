/* guard.h: what keeps a long run alive and honest: the signals that ask it
 * to stop (so it can checkpoint first), and a watchdog for steps that never
 * end (a stalled or stopped rank).
 *
 * Signals: SIGTERM, SIGINT and SIGUSR1 (Slurm's --signal=B:USR1@SECONDS) only
 * set a flag; the training loop reads it once per step, agrees on it over all
 * ranks, finishes the step, checkpoints and exits NN_EXIT_STOPPED. A second
 * signal ends the process at once (exit 128 + signal), without a checkpoint.
 *
 * Watchdog: a thread per rank that ends the process with a message naming
 * the step, the phase and (where the ranks share a node) the ranks that have
 * not reached that step, when no progress is reported for `timeout` seconds.
 * Under mpirun, a rank that exits non-zero ends the whole job. */
#ifndef NN_GUARD_H
#define NN_GUARD_H

#include <stdint.h>

#include "nn/dist.h"

/* The exit status of a run stopped by a signal after writing its
 * checkpoint: "resume me" (EX_TEMPFAIL). */
#define NN_EXIT_STOPPED 75

/* Catch SIGTERM, SIGINT, SIGUSR1 (idempotent), and unblock them. */
void nn_guard_signals(void);
/* Before the process execs itself again: block the stop signals (a caught
 * one made pending again), so none is lost or kills the new image before
 * its nn_guard_signals; nn_guard_unblock unblocks them
 * (after a failed exec, or for a command that does not catch them). */
void nn_guard_hold_for_exec(void);
void nn_guard_unblock(void);
/* The first stop signal received (0 = none). */
int nn_guard_stop_signal(void);
/* "SIGTERM", "SIGINT", "SIGUSR1", ... */
const char *nn_guard_signal_name(int sig);

/* Start the watchdog (timeout <= 0: none). Call nn_guard_progress from the
 * thread that does the work; the phase is a static string. */
int nn_guard_watchdog_start(nn_dist *dist, double timeout);
void nn_guard_progress(uint64_t step, const char *phase);
/* This rank has done its part and now waits in a collective: every rank
 * calls it at the same points, so the count names how far each has come. */
void nn_guard_arrive(nn_dist *dist);
void nn_guard_watchdog_stop(void);

#endif
