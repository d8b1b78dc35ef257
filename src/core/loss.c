/* loss.c: fused softmax + cross-entropy. Subtracting the row max before exp()
 * keeps it finite for any logits; log-sum-exp gives the loss directly. */
#include "nn/loss.h"

#include <math.h>

double nn_softmax_xent(const float *logits, const int *labels, int n, int k, float scale,
                       float *dlogits, long *correct) {
    double total = 0.0;
    for (int i = 0; i < n; i++) {
        const float *z = logits + (size_t)i * k;
        int best = 0;
        for (int j = 1; j < k; j++)
            if (z[j] > z[best]) best = j;
        float max = z[best];
        double sum = 0.0;
        for (int j = 0; j < k; j++) sum += exp((double)(z[j] - max));
        double lse = log(sum) + max;
        total += lse - z[labels[i]];
        if (correct && best == labels[i]) (*correct)++;
        if (dlogits) {
            float *d = dlogits + (size_t)i * k;
            for (int j = 0; j < k; j++) {
                float p = (float)exp((double)z[j] - lse);
                d[j] = (p - (j == labels[i] ? 1.0f : 0.0f)) * scale;
            }
        }
    }
    return total;
}

void nn_argmax_rows(const float *x, int n, int k, int *out) {
    for (int i = 0; i < n; i++) {
        const float *z = x + (size_t)i * k;
        int best = 0;
        for (int j = 1; j < k; j++)
            if (z[j] > z[best]) best = j;
        out[i] = best;
    }
}
