/* fuzz_cifar.c: libFuzzer target for the CIFAR-10 binary loader
 * (nn_cifar_open, split "test": one file, test_batch.bin).
 *
 * Input: 1 byte (bits 0..1: nranks - 1, bits 2..3: rank mod nranks, bits
 * 4..7: --limit, 0 = all), then the batch file. A successful open is read
 * back: every held sample reads with a label in 0..9 and pixels in [0, 1],
 * every other index is refused. */
#include "fuzz_util.h"
#include "nn/data.h"
#include "nn/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    nn_part part = {.rank = 0, .nranks = (data[0] & 3) + 1, .limit = (size_t)(data[0] >> 4)};
    part.rank = ((data[0] >> 2) & 3) % part.nranks;
    const char *dir = fuzz_tmpdir(), *file = fuzz_path("test_batch.bin");
    fuzz_write(file, data + 1, size - 1);

    nn_dataset d;
    nn_err_clear();
    if (nn_cifar_open(&d, dir, "test", part) != NN_OK) {
        if (!strstr(nn_errmsg(), dir) && !strstr(nn_errmsg(), "out of memory")) {
            fprintf(stderr, "error message does not name the file: %s\n", nn_errmsg());
            abort();
        }
        return 0;
    }
    if (d.count != (size - 1) / 3073 && (part.limit == 0 || d.count != part.limit)) abort();
    static float x[3072];
    for (size_t i = 0; i < d.count + 2; i++) {
        int label = -1;
        int rc = d.ops->get(&d, i, x, &label);
        int held = i >= d.shard.begin && i < d.shard.end;
        if (held != (rc == NN_OK)) abort();
        if (!held) continue;
        if (label < 0 || label >= 10) abort();
        for (size_t k = 0; k < 3072; k++)
            if (!(x[k] >= 0.0f && x[k] <= 1.0f)) abort();
    }
    nn_dataset_free(&d);
    return 0;
}
