/* Plain or gzip sequential reads (see byte_stream.h). gzip goes through zlib's inflate with the
 * compressed bytes fed from bounded file reads; concatenated gzip members are one stream, as
 * gzip(1) treats them. */
#include <stdlib.h>
#include <string.h>

#include "byte_stream.h"
#include "status.h"

int ve_stream_open(ve_stream *s, const char *path) {
    memset(s, 0, sizeof *s);
    s->f.fd = -1;
    if (ve_file_open(&s->f, path) != VE_OK) return VE_FAIL;
    uint8_t magic[2] = {0, 0};
    if (s->f.size >= 2 && ve_file_read_at(&s->f, 0, magic, 2) != VE_OK) {
        ve_file_close(&s->f);
        return VE_FAIL;
    }
    s->gz = magic[0] == 0x1f && magic[1] == 0x8b;
    if (s->gz) {
        if (inflateInit2(&s->z, 15 + 16) != Z_OK) {
            ve_file_close(&s->f);
            return ve_fail("zlib initialisation failed");
        }
        s->z_init = 1;
    }
    return VE_OK;
}

void ve_stream_close(ve_stream *s) {
    if (s->z_init) inflateEnd(&s->z);
    s->z_init = 0;
    ve_file_close(&s->f);
}

/* Refills the compressed input; 0 bytes when the file is exhausted. */
static int refill(ve_stream *s) {
    uint64_t left = s->f.size - s->pos;
    size_t n = left < sizeof s->in ? (size_t)left : sizeof s->in;
    if (n && ve_file_read_at(&s->f, s->pos, s->in, n) != VE_OK) return VE_FAIL;
    s->pos += n;
    s->z.next_in = s->in;
    s->z.avail_in = (uInt)n;
    return VE_OK;
}

/* Decompresses n bytes into dst (NULL: discard). *got says how many arrived before the end of
 * the stream, which is an error only when want_all is set. */
static int inflate_n(ve_stream *s, uint8_t *dst, size_t n, size_t *got, int want_all) {
    uint8_t sink[1 << 14];
    *got = 0;
    while (*got < n) {
        if (s->z_end) break;
        if (s->z.avail_in == 0 && refill(s) != VE_OK) return VE_FAIL;
        /* inflate may still hold output (a match in progress) with no input left */
        int eof = s->z.avail_in == 0;
        size_t chunk = n - *got;
        if (!dst && chunk > sizeof sink) chunk = sizeof sink;
        if (chunk > (1u << 30)) chunk = 1u << 30;
        s->z.next_out = dst ? dst + *got : sink;
        s->z.avail_out = (uInt)chunk;
        int zr = inflate(&s->z, Z_NO_FLUSH);
        size_t produced = chunk - s->z.avail_out;
        *got += produced;
        if (zr == Z_STREAM_END) {
            /* Another member follows only if the gzip magic does; anything else is trailing
             * padding, ignored as gzip(1) does. */
            if (s->z.avail_in == 0 && refill(s) != VE_OK) return VE_FAIL;
            if (s->z.avail_in >= 2 && s->z.next_in[0] == 0x1f && s->z.next_in[1] == 0x8b)
                inflateReset(&s->z);
            else
                s->z_end = 1;
        } else if (zr == Z_DATA_ERROR || zr == Z_NEED_DICT) {
            return ve_fail("corrupt gzip data after %llu decompressed bytes: %s",
                           (unsigned long long)(s->out + *got),
                           s->z.msg ? s->z.msg : "invalid data");
        } else if (zr == Z_MEM_ERROR) {
            return ve_fail("zlib: out of memory");
        } else if (zr != Z_OK && zr != Z_BUF_ERROR) {
            return ve_fail("zlib error %d", zr);
        } else if (eof && produced == 0) {
            s->out += *got;
            if (want_all)
                return ve_fail("gzip data ends early (truncated .gz?): %llu bytes "
                               "decompressed, %llu needed",
                               (unsigned long long)s->out,
                               (unsigned long long)(s->out + (n - *got)));
            return ve_fail("gzip data ends early (truncated .gz?): no end of stream after %llu "
                           "bytes",
                           (unsigned long long)s->out);
        }
    }
    s->out += *got;
    if (want_all && *got < n)
        return ve_fail("decompressed data ends at byte %llu, %llu more needed",
                       (unsigned long long)s->out, (unsigned long long)(n - *got));
    return VE_OK;
}

int ve_stream_read(ve_stream *s, void *dst, size_t n) {
    if (!s->gz) {
        if (ve_file_read_at(&s->f, s->pos, dst, n) != VE_OK) return VE_FAIL;
        s->pos += n;
        s->out += n;
        return VE_OK;
    }
    size_t got;
    return inflate_n(s, dst, n, &got, 1);
}

int ve_stream_skip(ve_stream *s, uint64_t n) {
    if (!s->gz) {
        if (n > s->f.size - s->pos)
            return ve_fail("skipping %llu bytes at offset %llu runs past the end of the file "
                           "(%llu bytes)",
                           (unsigned long long)n, (unsigned long long)s->pos,
                           (unsigned long long)s->f.size);
        s->pos += n;
        s->out += n;
        return VE_OK;
    }
    size_t got;
    while (n > 0) {
        size_t step = n > (1u << 30) ? (1u << 30) : (size_t)n;
        if (inflate_n(s, NULL, step, &got, 1) != VE_OK) return VE_FAIL;
        n -= step;
    }
    return VE_OK;
}

int ve_stream_finish(ve_stream *s, uint64_t max_rest) {
    if (!s->gz) return VE_OK;
    size_t got;
    if (inflate_n(s, NULL, (size_t)max_rest + 1, &got, 0) != VE_OK) return VE_FAIL;
    if (!s->z_end)
        return ve_fail("more than %llu bytes of data after the volume",
                       (unsigned long long)max_rest);
    return VE_OK;
}
