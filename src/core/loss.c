/* loss.c: fused softmax + cross-entropy. Subtracting the row max before exp()
 * keeps it finite for any logits; log-sum-exp gives the loss directly.
 * Sigmoid cross-entropy the same way: exp() only ever sees -|z| <= 0. */
#include "nn/loss.h"

#include <math.h>
#include <string.h>

void nn_label_smoothing_term(const int *labels, const float *w, int n, int k, float eps,
                             float scale, float *out) {
    for (int i = 0; i < n; i++) {
        const float s = (w ? w[labels[i]] : 1.0f) * eps * scale, off = -s / (float)k;
        float *o = out + (size_t)i * k;
        for (int j = 0; j < k; j++) o[j] = off;
        o[labels[i]] += s;
    }
}

double nn_softmax_xent(const float *logits, const int *labels, int n, int k, float scale,
                       float *dlogits, long *correct) {
    return nn_softmax_xent_weighted(logits, labels, NULL, n, k, scale, dlogits, correct);
}

/* Without weights every product below is the unweighted one: the same bits. */
double nn_softmax_xent_weighted(const float *logits, const int *labels, const float *w, int n,
                                int k, float scale, float *dlogits, long *correct) {
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
        const double li = lse - z[labels[i]];
        total += w ? w[labels[i]] * li : li;
        if (correct && best == labels[i]) (*correct)++;
        if (dlogits) {
            float *d = dlogits + (size_t)i * k;
            const float s = w ? w[labels[i]] * scale : scale;
            for (int j = 0; j < k; j++) {
                float p = (float)exp((double)z[j] - lse);
                d[j] = (p - (j == labels[i] ? 1.0f : 0.0f)) * s;
            }
        }
    }
    return total;
}

const char *nn_class_weight_name(int kind) {
    return kind == NN_CLASS_WEIGHT_BALANCED ? "balanced"
           : kind == NN_CLASS_WEIGHT_SQRT   ? "sqrt"
                                            : "none";
}

int nn_class_weight_parse(const char *name) {
    if (name && !strcmp(name, "none")) return NN_CLASS_WEIGHT_NONE;
    if (name && !strcmp(name, "balanced")) return NN_CLASS_WEIGHT_BALANCED;
    if (name && !strcmp(name, "sqrt")) return NN_CLASS_WEIGHT_SQRT;
    return -1;
}

void nn_class_weights(int kind, const double *counts, int k, float *w) {
    double total = 0, roots = 0;
    for (int c = 0; c < k; c++) total += counts[c], roots += sqrt(counts[c]);
    for (int c = 0; c < k; c++) {
        const double n = counts[c];
        switch (kind) {
        case NN_CLASS_WEIGHT_BALANCED: w[c] = n > 0 ? (float)(total / ((double)k * n)) : 0.0f; break;
        case NN_CLASS_WEIGHT_SQRT: w[c] = n > 0 ? (float)(total / (sqrt(n) * roots)) : 0.0f; break;
        default: w[c] = 1.0f; /* none: every sample weighs 1 */
        }
    }
}

/* s(z) in double without overflow: exp of a non-positive number only. */
static double sigmoid_d(double z) {
    if (z >= 0) return 1.0 / (1.0 + exp(-z));
    double e = exp(z);
    return e / (1.0 + e);
}

double nn_sigmoid_xent(const float *logits, const float *targets, int n, float scale,
                       float *dlogits) {
    double total = 0.0;
    for (int i = 0; i < n; i++) {
        const double z = logits[i], t = targets[i];
        /* -[t log s + (1-t) log(1-s)] = max(z,0) - z t + log(1 + exp(-|z|)) */
        total += (z > 0 ? z : 0.0) - z * t + log1p(exp(-fabs(z)));
        if (dlogits) dlogits[i] = (float)((sigmoid_d(z) - t) * scale);
    }
    return total;
}

void nn_sigmoid(const float *z, int n, float *out) {
    for (int i = 0; i < n; i++) out[i] = (float)sigmoid_d(z[i]);
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

void nn_softmax_add(const float *logits, int n, int k, double weight, double *prob) {
    for (int i = 0; i < n; i++) {
        const float *z = logits + (size_t)i * k;
        double *p = prob + (size_t)i * k, sum = 0;
        float m = z[0];
        for (int j = 1; j < k; j++) m = z[j] > m ? z[j] : m;
        for (int j = 0; j < k; j++) sum += exp((double)z[j] - m);
        for (int j = 0; j < k; j++) p[j] += weight * exp((double)z[j] - m) / sum;
    }
}

double nn_prob_score(const double *prob, double m, const int *labels, int n, int k, int *pred,
                     long *correct) {
    double loss = 0;
    for (int i = 0; i < n; i++) {
        const double *p = prob + (size_t)i * k;
        int best = 0;
        for (int j = 1; j < k; j++)
            if (p[j] > p[best]) best = j;
        pred[i] = best;
        *correct += best == labels[i];
        const double pl = p[labels[i]] / m;
        loss -= log(pl > 1e-300 ? pl : 1e-300);
    }
    return loss;
}
