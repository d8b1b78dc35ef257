/* fileutil.h: writing files so that a crash never leaves a torn one:
 * write to "<path>.tmp.<pid>", fsync, rename over <path>, fsync the folder.
 * Temp files that a killed writer left behind are removed by the next writer
 * of the same path (nn_remove_stale_temps). No function here cuts a path to
 * fit a buffer: a name that does not fit is an error naming it. */
#ifndef NN_FILEUTIL_H
#define NN_FILEUTIL_H

#include <stddef.h>
#include <stdio.h>

#include "nn/error.h"

/* "<path>.tmp.<pid>", malloc'd; NULL + message when out of memory. */
char *nn_temp_path(const char *path);
/* Open a temp file next to path (tmp receives its name; fails, creating
 * nothing, when the name does not fit in tmp_size). Removes stale temps of
 * path first. NULL + message on error. */
FILE *nn_open_temp(const char *path, char *tmp, size_t tmp_size);
/* Flush, fsync, close and rename tmp over path; removes tmp on failure, with
 * the OS reason in the message (e.g. "No space left on device"). */
int nn_commit_temp(FILE *f, const char *tmp, const char *path);
/* fsync a file by name, rename it over path, fsync the folder. */
int nn_fsync_rename(const char *tmp, const char *path);
/* mkdir -p (any length the system accepts; longer is an error naming the
 * length and the limit). Fails when the path exists and is not a folder. */
int nn_mkdirs(const char *dir);

/* Remove the files "<path>.tmp.<pid>" next to path whose pid is no live
 * process (kill(pid, 0) fails with ESRCH): what a writer killed mid-save left.
 * Only regular files of exactly that pattern (pid in decimal) are touched; a
 * temp of a live process, this one included, stays. (A writer on another host
 * or in another PID namespace sharing the folder would look dead: two writers
 * of one path are an error anyway, which the trainer's lock prevents.) Returns
 * how many were
 * removed (0 when the folder does not exist), -1 + message when the folder
 * cannot be read. */
int nn_remove_stale_temps(const char *path);
/* Why writing to path failed: err when nonzero, else ENOSPC when the file
 * system holding path has no free block or inode left (statvfs), else 0. */
int nn_write_errno(int err, const char *path);
/* What a stat mode that is not a regular file is, for messages ("a FIFO
 * (named pipe)", "a folder", ...). */
const char *nn_file_kind(unsigned mode);
/* A whole file in memory; the buffer is reused (grown) between reads. */
typedef struct {
    unsigned char *data;
    size_t n, cap;
} nn_filebuf;
/* Read the regular file at path (at most max bytes) into b. A FIFO, device
 * or folder is refused without blocking ("not a regular file ...; expected
 * <expected>"), as is a larger file; errors name the path. */
int nn_read_regular(const char *path, unsigned long long max, const char *expected,
                    nn_filebuf *b);
/* printf into a malloc'd string; NULL + message when out of memory. */
char *nn_strfmt(const char *fmt, ...) NN_PRINTF(1, 2);

#endif
