/* fileutil.c: atomic file replacement, stale temp clean-up and mkdir -p.
 * Paths are never cut to fit a buffer: they are allocated, or a name that
 * does not fit is an error naming it and its length. */
#define _POSIX_C_SOURCE 200809L
#include "nn/fileutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <unistd.h>

#include "nn/error.h"

#ifndef PATH_MAX
#define PATH_MAX 4096
#endif

char *nn_strfmt(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (!s) {
        nn_fail("out of memory formatting a %d-byte string", n);
        return NULL;
    }
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

char *nn_temp_path(const char *path) { return nn_strfmt("%s.tmp.%ld", path, (long)getpid()); }

/* The folder holding path (malloc'd), "." for a bare name. */
static char *folder_of(const char *path) {
    char *copy = strdup(path);
    if (!copy) return NULL;
    char *d = strdup(dirname(copy));
    free(copy);
    return d;
}

int nn_write_errno(int err, const char *path) {
    if (err) return err;
    char *dir = folder_of(path);
    struct statvfs vs;
    int full = dir && statvfs(dir, &vs) == 0 && (vs.f_bavail == 0 || vs.f_favail == 0);
    free(dir);
    return full ? ENOSPC : 0;
}

/* A pid as a temp suffix writes it: decimal, no sign, no leading zero. */
static long parse_pid(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n > 10 || s[0] == '0' || strspn(s, "0123456789") != n) return -1;
    long v = strtol(s, NULL, 10);
    return v > 0 && v <= INT_MAX ? v : -1;
}

int nn_remove_stale_temps(const char *path) {
    char *dcopy = strdup(path), *bcopy = strdup(path);
    char *dir = dcopy ? dirname(dcopy) : NULL, *base = bcopy ? basename(bcopy) : NULL;
    int removed = 0;
    DIR *d = dir && base ? opendir(dir) : NULL;
    if (!d) {
        int e = errno;
        int rc = !dir || !base ? nn_fail("out of memory looking for stale temps of %s", path)
                 : e == ENOENT || e == ENOTDIR
                     ? 0
                     : nn_fail("%s: cannot list the folder to remove stale temps (%s)", dir,
                               strerror(e));
        free(dcopy);
        free(bcopy);
        return rc;
    }
    size_t bl = strlen(base);
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *n = e->d_name;
        if (strncmp(n, base, bl) != 0 || strncmp(n + bl, ".tmp.", 5) != 0) continue;
        long pid = parse_pid(n + bl + 5);
        if (pid < 0) continue;
        errno = 0;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue; /* alive (or not ours to know) */
        char *full = nn_strfmt("%s/%s", dir, n);
        struct stat st;
        if (full && lstat(full, &st) == 0 && S_ISREG(st.st_mode) && unlink(full) == 0) removed++;
        free(full);
    }
    closedir(d);
    free(dcopy);
    free(bcopy);
    return removed;
}

FILE *nn_open_temp(const char *path, char *tmp, size_t n) {
    int len = snprintf(tmp, n, "%s.tmp.%ld", path, (long)getpid());
    if (len < 0 || (size_t)len >= n) {
        if (n) tmp[0] = 0;
        nn_fail("%s: path too long: its temp name has %d characters, the buffer holds %zu", path,
                len, n ? n - 1 : 0);
        return NULL;
    }
    nn_remove_stale_temps(path); /* best effort: a folder we cannot list fails below */
    FILE *f = fopen(tmp, "wb");
    if (!f) nn_fail("%s: cannot create (%s)", tmp, strerror(errno));
    return f;
}

static int fsync_path(const char *p, int flags) {
    int fd = open(p, flags);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

/* rename tmp over path and fsync the folder (tmp itself is synced). */
static int rename_synced(const char *tmp, const char *path) {
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return nn_fail("%s: cannot rename to %s (%s)", tmp, path, strerror(e));
    }
    char *dir = folder_of(path);
    if (dir) fsync_path(dir, O_RDONLY | O_DIRECTORY); /* best effort */
    free(dir);
    return NN_OK;
}

