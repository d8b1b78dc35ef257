/* fuzz_folder.c: libFuzzer target for the image-folder loader
 * (nn_folder_open): one image, root/train/a/x.png, decoded as JPEG or PNG
 * (told by content, whatever the name) and resized.
 *
 * The input is the image file. Its length picks the request (so every
 * input is a whole, valid-looking file): channels 0 (from the image), 1 or
 * 3 by length mod 3; size 0 (the image's own) or 7 by length mod 2. The fuzz
 * build lowers the pixel limit (NN_MAX_IMAGE_PIXELS, 1 MP instead of 64 MP)
 * so that a header declaring a big image does not make every run decode
 * megapixels of nothing; the check itself is the same code. */
#include "fuzz_util.h"
#include "nn/data.h"
#include "nn/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static char root[512], file[600];
    if (!root[0]) {
        snprintf(root, sizeof root, "%s", fuzz_path("folder"));
        snprintf(file, sizeof file, "%s/train/a", root);
        fuzz_mkdirs(file);
        snprintf(file, sizeof file, "%s/train/a/x.png", root);
    }
    fuzz_write(file, data, size);
    const int channels = (int)(size % 3) == 2 ? 3 : (int)(size % 3);
    const int side = size % 2 ? 7 : 0;

    nn_dataset d;
    nn_err_clear();
    /* Every fifth length streams: get() decodes the file again. */
    nn_part part = NN_PART_ALL;
    part.cache = size % 5 == 0 ? NN_CACHE_NONE : NN_CACHE_RAM;
    if (nn_folder_open(&d, root, "train", channels, side, side, part) != NN_OK) {
        if (!strstr(nn_errmsg(), root) && !strstr(nn_errmsg(), "out of memory")) {
            fprintf(stderr, "error message does not name the file: %s\n", nn_errmsg());
            abort();
        }
        return 0;
    }
    if (d.count != 1 || d.classes != 1 || (channels && d.shape.c != channels) ||
        (d.shape.c != 1 && d.shape.c != 3) || (side && (d.shape.h != side || d.shape.w != side)))
        abort();
    const size_t dim = nn_shape_size(d.shape);
    float *x = malloc(dim * sizeof(float));
    if (!x) abort();
    int label = -1;
    if (d.ops->get(&d, 0, x, &label) != NN_OK) {
        /* Streamed, a corrupt file fails in get(), naming it; cached, the
         * open already decoded it and get() must not fail. */
        if (!d.streamed || (!strstr(nn_errmsg(), root) && !strstr(nn_errmsg(), "out of memory")))
            abort();
        free(x);
        nn_dataset_free(&d);
        return 0;
    }
    if (label != 0) abort();
    for (size_t k = 0; k < dim; k++)
        if (!(x[k] >= 0.0f && x[k] <= 1.0f)) abort();
    free(x);
    nn_dataset_free(&d);
    return 0;
}
