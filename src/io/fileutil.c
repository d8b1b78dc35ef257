/* fileutil.c: atomic file replacement and mkdir -p. */
#define _POSIX_C_SOURCE 200809L
#include "nn/fileutil.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nn/error.h"

FILE *nn_open_temp(const char *path, char *tmp, size_t n) {
    snprintf(tmp, n, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) nn_fail("%s: cannot create (%s)", tmp, strerror(errno));
    return f;
}

static int fsync_path(const char *p, int flags) {
    int fd = open(p, flags);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

int nn_fsync_rename(const char *tmp, const char *path) {
    if (fsync_path(tmp, O_RDONLY) != 0) {
        int e = errno;
        unlink(tmp);
        return nn_fail("%s: fsync failed (%s)", tmp, strerror(e));
    }
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return nn_fail("%s: cannot rename to %s (%s)", tmp, path, strerror(e));
    }
    char *copy = strdup(path);
    if (copy) {
        fsync_path(dirname(copy), O_RDONLY | O_DIRECTORY); /* best effort */
        free(copy);
    }
    return NN_OK;
}

int nn_commit_temp(FILE *f, const char *tmp, const char *path) {
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        int e = errno;
        unlink(tmp);
        return nn_fail("%s: write failed (%s)", tmp, strerror(e));
    }
    return nn_fsync_rename(tmp, path);
}

int nn_mkdirs(const char *dir) {
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", dir);
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || *p == 0) {
            char c = *p;
            *p = 0;
            if (mkdir(buf, 0755) != 0 && errno != EEXIST)
                return nn_fail("%s: cannot create folder (%s)", buf, strerror(errno));
            *p = c;
            if (!c) break;
        }
    }
    return NN_OK;
}
