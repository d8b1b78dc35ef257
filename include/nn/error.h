/* error.h: one way to fail. Library functions return NN_OK (0) or NN_ERR (-1)
 * and leave a message (what, which file/layer, what was expected, a hint)
 * that the caller prints. The library never calls exit() on user input. */
#ifndef NN_ERROR_H
#define NN_ERROR_H

#include <stddef.h>

#define NN_OK 0
#define NN_ERR (-1)

#if defined(__GNUC__)
#define NN_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define NN_PRINTF(a, b)
#endif

/* Set the message (printf-style) and return NN_ERR, so a failure path reads
 * `return nn_fail("%s: bad magic 0x%08x, expected 0x%08x", path, m, want);` */
int nn_fail(const char *fmt, ...) NN_PRINTF(1, 2);
/* Prepend context to the current message: "loading X: " + old message. */
int nn_fail_ctx(const char *fmt, ...) NN_PRINTF(1, 2);
const char *nn_errmsg(void);
/* s quoted for a message into buf (n bytes): at most max bytes of it, bytes
 * outside printable ASCII as \xNN (untrusted text must not send escape
 * sequences to a terminal), "..." when cut. Returns buf. */
const char *nn_escaped(const char *s, size_t max, char *buf, size_t n);
void nn_err_clear(void);

/* Allocation that reports which buffer could not be had. */
/* Memory this machine has available (MemAvailable; else the free pages;
 * 0 when unknown). */
size_t nn_mem_available(void);
/* Requests of at least this many bytes are checked against it. */
#define NN_MEM_CHECK_FROM ((size_t)256 << 20)
/* NN_OK, or an error naming `what`, its size and the memory available, when
 * bytes (>= NN_MEM_CHECK_FROM) exceed nn_mem_available(). */
int nn_check_memory(double bytes, const char *what);
/* malloc / calloc with a message naming `what`; requests above the memory
 * available are refused before they are made (nn_check_memory). */
void *nn_alloc(size_t bytes, const char *what);
void *nn_calloc(size_t n, size_t size, const char *what);

#define NN_TRY(expr)                                                                               \
    do {                                                                                           \
        if ((expr) != NN_OK) return NN_ERR;                                                        \
    } while (0)

#endif
