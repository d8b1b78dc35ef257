/* score.h: how good a generator's images are, judged by a trained
 * classifier (the Inception score of Salimans et al., with the MNIST
 * classifier in place of Inception). */
#ifndef NN_SCORE_H
#define NN_SCORE_H

typedef struct {
    double score;     /* exp(E_x[KL(p(y|x) || p(y))]): 1 .. k; k = every image confidently
                         one class and every class equally often */
    double confident; /* fraction of images whose top class has p >= 0.9 */
    double *hist;     /* (k) fraction of images per predicted class (caller's memory) */
} nn_score;

/* probs: (n, k) rows of class probabilities (softmax outputs). */
void nn_inception_score(const float *probs, int n, int k, nn_score *out);

#endif
