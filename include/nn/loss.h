/* loss.h: softmax + cross-entropy, fused and numerically stable. */
#ifndef NN_LOSS_H
#define NN_LOSS_H

#include <stddef.h>

/* logits: (n, k); labels: (n). Returns the SUM of -log softmax(logits)[label]
 * over the n samples, adds the number of correct argmax predictions to
 * *correct (if not NULL), and writes dlogits = (softmax - onehot) * scale
 * (if dlogits is not NULL). scale is 1/global batch size for a mean loss. */
double nn_softmax_xent(const float *logits, const int *labels, int n, int k, float scale,
                       float *dlogits, long *correct);
/* Row-wise argmax of (n, k). */
void nn_argmax_rows(const float *x, int n, int k, int *out);

#endif
