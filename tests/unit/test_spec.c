/* test_spec.c: --model resolution and spec parsing: a spec file whose name
 * holds a space is read as a file, inline specs still work, syntax errors of
 * a spec file name the file and the line, binary bytes in a spec are escaped
 * in messages (never echoed raw), NUL bytes and files over 1 MB are refused,
 * option values too long for the layer's buffer are an error, not cut. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nn/backend.h"
#include "nn/error.h"
#include "nn/net.h"
#include "testutil.h"

/* In net.c; declared here until include/nn/net.h carries it. */
const char *nn_model_origin(const char *model);

#define IN_SHAPE ((nn_shape){1, 2, 3})

static int has(const char *msg, const char *word) { return !word || strstr(msg, word) != NULL; }

/* No byte of msg is a control character other than newline: nothing that a
 * terminal would act on. */
static int clean(const char *msg) {
    for (const unsigned char *p = (const unsigned char *)msg; *p; p++)
        if ((*p < 0x20 && *p != '\n') || *p == 0x7f || *p >= 0x80) return 0;
    return 1;
}

/* nn_model_resolve(model) must fail with every word in its message and no
 * raw control byte. */
static void expect_resolve_fail(const char *model, const char *w1, const char *w2,
                                const char *w3, int line) {
    nn_err_clear();
    char *s = nn_model_resolve(model, 0, 3);
    const char *m = nn_errmsg();
    int ok = s == NULL && has(m, w1) && has(m, w2) && has(m, w3) && clean(m);
    CU_ASSERT(ok);
    if (!ok) printf("\n    line %d: resolve gave %s, message: %s\n", line, s ? "text" : "NULL", m);
    free(s);
}

/* nn_net_create(spec, origin) must fail likewise. */
static void expect_create_fail(const char *spec, const char *origin, const char *w1,
                               const char *w2, int line) {
    nn_net net;
    nn_err_clear();
    int rc = nn_net_create(&net, spec, origin, IN_SHAPE, 3, 4, nn_backend_cpu());
    const char *m = nn_errmsg();
    int ok = rc == NN_ERR && has(m, w1) && has(m, w2) && clean(m);
    CU_ASSERT(ok);
    if (!ok) printf("\n    line %d: rc %d, message: %s\n", line, rc, m);
    if (rc == NN_OK) nn_net_free(&net);
}

static void write_text(const char *path, const char *text) {
    tu_write_file(path, text, strlen(text), 0);
}

static void test_file_with_space(void) {
    char path[600];
    snprintf(path, sizeof path, "%s", tu_path("my model.spec"));
    write_text(path, "# from a file\ndense 7\nrelu\ndense 3\n");
    char *s = nn_model_resolve(path, 0, 3);
    if (!s) printf("\n    resolve: %s\n", nn_errmsg());
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_STRING_EQUAL(s, "# from a file\ndense 7\nrelu\ndense 3\n");
    CU_ASSERT_STRING_EQUAL(nn_model_origin(path), path);
    nn_net net;
    CU_ASSERT_EQUAL_FATAL(nn_net_create(&net, s, path, IN_SHAPE, 3, 4, nn_backend_cpu()), NN_OK);
    CU_ASSERT_EQUAL(net.nlayers, 3);
    CU_ASSERT_EQUAL(net.layers[0].out.c, 7);
    nn_net_free(&net);
    free(s);

    /* Inline text (no such file) is still inline, and a preset a preset. */
    s = nn_model_resolve("dense 9; relu; dense 3", 0, 3);
    CU_ASSERT(s && !strcmp(s, "dense 9; relu; dense 3"));
    free(s);
    CU_ASSERT_STRING_EQUAL(nn_model_origin("dense 9; relu; dense 3"), "--model");
    s = nn_model_resolve("mlp", 0, 3);
    CU_ASSERT(s && strstr(s, "sigmoid"));
    free(s);
    CU_ASSERT_STRING_EQUAL(nn_model_origin("mlp"), "--model");
    /* A file named like inline text is read as the file. */
    char cwd[1024];
    CU_ASSERT_FATAL(getcwd(cwd, sizeof cwd) != NULL);
    CU_ASSERT_FATAL(chdir(tu_tmpdir()) == 0);
    write_text("dense 4; relu; dense 3", "dense 11\nrelu\ndense 3\n");
    s = nn_model_resolve("dense 4; relu; dense 3", 0, 3);
    CU_ASSERT(s && !strcmp(s, "dense 11\nrelu\ndense 3\n"));
    free(s);
    unlink("dense 4; relu; dense 3");
    CU_ASSERT_FATAL(chdir(cwd) == 0);
}

