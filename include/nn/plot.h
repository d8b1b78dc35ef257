/* plot.h: learning curves with gnuplot (history.csv in, PNG out). gnuplot is
 * run as a child process on a script written next to the PNG, so a user can
 * edit and re-run the script. */
#ifndef NN_PLOT_H
#define NN_PLOT_H

/* run_dir/history.csv -> run_dir/loss.png and run_dir/accuracy.png (train and
 * test curves over epochs). */
int nn_plot_run(const char *run_dir);
/* One curve per run of the given history column (e.g. "test_acc") -> png. */
int nn_plot_compare(const char *png, const char *column, char *const *runs, int nruns);
/* A confusion matrix (k x k, rows = true class) as a PNG heat map; names
 * (k class names) label the axes when not NULL. */
int nn_plot_confusion(const char *png, const double *conf, int k, const char *title,
                      char *const *names);

#endif
