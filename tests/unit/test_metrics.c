/* test_metrics.c: per-class precision, recall and F1, balanced accuracy and
 * macro F1 (metrics.h) on hand-made confusion matrices, including a class
 * with no test samples, one never predicted and one absent from both: 0/0
 * counts as 0 and no NaN comes out. */
#include <math.h>
#include <string.h>

#include "nn/loss.h"
#include "nn/metrics.h"
#include "testutil.h"

#define EQ(a, b) CU_ASSERT_DOUBLE_EQUAL((a), (b), 1e-12)

/* Rows = true class, columns = predicted. Class 2 is never predicted (its
 * column is 0: precision 0/0), class 3 has no test samples but is predicted
 * 3 times (recall 0/0), class 4 occurs nowhere (left out of both means). */
static const double CONF[5 * 5] = {
    5, 1, 0, 0, 0, /* support 6 */
    2, 3, 0, 1, 0, /* support 6 */
    1, 1, 0, 2, 0, /* support 4 */
    0, 0, 0, 0, 0, /* support 0 */
    0, 0, 0, 0, 0, /* support 0 */
};

static void test_per_class(void) {
    nn_class_metrics per[5];
    memset(per, 0xff, sizeof per); /* NaN everywhere until written */
    nn_metrics m;
    nn_confusion_metrics(CONF, 5, per, &m);
    /* Class 0: tp 5, predicted 5+2+1 = 8, support 6. */
    EQ(per[0].precision, 5.0 / 8);
    EQ(per[0].recall, 5.0 / 6);
    EQ(per[0].f1, 2.0 * 5 / (6 + 8)); /* F1 = 2 tp / (support + predicted) */
    EQ(per[0].support, 6);
    EQ(per[0].predicted, 8);
    /* Class 1: tp 3, predicted 5, support 6. */
    EQ(per[1].precision, 3.0 / 5);
    EQ(per[1].recall, 3.0 / 6);
    EQ(per[1].f1, 6.0 / 11);
    /* Class 2: never predicted: precision 0/0 = 0, recall 0/4 = 0, F1 0. */
    EQ(per[2].precision, 0);
    EQ(per[2].recall, 0);
    EQ(per[2].f1, 0);
    EQ(per[2].support, 4);
    EQ(per[2].predicted, 0);
    /* Class 3: no samples: recall 0/0 = 0; precision 0/3 = 0. */
    EQ(per[3].precision, 0);
    EQ(per[3].recall, 0);
    EQ(per[3].f1, 0);
    EQ(per[3].support, 0);
    EQ(per[3].predicted, 3);
    /* Class 4: nothing at all: every ratio 0/0 = 0. */
    EQ(per[4].precision, 0);
    EQ(per[4].recall, 0);
    EQ(per[4].f1, 0);
    for (int c = 0; c < 5; c++)
        CU_ASSERT(isfinite(per[c].precision) && isfinite(per[c].recall) && isfinite(per[c].f1));

    EQ(m.total, 16);
    EQ(m.accuracy, 8.0 / 16);
    /* Balanced accuracy: the mean recall of classes 0, 1, 2 (support > 0). */
    CU_ASSERT_EQUAL(m.classes_with_support, 3);
    EQ(m.balanced_accuracy, (5.0 / 6 + 3.0 / 6 + 0) / 3);
    /* Macro F1: classes 0..3 occur in the truth or the predictions; 4 does not. */
    CU_ASSERT_EQUAL(m.classes_seen, 4);
    EQ(m.macro_f1, (5.0 / 7 + 6.0 / 11 + 0 + 0) / 4);
}

/* A perfect model on a test set that lacks a class scores 1, not (k-1)/k;
 * an empty matrix gives 0s, not NaN; per may be NULL. */
