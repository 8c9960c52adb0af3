/* Writing a zip archive of stored (uncompressed) entries the way torch.save does (miniz inside
 * PyTorch 1.13): each entry's data aligned to 64 bytes by an "FB" padding extra field, a data
 * descriptor after the data of a non-empty entry (flags 0x0808; 0x0800 for an empty one),
 * CRC-32 from zlib, a ZIP64 extra field only for sizes or offsets that need one, and a ZIP64 end
 * record in every archive. The
 * archive goes through engine/io/atomic_file.h, so a failure never leaves a partial file at
 * PATH. Not public: used by the `.pth` writer. */
#ifndef VE_IO_ZIP_WRITE_H
#define VE_IO_ZIP_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "atomic_file.h"

/* The value at which sizes and offsets no longer fit a classic 32-bit zip field. */
#define VE_ZIP64_AT UINT64_C(0xffffffff)

typedef struct {
    char *name;
    uint64_t offset, size; /* of its local header; of its data */
    uint32_t crc;
} ve_zipw_entry;

typedef struct {
    ve_atomic_file f;
    uint64_t pos; /* bytes written so far */
    /* VE_ZIP64_AT; tests lower it to exercise the ZIP64 fields. (miniz, inside torch, refuses
     * an entry whose offset alone is in a ZIP64 field unless the archive passes 4 GiB, so only
     * 0, where every field is, gives a small file torch.load reads.) */
    uint64_t zip64_at;
    ve_zipw_entry *e;
    int n, cap;
} ve_zip_writer;

/* Creates PATH.tmp (nothing is left behind on failure). zip64_at: normally VE_ZIP64_AT. */
int ve_zipw_open(ve_zip_writer *z, const char *path, uint64_t zip64_at);
/* Appends one stored entry holding n bytes (name: 1 to 65535 bytes of UTF-8). */
int ve_zipw_add(ve_zip_writer *z, const char *name, const void *data, uint64_t n);
/* Writes the central directory and end records, then commits PATH atomically. On failure the
 * temporary is removed. Frees the writer either way. */
int ve_zipw_commit(ve_zip_writer *z);
/* Drops everything (safe after a failed commit). */
void ve_zipw_abort(ve_zip_writer *z);

#endif
