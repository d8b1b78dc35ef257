/* fileutil.h: writing files so that a crash never leaves a torn one:
 * write to "<path>.tmp.<pid>", fsync, rename over <path>, fsync the folder. */
#ifndef NN_FILEUTIL_H
#define NN_FILEUTIL_H

#include <stddef.h>
#include <stdio.h>

/* Open a temp file next to path (tmp receives its name). NULL + message on error. */
FILE *nn_open_temp(const char *path, char *tmp, size_t tmp_size);
/* Flush, fsync, close and rename tmp over path; removes tmp on failure. */
int nn_commit_temp(FILE *f, const char *tmp, const char *path);
/* fsync a file by name, rename it over path, fsync the folder. */
int nn_fsync_rename(const char *tmp, const char *path);
/* mkdir -p. */
int nn_mkdirs(const char *dir);

#endif
