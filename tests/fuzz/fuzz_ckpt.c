/* fuzz_ckpt.c: libFuzzer target for the checkpoint reader, through the
 * public API only (nn_ckpt_read_model, then nn_ckpt_load into a net built
 * from the spec it stores, without and with an Adam optimizer).
 *
 * The input is the file: the 512-byte envelope (length, CRC-32) and the
 * HDF5 data. A mutated file fails the envelope's checks before libhdf5 sees
 * it, as a damaged file on a user's disk would; the seeds reach the HDF5
 * reader whole. HDF5 itself is not instrumented, so the fuzzer is guided by
 * nntrain's code only; crashes inside HDF5 still stop it. */
#include "fuzz_util.h"
#include "nn/backend.h"
#include "nn/checkpoint.h"
#include "nn/error.h"
#include "nn/net.h"
#include "nn/optim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_path("checkpoint.h5");
    fuzz_write(path, data, size);
    char *spec = NULL;
    nn_shape in = {0, 0, 0};
    int classes = 0;
    nn_err_clear();
    if (nn_ckpt_read_model(path, &spec, &in, &classes) != NN_OK) {
        if (!strstr(nn_errmsg(), path) && !strstr(nn_errmsg(), "out of memory")) {
            fprintf(stderr, "error message does not name the file: %s\n", nn_errmsg());
            abort();
        }
        free(spec);
        return 0;
    }
    if (!spec) abort();
    nn_net net;
    if (in.c < 1 || in.h < 1 || in.w < 1 || nn_shape_size(in) > (1u << 20) ||
        nn_net_create(&net, spec, path, in, classes, 1, nn_backend_cpu()) != NN_OK) {
        free(spec);
        return 0;
    }
    free(spec);
    nn_train_state st;
    nn_history hist;
    memset(&hist, 0, sizeof hist); /* zeroed: the classifier's columns */
    memset(&st, 0, sizeof st);
    (void)nn_ckpt_load(path, &net, NULL, &st, &hist);
    nn_history_free(&hist);
    nn_optim_cfg cfg;
    nn_optim o;
    if (nn_optim_defaults("adam", &cfg) == NN_OK && nn_optim_create(&o, &cfg, net.nparams) == NN_OK) {
        memset(&st, 0, sizeof st);
        memset(&hist, 0, sizeof hist);
        (void)nn_ckpt_load(path, &net, &o, &st, &hist);
        nn_history_free(&hist);
        nn_optim_free(&o);
    }
    nn_net_free(&net);
    return 0;
}
