/* error.c: the per-thread error message behind nn_fail(). */
#include "nn/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>

static _Thread_local char g_msg[2048];

int nn_fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_msg, sizeof g_msg, fmt, ap);
    va_end(ap);
    return NN_ERR;
}

int nn_fail_ctx(const char *fmt, ...) {
    char prefix[1024], old[sizeof g_msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, g_msg, sizeof old);
    /* prefix + ": " + old, cut to fit. */
    size_t n = strlen(prefix);
    if (n > sizeof g_msg - 3) n = sizeof g_msg - 3;
    memcpy(g_msg, prefix, n);
    memcpy(g_msg + n, ": ", 2);
    size_t m = strlen(old);
    if (m > sizeof g_msg - n - 3) m = sizeof g_msg - n - 3;
    memcpy(g_msg + n + 2, old, m);
    g_msg[n + 2 + m] = 0;
    return NN_ERR;
}

const char *nn_errmsg(void) { return g_msg[0] ? g_msg : "unknown error"; }

void nn_err_clear(void) { g_msg[0] = 0; }

size_t nn_mem_available(void) {
    FILE *f = fopen("/proc/meminfo", "r");
    char line[256];
    unsigned long long kb = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1) break;
    if (f) fclose(f);
    if (kb) return (size_t)(kb * 1024ull);
    long pages = sysconf(_SC_AVPHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
    return pages > 0 && psz > 0 ? (size_t)pages * (size_t)psz : 0;
}

int nn_check_memory(double bytes, const char *what) {
    if (bytes < (double)NN_MEM_CHECK_FROM) return NN_OK;
    const size_t avail = nn_mem_available();
    if (avail == 0 || bytes <= (double)avail) return NN_OK;
    return nn_fail("%s would take %.3g GB, more than the %.3g GB of memory this machine has "
                   "available (MemAvailable); HINT: a smaller size (batch, --n, layer widths, "
                   "image size)",
                   what, bytes / 1e9, (double)avail / 1e9);
}

void *nn_alloc(size_t bytes, const char *what) {
    /* Large requests are checked first: with overcommit malloc would say
     * yes and the kernel's OOM killer end the job later, with no message. */
    if (nn_check_memory((double)bytes, what) != NN_OK) return NULL;
    void *p = malloc(bytes ? bytes : 1);
    if (!p) nn_fail("out of memory allocating %zu bytes for %s", bytes, what);
    return p;
}

void *nn_calloc(size_t n, size_t size, const char *what) {
    if (nn_check_memory((double)n * (double)size, what) != NN_OK) return NULL;
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) nn_fail("out of memory allocating %zu x %zu bytes for %s", n, size, what);
    return p;
}

const char *nn_escaped(const char *s, size_t max, char *buf, size_t n) {
    size_t o = 0, i = 0;
    for (; s[i] && i < max && o + 5 < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f)
            buf[o++] = (char)c;
        else
            o += (size_t)snprintf(buf + o, n - o, "\\x%02x", c);
    }
    if (s[i] && o + 4 < n) memcpy(buf + o, "...", 3), o += 3;
    buf[o] = 0;
    return buf;
}
