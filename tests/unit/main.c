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
    register_sampler_tests();
    register_optim_tests();
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    unsigned run = CU_get_number_of_tests_run();
    CU_cleanup_registry();
    printf("%u passed, %u failed\n", run - CU_get_number_of_tests_failed(), failed ? CU_get_number_of_tests_failed() : 0);
    return failed ? 1 : 0;
}
