/* plot.c: gnuplot scripts for learning curves, comparisons and confusion
 * heat maps. Each plot writes <png>.gp and runs gnuplot on it.
 *
 * A history.csv is checked before gnuplot sees it (a header naming the
 * columns plotted, then rows of numbers, one field per header column), with
 * an error naming the file and line. gnuplot renders into a temp file next
 * to the PNG that is renamed over it only when gnuplot succeeded and wrote a
 * PNG: a failed plot never leaves an empty or partial PNG, and never replaces
 * a good one. The script sets its output to the PNG itself unless the
 * gnuplot variable `outfile` is set (how nntrain points it at the temp file),
 * so `gnuplot loss.png.gp` redraws loss.png. */
#include "nn/plot.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nn/error.h"
#include "nn/fileutil.h"
#include "nn/history.h"

/* A column some history has (a classifier's or a GAN's). */
static int known_column(const char *name) {
    for (int c = 0; c < NN_H_COLS; c++)
        if (!strcmp(nn_history_classify[c].name, name)) return 1;
    for (int c = 0; c < NN_HG_COLS; c++)
        if (!strcmp(nn_history_gan[c].name, name)) return 1;
    return 0;
}


/* ---- history.csv ---- */

/* Open csv for reading without blocking: O_NONBLOCK and fstat, as every
 * loader opens its files, so a FIFO (or a device, a folder) put in place of
 * history.csv is refused at once instead of hanging the plot. NULL + message
 * naming the file. */
static FILE *open_history(const char *csv) {
    int fd = open(csv, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        nn_fail("%s: not found or not readable (is its folder a training run?)", csv);
        return NULL;
    }
    struct stat st;
    FILE *f = NULL;
    if (fstat(fd, &st) != 0)
        nn_fail("%s: cannot stat: %s", csv, strerror(errno));
    else if (!S_ISREG(st.st_mode))
        nn_fail("%s: not a regular file (%s); expected a training run's history.csv", csv,
                nn_file_kind(st.st_mode));
    else if (!(f = fdopen(fd, "r")))
        nn_fail("%s: cannot read: %s", csv, strerror(errno));
    if (!f) close(fd);
    return f;
}

/* Check csv (see the top) and find the columns `want` (nwant names) in its
 * header: idx[i] = gnuplot's 1-based column of want[i]. */