int nn_fsync_rename(const char *tmp, const char *path) {
    if (fsync_path(tmp, O_RDONLY) != 0) {
        int e = nn_write_errno(errno, tmp);
        unlink(tmp);
        return nn_fail("%s: fsync failed (%s); %s is left as it was", tmp, strerror(e), path);
    }
    return rename_synced(tmp, path);
}

int nn_commit_temp(FILE *f, const char *tmp, const char *path) {
    /* An earlier failed write may have left only the error flag, errno long
     * overwritten: flushing retries what is buffered, and a full disk is
     * recognised by statvfs when no call reports it. */
    int bad = ferror(f), e = 0;
    errno = 0;
    if (fflush(f) != 0)
        e = errno;
    else if (fsync(fileno(f)) != 0)
        e = errno;
    if (fclose(f) != 0 && !e) e = errno;
    if (bad || e) {
        e = nn_write_errno(e, tmp);
        unlink(tmp);
        return nn_fail("%s: write failed (%s); %s is left as it was", tmp,
                       e ? strerror(e) : "an I/O error with no reason given", path);
    }
    return rename_synced(tmp, path);
}

int nn_mkdirs(const char *dir) {
    size_t len = strlen(dir);
    if (len == 0) return nn_fail("cannot create a folder with an empty name");
    if (len >= PATH_MAX)
        return nn_fail("%.200s...: folder path of %zu characters, longer than the system limit "
                       "of %d (PATH_MAX)",
                       dir, len, PATH_MAX - 1);
    char *buf = strdup(dir);
    if (!buf) return nn_fail("out of memory creating %s", dir);
    int rc = NN_OK;
    for (char *p = buf + 1; rc == NN_OK; p++) {
        if (*p == '/' || *p == 0) {
            char c = *p;
            *p = 0;
            if (mkdir(buf, 0755) != 0 && errno != EEXIST)
                rc = nn_fail("%s: cannot create folder (%s)", buf, strerror(errno));
            *p = c;
            if (!c) break;
        }
    }
    free(buf);
    struct stat st;
    if (rc == NN_OK && (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)))
        rc = nn_fail("%s: exists and is not a folder", dir);
    return rc;
}

const char *nn_file_kind(unsigned mode) {
    const mode_t m = (mode_t)mode;
    return S_ISDIR(m)    ? "a folder"
           : S_ISFIFO(m) ? "a FIFO (named pipe)"
           : S_ISCHR(m)  ? "a character device"
           : S_ISBLK(m)  ? "a block device"
           : S_ISSOCK(m) ? "a socket"
                         : "not a plain file";
}

/* The open does not block (O_NONBLOCK: a FIFO put in place of the file
 * would block a plain open), and what was opened is checked with fstat,
 * race-free. */
int nn_read_regular(const char *path, unsigned long long max, const char *expected,
                    nn_filebuf *b) {
    b->n = 0;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return nn_fail("%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    int rc = NN_OK;
    if (fstat(fd, &st) != 0) {
        rc = nn_fail("%s: cannot stat: %s", path, strerror(errno));
    } else if (!S_ISREG(st.st_mode)) {
        rc = nn_fail("%s: not a regular file (%s); expected %s", path, nn_file_kind(st.st_mode),
                     expected);
    } else if ((unsigned long long)st.st_size > max) {
        rc = nn_fail("%s: %llu bytes, more than the %llu accepted for %s", path,
                     (unsigned long long)st.st_size, max, expected);
    } else {
        size_t size = (size_t)st.st_size;
        if (size + 1 > b->cap) {
            unsigned char *d = realloc(b->data, size + 1);
            if (!d)
                rc = nn_fail("out of memory reading %s (%zu bytes)", path, size);
            else
                b->data = d, b->cap = size + 1;
        }
        while (rc == NN_OK && b->n < size) {
            ssize_t r = read(fd, b->data + b->n, size - b->n);
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0)
                rc = nn_fail("%s: read error after %zu of %zu bytes%s%s", path, b->n, size,
                             r < 0 ? ": " : " (the file shrank)", r < 0 ? strerror(errno) : "");
            else
                b->n += (size_t)r;
        }
    }
    close(fd);
    return rc;
}