static void test_edges(void) {
    const double perfect[3 * 3] = {4, 0, 0, 0, 0, 0, 0, 0, 7};
    nn_metrics m;
    nn_confusion_metrics(perfect, 3, NULL, &m);
    EQ(m.accuracy, 1);
    EQ(m.balanced_accuracy, 1);
    EQ(m.macro_f1, 1);
    CU_ASSERT_EQUAL(m.classes_with_support, 2);

    const double empty[2 * 2] = {0, 0, 0, 0};
    nn_class_metrics per[2];
    nn_confusion_metrics(empty, 2, per, &m);
    EQ(m.accuracy, 0);
    EQ(m.balanced_accuracy, 0);
    EQ(m.macro_f1, 0);
    EQ(m.total, 0);
    EQ(per[1].f1, 0);

    /* Imbalanced: always predicting the majority class has accuracy 0.9 but
     * balanced accuracy 0.5 and macro F1 (18/19 + 0) / 2. */
    const double majority[2 * 2] = {90, 0, 10, 0};
    nn_confusion_metrics(majority, 2, per, &m);
    EQ(m.accuracy, 0.9);
    EQ(m.balanced_accuracy, 0.5);
    EQ(per[0].f1, 180.0 / 190);
    EQ(m.macro_f1, 180.0 / 190 / 2);
}

/* Averaged predictions (ensemble, --tta flip), by hand: two models, two
 * classes, two samples. Sample 0 (label 0): A (0, 0) -> (1/2, 1/2), B (ln 3,
 * 0) -> (3/4, 1/4): mean (5/8, 3/8). Sample 1 (label 1): A (ln 4, 0) -> (4/5,
 * 1/5), wrong on its own; B (0, ln 9) -> (1/10, 9/10): mean (9/20, 11/20),
 * right. Large logits give no NaN; a tie goes to the first class. */
static void test_averaged(void) {
    const float a[4] = {0, 0, logf(4), 0}, b[4] = {logf(3), 0, 0, logf(9)};
    const int labels[2] = {0, 1};
    double prob[4] = {0};
    nn_softmax_add(a, 2, 2, 1.0, prob);
    nn_softmax_add(b, 2, 2, 1.0, prob);
    CU_ASSERT_DOUBLE_EQUAL(prob[0], 1.25, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(prob[3], 1.1, 1e-6);
    int pred[2];
    long correct = 0;
    const double loss = nn_prob_score(prob, 2, labels, 2, 2, pred, &correct);
    CU_ASSERT_EQUAL(pred[0], 0);
    CU_ASSERT_EQUAL(pred[1], 1);
    CU_ASSERT_EQUAL(correct, 2);
    CU_ASSERT_DOUBLE_EQUAL(loss, -log(0.625) - log(0.55), 1e-6);

    const float big[3] = {1000, 0, -1000}, tie[3] = {2, 2, 1};
    double p1[3] = {0}, p2[3] = {0};
    nn_softmax_add(big, 1, 3, 1.0, p1);
    CU_ASSERT_DOUBLE_EQUAL(p1[0], 1, 1e-12);
    CU_ASSERT(p1[2] == 0 && !isnan(p1[1]));
    const int label2[1] = {2};
    correct = 0;
    CU_ASSERT(isfinite(nn_prob_score(p1, 1, label2, 1, 3, pred, &correct))); /* p floored */
    CU_ASSERT_EQUAL(correct, 0);
    nn_softmax_add(tie, 1, 3, 1.0, p2);
    nn_prob_score(p2, 1, label2, 1, 3, pred, &correct);
    CU_ASSERT_EQUAL(pred[0], 0);
}

void register_metrics_tests(void) {
    CU_pSuite s = CU_add_suite("metrics", NULL, NULL);
    CU_add_test(s, "precision, recall, F1, balanced accuracy, macro F1 (0/0 = 0)",
                test_per_class);
    CU_add_test(s, "perfect with an absent class, empty, majority-class", test_edges);
    CU_add_test(s, "averaged softmaxes of an ensemble, by hand", test_averaged);
}
