/* Opening a file to read it whole (configs, presets, lists): only a regular file is accepted,
 * so a folder, FIFO or device given by mistake is refused at once instead of hanging or
 * failing later with an unrelated message. */
#ifndef VE_IO_FILE_OPEN_H
#define VE_IO_FILE_OPEN_H

#include <stdio.h>

/* fopen(path, "rb") for a regular file; NULL with ve_fail("cannot open WHAT PATH: ...") or
 * "WHAT PATH is not a regular file (a folder, FIFO or device?)". */
FILE *ve_fopen_regular(const char *path, const char *what);

#endif
