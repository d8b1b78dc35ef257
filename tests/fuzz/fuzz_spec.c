/* fuzz_spec.c: libFuzzer target for the model spec parser (nn_net_create:
 * parsing, options, shape inference, buffer allocation).
 *
 * The input is the spec text. Its length picks the input shape: (1, 28, 28),
 * (3, 8, 8) or (2, 5, 7) by length mod 3. A net that builds is printed as a
 * summary (to /dev/null) and, when small (under 1M parameters and 2e7 FLOPs
 * per sample), initialised and run forward and backward on 2 samples in
 * training mode: the logits must be finite for inputs in [0, 1]. */
#include <math.h>

#include "fuzz_util.h"
#include "nn/backend.h"
#include "nn/error.h"
#include "nn/net.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const nn_shape g_shapes[3] = {{1, 28, 28}, {3, 8, 8}, {2, 5, 7}};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static FILE *devnull;
    if (!devnull) devnull = fopen("/dev/null", "w");
    char *spec = malloc(size + 1);
    if (!spec) abort();
    memcpy(spec, data, size);
    spec[size] = 0;
    const nn_shape in = g_shapes[size % 3];
    nn_net net;
    nn_err_clear();
    if (nn_net_create(&net, spec, "fuzz-spec", in, 0, 2, nn_backend_cpu()) != NN_OK) {
        const char *m = nn_errmsg();
        if (!strstr(m, "fuzz-spec") && !strstr(m, "out of memory")) {
            fprintf(stderr, "error message does not name the spec: %s\n", m);
            abort();
        }
        free(spec);
        return 0;
    }
    free(spec);
    if (devnull) nn_net_summary(&net, devnull);
    double flops = 0;
    for (int i = 0; i < net.nlayers; i++)
        if (net.layers[i].ops->flops) flops += net.layers[i].ops->flops(&net.layers[i]);
    const size_t nin = nn_shape_size(in), nout = nn_net_out_size(&net);
    if (net.nparams < (1u << 20) && flops < 2e7 && nout > 0) {
        nn_net_init(&net, 1);
        float *x = malloc(2 * nin * sizeof(float)), *dl = malloc(2 * nout * sizeof(float));
        if (!x || !dl) abort();
        for (size_t k = 0; k < 2 * nin; k++) x[k] = (float)((k * 37) % 101) / 100.0f;
        for (size_t k = 0; k < 2 * nout; k++) dl[k] = (k % 3 == 0) ? 0.5f : -0.25f;
        const uint64_t ids[2] = {3, 11};
        nn_ctx c = {.train = true, .n = 2, .global_n = 2, .sample_ids = ids, .seed = 1};
        const float *logits = NULL;
        if (nn_net_forward(&net, &c, x, &logits) == NN_OK) {
            for (size_t k = 0; k < 2 * nout; k++)
                if (!isfinite(logits[k])) {
                    fprintf(stderr, "non-finite logit %zu: %g\n", k, (double)logits[k]);
                    abort();
                }
            nn_net_zero_grad(&net);
            (void)nn_net_backward(&net, &c, x, dl);
        }
        free(x);
        free(dl);
    }
    nn_net_free(&net);
    return 0;
}
