/* main.c: runs every CUnit suite; exits non-zero if any assertion failed. */
#include <CUnit/Basic.h>
#include <stdio.h>

#include "testutil.h"

int main(void) {
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
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned run = CU_get_number_of_tests_run(), failed = CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    printf("unit tests: %u passed, %u failed\n", run - failed, failed);
    return failed ? 1 : 0;
}
