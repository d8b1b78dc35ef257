/* fuzz_idx.c: libFuzzer target for the IDX loader (nn_idx_open), plain and
 * gzip (detected from the content).
 *
 * Input: a 4-byte little-endian word, then the images file, then the labels
 * file. Word bits 0..23: the images file's length (clamped to what is
 * there); bits 24..25: nranks - 1; bits 26..27: rank (mod nranks); bits
 * 28..31: --limit (0 = all). A successful open is read back sample by
 * sample: every held sample must read, with its label in range and its
 * pixels in [0, 1]; every other index must be refused. */
#include <math.h>

#include "fuzz_util.h"
#include "nn/data.h"
#include "nn/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 4) return 0;
    uint32_t w = fuzz_le32(data);
    data += 4, size -= 4;
    size_t li = w & 0xffffff;
    if (li > size) li = size;
    nn_part part = {.rank = 0, .nranks = (int)((w >> 24) & 3) + 1, .limit = (w >> 28) & 15};
    part.rank = (int)((w >> 26) & 3) % part.nranks;
    const char *img = fuzz_path("images-idx3-ubyte"), *lbl = fuzz_path("labels-idx1-ubyte");
    fuzz_write(img, data, li);
    fuzz_write(lbl, data + li, size - li);

    nn_dataset d;
    nn_err_clear();
    if (nn_idx_open(&d, img, lbl, 10, part) != NN_OK) {
        /* Every failure explains itself, naming a file. */
        const char *m = nn_errmsg();
        if (!strstr(m, img) && !strstr(m, lbl) && !strstr(m, "out of memory")) {
            fprintf(stderr, "error message names neither file: %s\n", m);
            abort();
        }
        return 0;
    }
    const size_t dim = nn_shape_size(d.shape);
    if (d.shape.c != 1 || d.shape.h < 1 || d.shape.w < 1 || d.shard.end > d.count ||
        d.shard.begin > d.shard.end)
        abort();
    float *x = malloc((dim ? dim : 1) * sizeof(float));
    if (!x) abort();
    for (size_t i = 0; i < d.count + 2; i++) {
        int label = -1;
        int rc = d.ops->get(&d, i, x, &label);
        int held = i >= d.shard.begin && i < d.shard.end;
        if (held != (rc == NN_OK)) abort();
        if (!held) continue;
        if (label < 0 || label >= 10) abort();
        for (size_t k = 0; k < dim; k++)
            if (!(x[k] >= 0.0f && x[k] <= 1.0f)) abort();
    }
    free(x);
    nn_dataset_free(&d);
    return 0;
}