static void test_file_errors_name_the_file(void) {
    char path[600];
    snprintf(path, sizeof path, "%s", tu_path("bad model.spec"));
    write_text(path, "dense 10\nsigmoid\nsigmoud\ndense 3\n");
    expect_resolve_fail(path, path, "line 3", "unknown layer type 'sigmoud'", __LINE__);
    write_text(path, "dense 10\nrelu\nsigmoid 5\n");
    expect_resolve_fail(path, path, "line 3", "key=value", __LINE__);
    /* Missing files, folders, empty files. */
    expect_resolve_fail(tu_path("no-such.spec"), "no-such.spec", "No such file", NULL, __LINE__);
    expect_resolve_fail(tu_tmpdir(), tu_tmpdir(), "is a folder", NULL, __LINE__);
    write_text(path, "# only a comment\n");
    expect_resolve_fail(path, path, "empty", NULL, __LINE__);
    expect_resolve_fail("nosuchmodel", "not a preset", NULL, NULL, __LINE__);
    /* Issue 29.4: a FIFO is refused at once (it blocked in open for ever). */
    char fifo[600];
    snprintf(fifo, sizeof fifo, "%s", tu_path("fifo.spec"));
    unlink(fifo);
    CU_ASSERT_FATAL(mkfifo(fifo, 0600) == 0);
    tu_hang_guard("nn_model_resolve on a FIFO");
    expect_resolve_fail(fifo, fifo, "not a regular file (a FIFO", "expected a model spec file",
                        __LINE__);
    tu_hang_guard(NULL);
    unlink(fifo);
}

static void test_binary_is_escaped(void) {
    /* An escape sequence (clear screen, red) as a layer type and as an option. */
    expect_create_fail("dense 10\n\x1b[2J\x1b[31mevil; dense 3", "--model",
                       "line 2: unknown layer type '\\x1b[2J\\x1b[31mevil'", NULL, __LINE__);
    expect_create_fail("dense 10 bias=\x1b[31m\x07; dense 3", "--model", "\\x1b[31m\\x07",
                       "not printable", __LINE__);
    expect_create_fail("\xc3\xa9t\xc3\xa9 4", "--model", "'\\xc3\\xa9t\\xc3\\xa9'", NULL, __LINE__);
    expect_resolve_fail("\x1b[2J", "\\x1b[2J", "not a preset", NULL, __LINE__);
    /* A binary file: the first bytes of an ELF-like header, no NUL. */
    char path[600];
    snprintf(path, sizeof path, "%s", tu_path("binary.spec"));
    const char junk[] = "\x7f" "ELF\x02\x01\x01\x1b]0;pwned\x07\xff\xfe\n";
    tu_write_file(path, junk, sizeof junk - 1, 0);
    expect_resolve_fail(path, path, "line 1: unknown layer type '\\x7fELF\\x02\\x01\\x01\\x1b]0'",
                        NULL, __LINE__);
    /* A NUL byte: a binary file, whatever follows. */
    const char nul[] = "dense 10\n\0dense 3\n";
    tu_write_file(path, nul, sizeof nul - 1, 0);
    expect_resolve_fail(path, path, "byte 9 is NUL", "binary", __LINE__);
}

static void test_size_limits(void) {
    /* Over 1 MB: refused, naming the file and the limit. */
    char path[600];
    snprintf(path, sizeof path, "%s", tu_path("huge.spec"));
    size_t n = (1 << 20) + 10;
    char *big = malloc(n + 1);
    CU_ASSERT_FATAL(big != NULL);
    memset(big, '#', n);
    memcpy(big, "dense 3\n", 8);
    big[n] = 0;
    tu_write_file(path, big, n, 0);
    expect_resolve_fail(path, path, "1048576 bytes", "1 MB", __LINE__);
    /* 300 KB (a long comment) is a spec like any other. */
    tu_write_file(path, big, 300000, 0);
    char *s = nn_model_resolve(path, 0, 3);
    CU_ASSERT(s && strlen(s) == 300000);
    free(s);
    free(big);

    /* An option value longer than the layer keeps: an error, not cut. */
    char spec[200];
    snprintf(spec, sizeof spec, "dense 5 bias=%070d; dense 3", 1);
    expect_create_fail(spec, "--model", "too long", "value at most 63", __LINE__);
    expect_create_fail("dense 5 bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb=1; dense 3", "--model",
                       "too long", "key at most 31", __LINE__);
}

/* Issue 29.18: a repeated option is named as repeated, not as unknown. */
static void test_repeated_option(void) {
    expect_create_fail("dense 10 bias=0 bias=1; dense 3", "--model",
                       "line 1: dense: option 'bias' given twice ('0' and '1')", NULL, __LINE__);
    expect_create_fail("dense 10 units=5; dense 3", "--model", "option 'units' given twice",
                       "the first as the positional value", __LINE__);
    expect_create_fail("dense 10; relu; dense 3 bias=false bias=false", "--model", "line 1",
                       "option 'bias' given twice", __LINE__);
}

void register_spec_tests(void) {
    CU_pSuite s = CU_add_suite("model spec", NULL, NULL);
    CU_add_test(s, "a spec file with a space in its name is a file", test_file_with_space);
    CU_add_test(s, "errors of a spec file name the file and line", test_file_errors_name_the_file);
    CU_add_test(s, "binary bytes are escaped in messages", test_binary_is_escaped);
    CU_add_test(s, "spec files over 1 MB and over-long options are refused", test_size_limits);
    CU_add_test(s, "an option given twice is named so (not 'unknown')", test_repeated_option);
}
