/* metrics.h: figures for imbalanced classes from a confusion matrix (rows =
 * true class, columns = predicted), as `eval` prints them and the history's
 * test_bal_acc column records. Only counts go in, so a matrix summed over
 * ranks gives the same figures for any number of ranks.
 *
 * Per class c: support = row sum (test samples of c), predicted = column
 * sum, precision = conf[c][c] / predicted, recall = conf[c][c] / support,
 * F1 = 2 P R / (P + R). A ratio 0/0 (no samples of c, c never predicted, or
 * P = R = 0) counts as 0: no NaN ever comes out.
 *
 * The averages follow scikit-learn's convention: balanced accuracy is the mean
 * recall over the classes with support > 0 (a class absent from the test set
 * has no recall to measure; counting it as 0 would cap a perfect model below
 * 1); macro F1 is the mean F1 over the classes that occur in the test set or
 * among the predictions (a class predicted but absent counts with F1 0). Both
 * are 0 for an empty matrix. */
#ifndef NN_METRICS_H
#define NN_METRICS_H

typedef struct {
    double precision, recall, f1;
    double support;   /* true samples of the class (row sum) */
    double predicted; /* samples predicted as the class (column sum) */
} nn_class_metrics;

typedef struct {
    double accuracy;          /* trace / total (0 for an empty matrix) */
    double balanced_accuracy; /* mean recall over classes with support > 0 */
    double macro_f1;          /* mean F1 over classes with support + predicted > 0 */
    double total;             /* samples in the matrix */
    int classes_with_support; /* the classes balanced_accuracy averages over */
    int classes_seen;         /* the classes macro_f1 averages over */
} nn_metrics;

/* conf: (k, k) counts. per: k entries (may be NULL); out: the summary. */
void nn_confusion_metrics(const double *conf, int k, nn_class_metrics *per, nn_metrics *out);

#endif
