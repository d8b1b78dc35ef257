/* metrics.c: per-class precision, recall and F1, balanced accuracy and macro
 * F1 from a confusion matrix (metrics.h: 0/0 counts as 0). */
#include "nn/metrics.h"

#include <stddef.h>

static double ratio(double a, double b) { return b > 0 ? a / b : 0.0; }

void nn_confusion_metrics(const double *conf, int k, nn_class_metrics *per, nn_metrics *out) {
    double trace = 0, total = 0, recall_sum = 0, f1_sum = 0;
    int with_support = 0, seen = 0;
    for (int c = 0; c < k; c++) {
        double support = 0, predicted = 0;
        for (int j = 0; j < k; j++) {
            support += conf[(size_t)c * k + j];
            predicted += conf[(size_t)j * k + c];
        }
        const double tp = conf[(size_t)c * k + c];
        nn_class_metrics m = {.precision = ratio(tp, predicted), .recall = ratio(tp, support),
                              .support = support, .predicted = predicted};
        m.f1 = ratio(2 * m.precision * m.recall, m.precision + m.recall);
        if (per) per[c] = m;
        trace += tp;
        total += support;
        if (support > 0) {
            with_support++;
            recall_sum += m.recall;
        }
        if (support > 0 || predicted > 0) {
            seen++;
            f1_sum += m.f1;
        }
    }
    out->accuracy = ratio(trace, total);
    out->balanced_accuracy = ratio(recall_sum, with_support);
    out->macro_f1 = ratio(f1_sum, seen);
    out->total = total;
    out->classes_with_support = with_support;
    out->classes_seen = seen;
}
