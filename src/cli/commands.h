/* commands.h: the functions behind the command table (commands.c). Each
 * takes the parsed arguments and the ranks; the table says whether every
 * rank runs it or rank 0 alone. */
#ifndef NN_CLI_COMMANDS_H
#define NN_CLI_COMMANDS_H

#include "args.h"
#include "nn/dist.h"

/* Run the command of a on the ranks its table row names. */
int nn_cli_run(const nn_args *a, nn_dist *dist);

/* A usage error (exit NN_EXIT_USAGE): the message, and NN_ERR_USAGE. */
#define NN_ERR_USAGE (-2)
int nn_usage(const char *fmt, ...) NN_PRINTF(1, 2);

/* placement.c: OpenBLAS threads per rank, and the start-up line saying
 * where the ranks are (collective). */
int nn_place_threads(const nn_args *a, nn_dist *d);

int cmd_eval(const nn_args *a, nn_dist *d);        /* classifier.c */
int cmd_predict(const nn_args *a, nn_dist *d);
int cmd_loss(const nn_args *a, nn_dist *d);
int cmd_summary(const nn_args *a, nn_dist *d);     /* summary.c */
int cmd_sample(const nn_args *a, nn_dist *d);      /* gan_tools.c */
int cmd_gan_score(const nn_args *a, nn_dist *d);
int nn_cmd_check_data(const nn_args *a, nn_dist *d); /* check_data.c */
int nn_cmd_export(const nn_args *a);                /* export.c: the checkpoint as ONNX */

#endif
