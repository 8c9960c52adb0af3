/* A sequential reader over a plain or gzip-compressed file (detected by the gzip magic, not the
 * name), for the NIfTI loader. Every read either delivers exactly the bytes asked for or fails
 * naming how far the data went: a truncated or corrupt .gz is an error, never zeros. Not
 * public. */
#ifndef VE_IO_BYTE_STREAM_H
#define VE_IO_BYTE_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include <zlib.h>

#include "io_internal.h"

typedef struct {
    ve_file f;
    int gz;
    uint64_t pos; /* next byte of the file to read */
    uint64_t out; /* bytes delivered so far (the position in the decompressed data) */
    int z_init, z_end;
    z_stream z;
    uint8_t in[1 << 16];
} ve_stream;

int ve_stream_open(ve_stream *s, const char *path);
int ve_stream_read(ve_stream *s, void *dst, size_t n);
int ve_stream_skip(ve_stream *s, uint64_t n);
/* gzip: decompresses to the end of the stream (at most max_rest more bytes, discarded) so the
 * CRC and length are verified. Plain files: nothing. */
int ve_stream_finish(ve_stream *s, uint64_t max_rest);
void ve_stream_close(ve_stream *s);

#endif
