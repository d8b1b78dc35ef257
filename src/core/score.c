/* score.c: the Inception-style score of a set of class distributions. */
#include "nn/score.h"

#include <math.h>
#include <stdlib.h>

void nn_inception_score(const float *probs, int n, int k, nn_score *out) {
    double *py = calloc((size_t)k, sizeof *py);
    out->score = out->confident = 0;
    for (int j = 0; out->hist && j < k; j++) out->hist[j] = 0;
    if (!py || n < 1) {
        free(py);
        return;
    }
    for (int i = 0; i < n; i++) {
        const float *p = probs + (size_t)i * k;
        int best = 0;
        for (int j = 0; j < k; j++) {
            py[j] += p[j];
            if (p[j] > p[best]) best = j;
        }
        if (p[best] >= 0.9f) out->confident += 1;
        if (out->hist) out->hist[best] += 1;
    }
    for (int j = 0; j < k; j++) py[j] /= n;
    /* E_x KL(p(y|x) || p(y)); 0 log 0 = 0. */
    double kl = 0;
    for (int i = 0; i < n; i++) {
        const float *p = probs + (size_t)i * k;
        for (int j = 0; j < k; j++)
            if (p[j] > 0 && py[j] > 0) kl += p[j] * (log((double)p[j]) - log(py[j]));
    }
    out->score = exp(kl / n);
    out->confident /= n;
    for (int j = 0; out->hist && j < k; j++) out->hist[j] /= n;
    free(py);
}
