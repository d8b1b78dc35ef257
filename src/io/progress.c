/* progress.c: nn_meter, the progress bar and its line form (progress.h). */
#include "nn/progress.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

void nn_meter_start(nn_meter *m, int mode, bool show, const char *what, size_t total) {
    if (mode == NN_PROGRESS_AUTO) mode = isatty(2) ? NN_PROGRESS_BAR : NN_PROGRESS_LINES;
    m->mode = show && total > 0 ? mode : NN_PROGRESS_OFF;
    snprintf(m->what, sizeof m->what, "%s", what);
    m->unit = "img/s";
    m->total = total;
    m->t0 = m->last = now();
    const char *e = getenv("NNTRAIN_PROGRESS_SECONDS");
    m->every = e && atof(e) > 0 ? atof(e) : 10.0;
    m->drawn = false;
}

/* "1:02:03", "2:03", "3 s" */
static void fmt_time(double s, char *buf, size_t n) {
    long t = s > 0 && s < 1e8 ? (long)(s + 0.5) : 0;
    if (t >= 3600) snprintf(buf, n, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else if (t >= 60) snprintf(buf, n, "%ld:%02ld", t / 60, t % 60);
    else snprintf(buf, n, "%ld s", t);
}

void nn_meter_update(nn_meter *m, size_t done, double items, const char *stats) {
    if (m->mode == NN_PROGRESS_OFF) return;
    const double t = now(), el = t - m->t0;
    const bool end = done >= m->total;
    if (m->mode == NN_PROGRESS_BAR ? t - m->last < 0.25 && !end : t - m->last < m->every) return;
    m->last = t;
    char eta[32], spent[32];
    fmt_time(done ? el / (double)done * (double)(m->total - done) : 0, eta, sizeof eta);
    fmt_time(el, spent, sizeof spent);
    const double rate = el > 0 ? items / el : 0;
    const int pct = (int)(100.0 * (double)done / (double)m->total);
    if (m->mode == NN_PROGRESS_BAR) {
        const int w = 24, fill = (int)((double)w * (double)done / (double)m->total);
        fprintf(stderr, "\r\033[K  %s [%.*s%*s] %3d%% %s%s%.0f %s, %s left", m->what, fill,
                "########################", w - fill, "", pct, stats ? stats : "",
                stats ? ", " : "", rate, m->unit, end ? spent : eta);
        m->drawn = true;
    } else {
        fprintf(stderr, "%s: %d%% (%zu/%zu) %s%s%.0f %s, %s so far, %s left\n", m->what, pct,
                done, m->total, stats ? stats : "", stats ? ", " : "", rate, m->unit, spent, eta);
    }
    fflush(stderr);
}

void nn_meter_end(nn_meter *m) {
    if (m->mode == NN_PROGRESS_BAR && m->drawn) fprintf(stderr, "\r\033[K");
    m->drawn = false;
}
