/* loss.h: softmax + cross-entropy and sigmoid + binary cross-entropy, each
 * fused on logits and numerically stable for any finite logit. */
#ifndef NN_LOSS_H
#define NN_LOSS_H

#include <stddef.h>

/* logits: (n, k); labels: (n). Returns the SUM of -log softmax(logits)[label]
 * over the n samples, adds the number of correct argmax predictions to
 * *correct (if not NULL), and writes dlogits = (softmax - onehot) * scale
 * (if dlogits is not NULL). scale is 1/global batch size for a mean loss. */
double nn_softmax_xent(const float *logits, const int *labels, int n, int k, float scale,
                       float *dlogits, long *correct);
/* The same with a weight per class, w (k entries; NULL = nn_softmax_xent,
 * bit for bit): returns the SUM over the samples of w[label] * -log
 * softmax(logits)[label] and writes dlogits = w[label] * (softmax - onehot) *
 * scale. With scale = 1/global batch the loss is the batch MEAN of the
 * weighted terms (divided by the batch size, not by the sum of the batch's
 * weights as PyTorch's weighted mean is: the gradient then needs no second
 * reduction, and balanced weights average 1 over the training set). */
double nn_softmax_xent_weighted(const float *logits, const int *labels, const float *w, int n,
                                int k, float scale, float *dlogits, long *correct);

/* Label smoothing (--label-smoothing eps): the target of the cross-entropy
 * becomes (1 - eps) onehot + eps / k. Its gradient is the onehot one's,
 * (softmax - onehot) w[label] scale, plus w[label] eps (onehot - 1/k) scale:
 * this writes that second term (n, k) into out (host memory), to be added to
 * the dlogits of nn_softmax_xent_weighted (w may be NULL). The loss reported
 * stays the cross-entropy against the true labels. */
void nn_label_smoothing_term(const int *labels, const float *w, int n, int k, float eps,
                             float scale, float *out);

/* --class-weight: how train weights each class in the loss. */
enum { NN_CLASS_WEIGHT_NONE, NN_CLASS_WEIGHT_BALANCED, NN_CLASS_WEIGHT_SQRT };
/* "none", "balanced", "sqrt"; nn_class_weight_parse gives -1 for another name. */
const char *nn_class_weight_name(int kind);
int nn_class_weight_parse(const char *name);
/* Class weights of a kind (NONE: all 1) from the label counts of the WHOLE
 * training set (k classes, N = sum of the counts); 0 for a class with n_c = 0
 * (it has no samples to weigh). Both kinds keep the mean weight of a training
 * sample at 1 (sum of n_c w_c = N).
 * BALANCED: w[c] = N / (K n_c), K = k, so a class's total weight N/K is the
 *   same for every class: scikit-learn's "balanced", except that K counts
 *   every class of the model, present or not.
 * SQRT: w[c] = N / (sqrt(n_c) sum_j sqrt(n_j)), inverse square-root
 *   frequency: halfway (in logs) between none and balanced, for when the
 *   plain accuracy matters as well as the balanced one. */
void nn_class_weights(int kind, const double *counts, int k, float *w);
/* Sigmoid cross-entropy on logits (a GAN's discriminator loss): logits z (n),
 * targets t (n) in [0, 1] (0/1 labels or smoothed ones). Returns the SUM over
 * the n values of -[t log s(z) + (1-t) log(1-s(z))], s the logistic sigmoid,
 * evaluated as max(z,0) - z t + log1p(exp(-|z|)) in double, which stays finite
 * and accurate for any |z| (a naive log(s(z)) is -inf from |z| ~ 90 in
 * float). Writes dlogits = (s(z) - t) * scale when dlogits is not NULL; it
 * must not overlap logits or targets. scale: 1/batch for a mean loss. */
double nn_sigmoid_xent(const float *logits, const float *targets, int n, float scale,
                       float *dlogits);
/* out = s(z) = 1/(1+exp(-z)) elementwise, stable for any z (never NaN from
 * exp overflow); out may be z itself. For D(x) means of a discriminator. */
void nn_sigmoid(const float *z, int n, float *out);
/* Row-wise argmax of (n, k). */
void nn_argmax_rows(const float *x, int n, int k, int *out);

/* Averaged predictions (eval --tta, an ensemble of checkpoints): add
 * weight x softmax(logits) (n, k), computed in double with the row max
 * subtracted, to prob (n, k). */
void nn_softmax_add(const float *logits, int n, int k, double weight, double *prob);
/* Score the weighted mean of such sums, m the sum of their weights:
 * p = prob / m. Writes pred (argmax of p, the first on ties), adds the
 * number of pred == label to *correct and returns the SUM of -log p[label]
 * (p floored at 1e-300). */
double nn_prob_score(const double *prob, double m, const int *labels, int n, int k, int *pred,
                     long *correct);

#endif
