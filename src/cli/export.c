/* export.c: nntrain export --checkpoint F --onnx OUT.onnx [--generator]
 * [--no-ema]: the trained net as an ONNX model (include/nn/onnx.h,
 * docs/onnx.md). */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "nn/error.h"
#include "nn/onnx.h"

int nn_cmd_export(const nn_args *a) {
    /* --checkpoint and --onnx: checked by cmd_export (commands.c), a usage error. */
    nn_onnx_opts o = {.generator = a->export_generator, .no_ema = a->no_ema};
    /* The command as given, for the model's metadata (export_command). */
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "nntrain export --checkpoint %s --onnx %s%s%s", a->checkpoint,
             a->onnx, a->export_generator ? " --generator" : "", a->no_ema ? " --no-ema" : "");
    o.command_line = cmd;
    NN_TRY(nn_onnx_export(a->checkpoint, a->onnx, &o));
    printf("%s\n", o.summary);
    return NN_OK;
}
