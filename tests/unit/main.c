/* main.c: runs every CUnit suite; exits non-zero if any assertion failed. */
#include <CUnit/Basic.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>

#include "nn/backend.h"
#include "nn/error.h"
#include "testutil.h"

int main(void) {
    /* NNTRAIN_TEST_DEVICE=cuda (tests/cuda/run.sh): the layer and GAN tests,
     * finite differences included, run on that backend. */
    const char *device = getenv("NNTRAIN_TEST_DEVICE");
    if (nn_backend_select(device ? device : "cpu", 0) != 0) {
        fprintf(stderr, "unit tests: %s\n", nn_errmsg());
        return 2;
    }
    if (CU_initialize_registry() != CUE_SUCCESS) return 2;
    register_layer_tests();
    register_blas_tests();
    register_idx_tests();
    register_checkpoint_tests();
    register_spec_tests();
    register_sampler_tests();
    register_optim_tests();
    register_image_tests();
    register_gan_tests();
    register_prefetch_tests();
    register_metrics_tests();
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned run = CU_get_number_of_tests_run(), failed = CU_get_number_of_tests_failed();
    /* Every HDF5 file the library or a test opened is closed again (one left
     * open is a leaked handle, and libhdf5 1.10.8 can crash closing it at exit). */
    ssize_t open_files = H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_FILE);
    if (open_files > 0) {
        hid_t ids[16];
        ssize_t n = H5Fget_obj_ids(H5F_OBJ_ALL, H5F_OBJ_FILE, 16, ids);
        for (ssize_t i = 0; i < n; i++) {
            char name[512] = "?";
            H5Fget_name(ids[i], name, sizeof name);
            printf("HDF5 file left open: %s\n", name);
        }
        failed++;
    }
    CU_cleanup_registry();
    printf("unit tests: %u passed, %u failed\n", run - failed, failed);
    return failed ? 1 : 0;
}
