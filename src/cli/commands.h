/* commands.h: the nntrain commands (train, eval, predict, loss, summary). */
#ifndef NN_CLI_COMMANDS_H
#define NN_CLI_COMMANDS_H

#include "args.h"
#include "nn/dist.h"

int nn_cli_run(const nn_args *a, nn_dist *dist);
/* check-data (check_data.c): collective. */
int nn_cmd_check_data(const nn_args *a, nn_dist *dist);
/* export (export.c): the checkpoint as an ONNX model. */
int nn_cmd_export(const nn_args *a);

#endif
