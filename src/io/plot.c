/* plot.c: gnuplot scripts for learning curves, comparisons and confusion
 * heat maps. Each plot writes <png>.gp and runs `gnuplot <png>.gp`. */
#include "nn/plot.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nn/error.h"
#include "nn/history.h"

static int column_index(const char *name) {
    for (int c = 0; c < NN_H_COLS; c++)
        if (!strcmp(nn_history_columns[c], name)) return c + 1; /* gnuplot counts from 1 */
    return 0;
}

static int run_gnuplot(const char *script) {
    if (system("command -v gnuplot >/dev/null 2>&1") != 0)
        return nn_fail("gnuplot not found (install gnuplot-nox; `make deps` does); the script "
                       "is at %s",
                       script);
    /* The path reaches sh as a variable, never as command text, so any
     * character in a run folder's name (a quote, a space) is just a character. */
    if (setenv("NNTRAIN_GNUPLOT_SCRIPT", script, 1) != 0)
        return nn_fail("cannot run gnuplot on %s", script);
    FILE *p = popen("gnuplot \"$NNTRAIN_GNUPLOT_SCRIPT\" 2>&1", "r");
    if (!p) return nn_fail("cannot run gnuplot on %s", script);
    char out[512] = "", line[256];
    while (fgets(line, sizeof line, p))
        if (strlen(out) + strlen(line) < sizeof out) strcat(out, line);
    int st = pclose(p);
    if (st != 0) return nn_fail("gnuplot failed on %s: %s", script, out);
    return NN_OK;
}

/* s as a gnuplot single-quoted string: a quote inside is doubled, so run
 * folders and class names such as "it's" cannot break the script. */
static void put_str(FILE *f, const char *s) {
    fputc('\'', f);
    for (; *s; s++) {
        if (*s == '\'') fputc('\'', f);
        fputc(*s, f);
    }
    fputc('\'', f);
}

static FILE *open_script(const char *png, char *script, size_t n) {
    snprintf(script, n, "%s.gp", png);
    FILE *f = fopen(script, "w");
    if (!f) {
        nn_fail("%s: cannot write gnuplot script", script);
        return NULL;
    }
    fprintf(f, "set terminal pngcairo size 900,540 font 'sans,11'\nset output ");
    put_str(f, png);
    fprintf(f, "\nset datafile separator ','\nset grid\nset key right center\n"
               "set termoption noenhanced\nset xlabel 'epoch'\n");
    return f;
}

static int plot_pair(const char *dir, const char *png_name, const char *ylabel,
                     const char *train_col, const char *test_col) {
    char png[1100], script[1200], csv[1100];
    snprintf(png, sizeof png, "%s/%s", dir, png_name);
    snprintf(csv, sizeof csv, "%s/history.csv", dir);
    if (access(csv, R_OK) != 0) return nn_fail("%s: not found (is %s a training run?)", csv, dir);
    FILE *f = open_script(png, script, sizeof script);
    if (!f) return NN_ERR;
    fprintf(f, "set ylabel '%s'\nset title ", ylabel);
    put_str(f, dir);
    fprintf(f, "\nplot ");
    put_str(f, csv);
    fprintf(f, " using 1:%d skip 1 with linespoints title 'train', \\\n     ",
            column_index(train_col));
    put_str(f, csv);
    fprintf(f, " using 1:%d skip 1 with linespoints title 'test'\n", column_index(test_col));
    fclose(f);
    return run_gnuplot(script);
}

int nn_plot_run(const char *run_dir) {
    NN_TRY(plot_pair(run_dir, "loss.png", "cross-entropy", "train_loss", "test_loss"));
    return plot_pair(run_dir, "accuracy.png", "accuracy", "train_acc", "test_acc");
}

int nn_plot_compare(const char *png, const char *column, char *const *runs, int nruns) {
    int col = column_index(column);
    if (!col) return nn_fail("--compare %s: not a history column (e.g. test_acc, test_loss)", column);
    char script[1200];
    FILE *f = open_script(png, script, sizeof script);
    if (!f) return NN_ERR;
    fprintf(f, "set ylabel '%s'\nset key right bottom\nplot ", column);
    for (int i = 0; i < nruns; i++) {
        const char *name = strrchr(runs[i], '/');
        name = name && name[1] ? name + 1 : runs[i];
        char csv[1100];
        snprintf(csv, sizeof csv, "%s/history.csv", runs[i]);
        fprintf(f, "%s", i ? ", \\\n     " : "");
        put_str(f, csv);
        fprintf(f, " using 1:%d skip 1 with linespoints title ", col);
        put_str(f, name);
    }
    fputc('\n', f);
    fclose(f);
    return run_gnuplot(script);
}

int nn_plot_confusion(const char *png, const double *conf, int k, const char *title,
                      char *const *names) {
    char script[1200];
    FILE *f = open_script(png, script, sizeof script);
    if (!f) return NN_ERR;
    /* Row-normalised colours (recall per class), raw counts as labels. */
    fprintf(f, "unset grid\nset datafile separator whitespace\nset title ");
    put_str(f, title);
    fprintf(f, "\nset xlabel 'predicted'\nset ylabel 'true'\n"
               "set xrange [-0.5:%d.5]\nset yrange [%d.5:-0.5]\nset xtics 1\nset ytics 1\n"
               "set cbrange [0:1]\nset palette defined (0 'white', 1 '#08306b')\nset size square\n"
               "%s",
            k - 1, k - 1, names ? "" : "$counts << EOD\n");
    if (names) {
        for (int axis = 0; axis < 2; axis++) {
            fprintf(f, axis ? ")\nset ytics (" : "set xtics rotate by 45 right (");
            for (int i = 0; i < k; i++) {
                fprintf(f, "%s", i ? ", " : "");
                put_str(f, names[i]);
                fprintf(f, " %d", i);
            }
        }
        fprintf(f, ")\n$counts << EOD\n");
    }
    for (int i = 0; i < k; i++) {
        double row = 0;
        for (int j = 0; j < k; j++) row += conf[i * k + j];
        for (int j = 0; j < k; j++)
            fprintf(f, "%d %d %.0f %.5f\n", j, i, conf[i * k + j],
                    row > 0 ? conf[i * k + j] / row : 0.0);
    }
    /* Counts as labels: white on dark cells, black on light ones. */
    fprintf(f, "EOD\nplot $counts using 1:2:4 with image notitle, \\\n"
               "     $counts using 1:2:($4 > 0.5 ? sprintf('%%g', $3) : '') with labels "
               "tc rgb 'white' font 'sans,9' notitle, \\\n"
               "     $counts using 1:2:($4 > 0.5 ? '' : sprintf('%%g', $3)) with labels "
               "tc rgb 'black' font 'sans,9' notitle\n");
    fclose(f);
    return run_gnuplot(script);
}