static int check_history(const char *csv, const char *const *want, int nwant, int *idx) {
    FILE *f = open_history(csv);
    if (!f) return NN_ERR;
    char *line = NULL, *header = NULL, q[200];
    const char *names[64];
    size_t cap = 0;
    ssize_t len;
    int lineno = 0, ncols = 0, rows = 0, rc = NN_OK;
    char expected[256] = "epoch";
    for (int c = 0; c < nwant && strlen(expected) + 40 < sizeof expected; c++) {
        strcat(expected, ",...,");
        strcat(expected, want[c]);
    }
    while (rc == NN_OK && (len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
        if ((size_t)len != strlen(line)) {
            rc = nn_fail("%s line %d: holds a NUL byte; expected text (is this a history.csv?)",
                         csv, lineno);
            break;
        }
        if (lineno == 1) {
            if (!(strncmp(line, "epoch", 5) == 0 && (line[5] == 0 || line[5] == ','))) {
                rc = nn_fail("%s line 1: '%s' is not the header, expected %s", csv,
                             nn_escaped(line, 80, q, sizeof q), expected);
                break;
            }
            header = strdup(line);
            if (!header) {
                rc = nn_fail("%s: out of memory", csv);
                break;
            }
            for (int i = 0; i < nwant; i++) idx[i] = 0;
            char *save = NULL;
            for (char *tok = strtok_r(header, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
                if (ncols < 64) names[ncols] = tok;
                ncols++;
                for (int i = 0; i < nwant; i++)
                    if (!strcmp(tok, want[i]) && !idx[i]) idx[i] = ncols;
            }
            for (int i = 0; rc == NN_OK && i < nwant; i++)
                if (!idx[i])
                    rc = nn_fail("%s line 1: the header has no column '%s' (expected %s)", csv,
                                 want[i], expected);
            continue;
        }
        if (len == 0) continue; /* a blank line: gnuplot skips it too */
        int field = 0;
        char *p = line;
        while (rc == NN_OK) {
            size_t n = strcspn(p, ",");
            char save = p[n];
            p[n] = 0;
            field++;
            char *end;
            strtod(p, &end);
            if (n == 0 || *end)
                rc = nn_fail("%s line %d: field %d (%s) is '%s', not a number", csv, lineno,
                             field, field <= ncols && field <= 64 ? names[field - 1] : "no column",
                             nn_escaped(p, 40, q, sizeof q));
            if (!save) break;
            p += n + 1;
        }
        if (rc == NN_OK && field != ncols)
            rc = nn_fail("%s line %d: %d fields, but the header names %d columns", csv, lineno,
                         field, ncols);
        rows++;
    }
    if (rc == NN_OK && ferror(f)) rc = nn_fail("%s: read error", csv);
    if (rc == NN_OK && lineno == 0)
        rc = nn_fail("%s: empty; expected the header %s and one row per epoch", csv, expected);
    else if (rc == NN_OK && rows == 0)
        rc = nn_fail("%s: no epochs after the header: nothing to plot", csv);
    free(line);
    free(header);
    fclose(f);
    return rc;
}

/* ---- gnuplot ---- */

/* s as a gnuplot single-quoted string: a quote inside is doubled, so run
 * folders and class names such as "it's" cannot break the script; a control
 * byte (a newline in a class folder's name ends a gnuplot command) is
 * written as nntrain's messages show it, \xNN, so the label reads as the name
 * does in an error message (gnuplot takes the backslash literally in
 * single quotes). Other bytes (UTF-8) are kept. */
static size_t str_escape(const char *s, char *o) {
    size_t n = 0;
    if (o) o[n] = '\'';
    n++;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            if (o) snprintf(o + n, 5, "\\x%02x", *p);
            n += 4;
            continue;
        }
        if (*p == '\'') {
            if (o) o[n] = '\'';
            n++;
        }
        if (o) o[n] = (char)*p;
        n++;
    }
    if (o) o[n] = '\'', o[n + 1] = 0;
    return n + 1;
}

static void put_str(FILE *f, const char *s) {
    char *q = malloc(str_escape(s, NULL) + 1);
    if (!q) {
        fputs("''", f); /* and the commit's flush reports nothing: at worst an empty label */
        return;
    }
    str_escape(s, q);
    fputs(q, f);
    free(q);
}

/* The same, into a malloc'd string. */
static char *quoted(const char *s) {
    char *q = malloc(str_escape(s, NULL) + 1);
    if (q) str_escape(s, q);
    return q;
}

/* gnuplot's output as one line of reason: its error line ("FILE" line N:
 * what), else the last non-empty line, else what the exit status says. */
