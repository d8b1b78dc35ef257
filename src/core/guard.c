/* guard.c: stop signals and the step watchdog (see guard.h). */
#define _POSIX_C_SOURCE 200809L
#include "nn/guard.h"

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nn/error.h"

static volatile sig_atomic_t stop_signal;
static int installed; /* nn_guard_signals ran: this command stops cleanly */

static void on_stop(int sig) {
    if (stop_signal) {
        /* The second one: the user means it. No checkpoint, no clean-up. */
        static const char msg[] = "\nnntrain: second stop signal: exiting at once, no checkpoint\n";
        ssize_t w = write(2, msg, sizeof msg - 1);
        (void)w;
        _exit(128 + sig);
    }
    stop_signal = sig;
}

static void stop_set(sigset_t *set) {
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGUSR1);
}

void nn_guard_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART; /* blocking reads and MPI progress carry on */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
    installed = 1;
    /* Blocked across a re-exec (nn_guard_hold_for_exec): delivered now. */
    sigset_t set;
    stop_set(&set);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
}

void nn_guard_hold_for_exec(void) {
    /* The mask and pending signals survive execve, handlers do not: block
     * the stop signals, and make one already caught pending again, so the
     * new image's nn_guard_signals receives it. Commands that do not
     * catch them (installed = 0) keep the default: die at once. */
    if (!installed) return;
    sigset_t set;
    stop_set(&set);
    sigprocmask(SIG_BLOCK, &set, NULL);
    if (stop_signal) raise(stop_signal);
}

void nn_guard_unblock(void) {
    sigset_t set;
    stop_set(&set);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
}

int nn_guard_stop_signal(void) { return stop_signal; }

const char *nn_guard_signal_name(int sig) {
    switch (sig) {
    case SIGTERM: return "SIGTERM";
    case SIGINT: return "SIGINT";
    case SIGUSR1: return "SIGUSR1";
    default: return "a signal";
    }
}

/* ---- watchdog ---- */

static struct {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int running, quit;
    nn_dist *dist;
    double timeout;
    /* Written by the worker, read by the watchdog: under mu. */
    unsigned long long step, beat;
    const char *phase;
    double last;
} wd = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static double mono(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void *watch(void *arg) {
    (void)arg;
    pthread_mutex_lock(&wd.mu);
    while (!wd.quit) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 1;
        pthread_cond_timedwait(&wd.cv, &wd.mu, &until);
        if (wd.quit || mono() - wd.last < wd.timeout) continue;
        char who[256], line[900], stopped[256];
        int n = nn_dist_behind(wd.dist, wd.beat, who, sizeof who);
        /* Ranks at or before this one's point: fewer than all = some are ahead. */
        int here = nn_dist_behind(wd.dist, wd.beat + 1, line, sizeof line);
        /* Ranks of this node whose process is stopped (state T). */
        int ns = nn_dist_stopped(wd.dist, stopped, sizeof stopped);
        const bool one_node = wd.dist->local_size == wd.dist->size;
        if (n > 0)
            snprintf(line, sizeof line, "rank(s) %s on this node did not get there%s%s%s", who,
                     ns > 0 ? "; rank(s) " : "", ns > 0 ? stopped : "",
                     ns > 0 ? " of this node is stopped (process state T: SIGSTOP or a debugger)"
                            : "");
        else if (here >= 0 && here < wd.dist->local_size)
            snprintf(line, sizeof line, "the other ranks of this node are past this point, so "
                                        "this rank itself was stopped or stalled");
        else if (ns > 0)
            snprintf(line, sizeof line, "%srank(s) %s of this node is stopped (process state T: "
                                        "SIGSTOP or a debugger)",
                     n == 0 ? "every rank of this node reached it, but " : "", stopped);
        else if (n == 0 && one_node)
            snprintf(line, sizeof line, "every rank of this one-node job reached it and none is "
                                        "stopped, so a rank stalls inside the step's collective "
                                        "(a hung file system or device, an overloaded machine)");
        else if (n == 0)
            snprintf(line, sizeof line, "every rank on this node has reached it, so the "
                                        "stalled rank is on another node");
        else
            snprintf(line, sizeof line, "which rank stalled is not known here (no node-shared "
                                        "memory between the ranks)");
        fprintf(stderr,
                "nntrain: error: rank %d: no progress for %.0f s in step %llu (%s): %s; a rank "
                "is stopped or stalled (SIGSTOP, a hung file system, a dead node). HINT: "
                "--step-timeout SECONDS (now %.0f)\n",
                wd.dist->rank, mono() - wd.last, wd.step, wd.phase ? wd.phase : "?", line,
                wd.timeout);
        fflush(stderr);
        _exit(1); /* under mpirun this ends the whole job */
    }
    pthread_mutex_unlock(&wd.mu);
    return NULL;
}

int nn_guard_watchdog_start(nn_dist *dist, double timeout) {
    if (timeout <= 0 || wd.running) return NN_OK;
    wd.dist = dist, wd.timeout = timeout, wd.quit = 0;
    wd.step = 0, wd.beat = 0, wd.phase = "start", wd.last = mono();
    if (pthread_create(&wd.thread, NULL, watch, NULL) != 0)
        return nn_fail("cannot start the step watchdog thread");
    wd.running = 1;
    return NN_OK;
}

void nn_guard_progress(uint64_t step, const char *phase) {
    if (!wd.running) return;
    pthread_mutex_lock(&wd.mu);
    wd.step = step, wd.phase = phase, wd.last = mono();
    pthread_mutex_unlock(&wd.mu);
}

void nn_guard_arrive(nn_dist *dist) {
    if (!wd.running) return;
    pthread_mutex_lock(&wd.mu);
    unsigned long long b = ++wd.beat;
    pthread_mutex_unlock(&wd.mu);
    nn_dist_heartbeat(dist, b);
}

void nn_guard_watchdog_stop(void) {
    if (!wd.running) return;
    pthread_mutex_lock(&wd.mu);
    wd.quit = 1;
    pthread_cond_signal(&wd.cv);
    pthread_mutex_unlock(&wd.mu);
    pthread_join(wd.thread, NULL);
    wd.running = 0;
}