static void gnuplot_reason(const char *out, int status, char *why, size_t n) {
    const char *best = NULL, *last = NULL;
    for (const char *l = out; *l;) {
        size_t len = strcspn(l, "\n");
        if (len > 0 && strspn(l, " \t^\r") < len) {
            last = l;
            const char *m = strstr(l, " line ");
            if (m && (size_t)(m - l) < len && !best) best = l;
        }
        l += len + (l[len] == '\n');
    }
    const char *pick = best ? best : last;
    if (pick) {
        char line[400];
        snprintf(line, sizeof line, "%.*s", (int)strcspn(pick, "\r\n"), pick);
        nn_escaped(line, sizeof line, why, n);
    } else if (WIFEXITED(status))
        snprintf(why, n, "exit status %d and no message", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(why, n, "killed by signal %d", WTERMSIG(status));
    else
        snprintf(why, n, "status %d and no message", status);
}

static int is_png(const char *path) {
    unsigned char sig[8] = {0};
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(sig, 1, 8, f) : 0;
    if (f) fclose(f);
    return n == 8 && !memcmp(sig, "\x89PNG\r\n\x1a\n", 8);
}

/* Run gnuplot on script with outfile = a temp file next to png; rename it
 * over png only when gnuplot succeeded and the temp file is a PNG. */
static int run_gnuplot(const char *script, const char *png) {
    if (system("command -v gnuplot >/dev/null 2>&1") != 0)
        return nn_fail("gnuplot not found (install gnuplot-nox; `make deps` does); the script "
                       "is at %s",
                       script);
    nn_remove_stale_temps(png);
    char *tmp = nn_temp_path(png), *qtmp = tmp ? quoted(tmp) : NULL;
    char *set = qtmp ? nn_strfmt("outfile=%s", qtmp) : NULL;
    free(qtmp);
    if (!set) {
        free(tmp);
        return nn_fail("out of memory running gnuplot on %s", script);
    }
    /* The paths reach sh as variables, never as command text, so any
     * character in a run folder's name (a quote, a space) is just a character. */
    int rc = NN_OK;
    if (setenv("NNTRAIN_GNUPLOT_SCRIPT", script, 1) != 0 ||
        setenv("NNTRAIN_GNUPLOT_SET", set, 1) != 0)
        rc = nn_fail("cannot run gnuplot on %s", script);
    free(set);
    FILE *p = rc == NN_OK
                  ? popen("gnuplot -e \"$NNTRAIN_GNUPLOT_SET\" \"$NNTRAIN_GNUPLOT_SCRIPT\" 2>&1", "r")
                  : NULL;
    if (rc == NN_OK && !p) rc = nn_fail("cannot run gnuplot on %s", script);
    if (p) {
        /* Its stdout and stderr (2>&1), the first 8 KB. */
        char out[8192], why[512];
        size_t got = 0, r;
        while ((r = fread(out + got, 1, sizeof out - 1 - got, p)) > 0) got += r;
        out[got] = 0;
        char sink[512];
        while (fread(sink, 1, sizeof sink, p) > 0) {} /* the rest, so gnuplot can end */
        int st = pclose(p);
        for (size_t i = 0; i < got; i++)
            if (!out[i]) out[i] = ' ';
        if (st != 0) {
            gnuplot_reason(out, st, why, sizeof why);
            rc = nn_fail("gnuplot failed on %s: %s", script, why);
        } else if (!is_png(tmp)) {
            gnuplot_reason(out, st, why, sizeof why);
            rc = nn_fail("gnuplot on %s wrote no PNG: %s", script, got ? why : "(no output)");
        }
    }
    if (rc == NN_OK)
        rc = nn_fsync_rename(tmp, png);
    else
        unlink(tmp);
    if (rc != NN_OK) nn_fail_ctx("%s (left as it was)", png);
    free(tmp);
    return rc;
}

/* Write the script (header below + body) atomically to <png>.gp, then
 * render. */
typedef void (*body_fn)(FILE *f, const void *arg);

static int plot_with(const char *png, body_fn body, const void *arg) {
    char *script = nn_strfmt("%s.gp", png);
    if (!script) return NN_ERR;
    size_t tn = strlen(script) + 32;
    char *tmp = malloc(tn);
    FILE *f = tmp ? nn_open_temp(script, tmp, tn) : NULL;
    if (!f) {
        if (!tmp) nn_fail("out of memory writing %s", script);
        free(tmp);
        free(script);
        return NN_ERR;
    }
    fprintf(f, "set terminal pngcairo size 900,540 font 'sans,11'\n"
               "if (!exists(\"outfile\")) outfile = ");
    put_str(f, png);
    fprintf(f, "\nset output outfile\nset datafile separator ','\nset grid\n"
               "set key right center\nset termoption noenhanced\nset xlabel 'epoch'\n");
    body(f, arg);
    int rc = nn_commit_temp(f, tmp, script);
    free(tmp);
    if (rc == NN_OK) {
        rc = run_gnuplot(script, png);
        /* A failed plot leaves nothing behind: no PNG (run_gnuplot), no
         * script. A good one keeps it (`gnuplot loss.png.gp` redraws). */
        if (rc != NN_OK) unlink(script);
    }
    free(script);
    return rc;
}

/* ---- learning curves ---- */

typedef struct {
    const char *dir, *csv, *ylabel, *title_a, *title_b;
    int col_a, col_b;
} pair_arg;

static void pair_body(FILE *f, const void *arg) {
    const pair_arg *a = arg;
    fprintf(f, "set ylabel '%s'\nset title ", a->ylabel);
    put_str(f, a->dir);
    fprintf(f, "\nplot ");
    put_str(f, a->csv);
    fprintf(f, " using 1:%d skip 1 with linespoints title '%s', \\\n     ", a->col_a, a->title_a);
    put_str(f, a->csv);
    fprintf(f, " using 1:%d skip 1 with linespoints title '%s'\n", a->col_b, a->title_b);
}

/* Does the header (first line) of csv name this column? */
static int has_column(const char *csv, const char *name) {
    FILE *f = open_history(csv);
    if (!f) nn_err_clear(); /* check_history reports it */
    char line[1024] = "";
    int found = 0;
    if (f && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        char *save = NULL;
        for (char *tok = strtok_r(line, ",", &save); tok && !found; tok = strtok_r(NULL, ",", &save))
            found = !strcmp(tok, name);
    }
    if (f) fclose(f);
    return found;
}

int nn_plot_run(const char *run_dir) {
    char *csv = nn_strfmt("%s/history.csv", run_dir);
    char *loss = csv ? nn_strfmt("%s/loss.png", run_dir) : NULL;
    char *second = loss ? nn_strfmt("%s/accuracy.png", run_dir) : NULL;
    int rc = second ? NN_OK : NN_ERR;
    if (rc == NN_OK && access(csv, F_OK) != 0)
        rc = nn_fail("%s: not found (is %s a training run?)", csv, run_dir);
    /* A GAN's run: both losses, then D's outputs on real and fake images. */
    const int gan = rc == NN_OK && has_column(csv, "d_loss");
    if (gan) {
        free(second);
        second = nn_strfmt("%s/discriminator.png", run_dir);
        if (!second) rc = NN_ERR;
    }
    const char *want_c[4] = {"train_loss", "test_loss", "train_acc", "test_acc"};
    const char *want_g[4] = {"d_loss", "g_loss", "d_real", "d_fake"};
    int idx[4] = {0, 0, 0, 0};
    if (rc == NN_OK) rc = check_history(csv, gan ? want_g : want_c, 4, idx);
    if (rc == NN_OK) {
        pair_arg a = {run_dir, csv, gan ? "binary cross-entropy" : "cross-entropy",
                      gan ? "discriminator" : "train", gan ? "generator" : "test", idx[0], idx[1]};
        rc = plot_with(loss, pair_body, &a);
    }
    if (rc == NN_OK) {
        pair_arg a = {run_dir, csv, gan ? "mean D output" : "accuracy", gan ? "D(x), real" : "train",
                      gan ? "D(G(z)), fake" : "test", idx[2], idx[3]};
        rc = plot_with(second, pair_body, &a);
    }
    free(csv);
    free(loss);
    free(second);
    return rc;
}

/* ---- comparisons ---- */

typedef struct {
    const char *column;
    char *const *runs;
    char **csvs;
    const int *cols;
    int nruns;
} compare_arg;

static void compare_body(FILE *f, const void *arg) {
    const compare_arg *a = arg;
    fprintf(f, "set ylabel '%s'\nset key right bottom\nplot ", a->column);
    for (int i = 0; i < a->nruns; i++) {
        const char *name = strrchr(a->runs[i], '/');
        name = name && name[1] ? name + 1 : a->runs[i];
        fprintf(f, "%s", i ? ", \\\n     " : "");
        put_str(f, a->csvs[i]);
        fprintf(f, " using 1:%d skip 1 with linespoints title ", a->cols[i]);
        put_str(f, name);
    }
    fputc('\n', f);
}

int nn_plot_compare(const char *png, const char *column, char *const *runs, int nruns) {
    if (!known_column(column))
        return nn_fail("--compare %s: not a history column (e.g. test_acc, test_loss)", column);
    char **csvs = calloc((size_t)nruns + 1, sizeof *csvs);
    int *cols = calloc((size_t)nruns + 1, sizeof *cols);
    int rc = csvs && cols ? NN_OK : nn_fail("out of memory plotting %d runs", nruns);
    for (int i = 0; rc == NN_OK && i < nruns; i++) {
        csvs[i] = nn_strfmt("%s/history.csv", runs[i]);
        rc = csvs[i] ? check_history(csvs[i], &column, 1, &cols[i]) : NN_ERR;
    }
    if (rc == NN_OK) {
        compare_arg a = {column, runs, csvs, cols, nruns};
        rc = plot_with(png, compare_body, &a);
    }
    for (int i = 0; csvs && i < nruns; i++) free(csvs[i]);
    free(csvs);
    free(cols);
    return rc;
}

/* ---- confusion heat maps ---- */

typedef struct {
    const double *conf;
    int k;
    const char *title;
    char *const *names;
} confusion_arg;

static void confusion_body(FILE *f, const void *arg) {
    const confusion_arg *a = arg;
    const int k = a->k;
    /* Row-normalised colours (recall per class), raw counts as labels. */
    fprintf(f, "unset grid\nset datafile separator whitespace\nset title ");
    put_str(f, a->title);
    fprintf(f, "\nset xlabel 'predicted'\nset ylabel 'true'\n"
               "set xrange [-0.5:%d.5]\nset yrange [%d.5:-0.5]\nset xtics 1\nset ytics 1\n"
               "set cbrange [0:1]\nset palette defined (0 'white', 1 '#08306b')\nset size square\n"
               "%s",
            k - 1, k - 1, a->names ? "" : "$counts << EOD\n");
    if (a->names) {
        for (int axis = 0; axis < 2; axis++) {
            fprintf(f, axis ? ")\nset ytics (" : "set xtics rotate by 45 right (");
            for (int i = 0; i < k; i++) {
                fprintf(f, "%s", i ? ", " : "");
                put_str(f, a->names[i]);
                fprintf(f, " %d", i);
            }
        }
        fprintf(f, ")\n$counts << EOD\n");
    }
    for (int i = 0; i < k; i++) {
        double row = 0;
        for (int j = 0; j < k; j++) row += a->conf[i * k + j];
        for (int j = 0; j < k; j++)
            fprintf(f, "%d %d %.0f %.5f\n", j, i, a->conf[i * k + j],
                    row > 0 ? a->conf[i * k + j] / row : 0.0);
    }
    /* Counts as labels: white on dark cells, black on light ones. */
    fprintf(f, "EOD\nplot $counts using 1:2:4 with image notitle, \\\n"
               "     $counts using 1:2:($4 > 0.5 ? sprintf('%%g', $3) : '') with labels "
               "tc rgb 'white' font 'sans,9' notitle, \\\n"
               "     $counts using 1:2:($4 > 0.5 ? '' : sprintf('%%g', $3)) with labels "
               "tc rgb 'black' font 'sans,9' notitle\n");
}

int nn_plot_confusion(const char *png, const double *conf, int k, const char *title,
                      char *const *names) {
    confusion_arg a = {conf, k, title, names};
    return plot_with(png, confusion_body, &a);
}
