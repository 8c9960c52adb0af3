/* Stored zip entries laid out byte for byte as PyTorch 1.13's miniz writes them (see
 * zip_write.h): local header with zeroed CRC and sizes, "FB" padding so the data starts on a
 * 64-byte boundary, the data, a data descriptor, and at the end the central directory, a ZIP64
 * end record and locator, and the classic end record. */
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "status.h"
#include "zip_write.h"

#define LOCAL_SIG 0x04034b50u
#define DESCRIPTOR_SIG 0x08074b50u
#define CDIR_SIG 0x02014b50u
#define ZIP64_END_SIG 0x06064b50u
#define ZIP64_LOCATOR_SIG 0x07064b50u
#define EOCD_SIG 0x06054b50u
#define LOCAL_SIZE 30
#define CDIR_SIZE 46
#define FLAG_UTF8 0x0800       /* bit 11: UTF-8 names */
#define FLAG_DESCRIPTOR 0x0008 /* bit 3: CRC and sizes in a data descriptor after the data */
#define ALIGN 64
#define ZIP64_EXTRA_ID 0x0001
#define MAX_ZIP64_EXTRA (4 + 3 * 8)

static uint8_t *put16(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    return p + 2;
}

static uint8_t *put32(uint8_t *p, uint32_t v) {
    return put16(put16(p, v & 0xffff), v >> 16);
}

static uint8_t *put64(uint8_t *p, uint64_t v) {
    return put32(put32(p, (uint32_t)v), (uint32_t)(v >> 32));
}

/* A 32-bit field: the value, or 0xffffffff when it lives in the ZIP64 extra field. */
static uint32_t field32(const ve_zip_writer *z, uint64_t v) {
    return v >= z->zip64_at ? 0xffffffffu : (uint32_t)v;
}

/* The ZIP64 extra field for the sizes and offset that need it (miniz's order: size, compressed
 * size, local header offset); 0 bytes when none does. */
static size_t zip64_extra(const ve_zip_writer *z, uint8_t *p, uint64_t size, uint64_t offset) {
    int big_size = size >= z->zip64_at, big_off = offset >= z->zip64_at;
    if (!big_size && !big_off) return 0;
    uint8_t *q = put16(put16(p, ZIP64_EXTRA_ID), 8u * (big_size ? 2 : 0) + (big_off ? 8 : 0));
    if (big_size) q = put64(put64(q, size), size);
    if (big_off) q = put64(q, offset);
    return (size_t)(q - p);
}

int ve_zipw_open(ve_zip_writer *z, const char *path, uint64_t zip64_at) {
    memset(z, 0, sizeof *z);
    z->zip64_at = zip64_at;
    return ve_atomic_open(&z->f, path);
}

/* Flags as miniz sets them: no data descriptor for an empty entry. */
static uint32_t entry_flags(uint64_t size) {
    return size ? FLAG_UTF8 | FLAG_DESCRIPTOR : FLAG_UTF8;
}

static int write_local_header(ve_zip_writer *z, const char *name, size_t name_len, uint64_t size) {
    uint8_t h[LOCAL_SIZE], extra[MAX_ZIP64_EXTRA + 4 + ALIGN];
    size_t n64 = zip64_extra(z, extra, size, z->pos);
    uint64_t data_at = z->pos + LOCAL_SIZE + name_len + n64 + 4;
    uint32_t pad = (uint32_t)((ALIGN - data_at % ALIGN) % ALIGN);
    uint8_t *q = put16(put16(extra + n64, 'F' | 'B' << 8), pad);
    memset(q, 'Z', pad);
    size_t n_extra = n64 + 4 + pad;
    uint8_t *p = put32(h, LOCAL_SIG);
    p = put16(put16(put16(p, 0), entry_flags(size)), 0); /* version needed, flags, stored */
    p = put32(put32(p, 0), 0);                           /* time and date, CRC */
    p = put32(put32(p, 0), 0);                           /* sizes: in the data descriptor */
    put16(put16(p, (uint32_t)name_len), (uint32_t)n_extra);
    if (ve_atomic_write(&z->f, h, LOCAL_SIZE) != VE_OK ||
        ve_atomic_write(&z->f, name, name_len) != VE_OK ||
        ve_atomic_write(&z->f, extra, n_extra) != VE_OK)
        return VE_FAIL;
    z->pos += LOCAL_SIZE + name_len + n_extra;
    return VE_OK;
}

int ve_zipw_add(ve_zip_writer *z, const char *name, const void *data, uint64_t n) {
    size_t name_len = strlen(name);
    if (name_len == 0 || name_len > 0xffff)
        return ve_fail("zip entry name of %zu bytes (1 to 65535)", name_len);
    if (z->n == z->cap) {
        int cap = z->cap ? 2 * z->cap : 64;
        ve_zipw_entry *ne = realloc(z->e, (size_t)cap * sizeof *ne);
        if (!ne) return ve_fail("out of memory for %d zip entries", cap);
        z->e = ne;
        z->cap = cap;
    }
    ve_zipw_entry *e = &z->e[z->n];
    e->name = strdup(name);
    if (!e->name) return ve_fail("out of memory");
    z->n++;
    e->offset = z->pos;
    e->size = n;
    e->crc = (uint32_t)crc32_z(0, data, (z_size_t)n);
    if (write_local_header(z, name, name_len, n) != VE_OK ||
        ve_atomic_write(&z->f, data, (size_t)n) != VE_OK)
        return VE_FAIL;
    if (n == 0) return VE_OK;
    uint8_t d[24];
    uint8_t *p = put32(put32(d, DESCRIPTOR_SIG), e->crc);
    if (n >= z->zip64_at || e->offset >= z->zip64_at)
        p = put64(put64(p, n), n);
    else
        p = put32(put32(p, (uint32_t)n), (uint32_t)n);
    z->pos += n + (uint64_t)(p - d);
    return ve_atomic_write(&z->f, d, (size_t)(p - d));
}

/* One central directory record at p; returns its end. */
static uint8_t *put_cdir_record(const ve_zip_writer *z, uint8_t *p, const ve_zipw_entry *e) {
    uint8_t extra[MAX_ZIP64_EXTRA];
    size_t n64 = zip64_extra(z, extra, e->size, e->offset), name_len = strlen(e->name);
    p = put32(p, CDIR_SIG);
    /* made by, needed, flags, method (stored); time and date, CRC */
    p = put16(put16(put16(put16(p, 0), 0), entry_flags(e->size)), 0);
    p = put32(put32(p, 0), e->crc);
    p = put32(put32(p, field32(z, e->size)), field32(z, e->size));
    p = put16(put16(put16(p, (uint32_t)name_len), (uint32_t)n64), 0); /* no comment */
    p = put32(put16(put16(p, 0), 0), 0); /* disk, internal and external attributes */
    p = put32(p, field32(z, e->offset));
    memcpy(p, e->name, name_len);
    memcpy(p + name_len, extra, n64);
    return p + name_len + n64;
}

/* Central directory, ZIP64 end record and locator, classic end record. */
static int write_directory(ve_zip_writer *z) {
    size_t cap = 56 + 20 + 22;
    for (int i = 0; i < z->n; i++)
        cap += CDIR_SIZE + strlen(z->e[i].name) + MAX_ZIP64_EXTRA;
    uint8_t *buf = malloc(cap), *p = buf;
    if (!buf) return ve_fail("out of memory for a zip directory of %zu bytes", cap);
    for (int i = 0; i < z->n; i++)
        p = put_cdir_record(z, p, &z->e[i]);
    uint64_t cd_pos = z->pos, cd_size = (uint64_t)(p - buf), end64 = cd_pos + cd_size;
    uint64_t count = (uint64_t)z->n;
    p = put64(put32(p, ZIP64_END_SIG), 56 - 12);           /* the record's size after this field */
    p = put32(put32(put16(put16(p, 0x031e), 0x2d), 0), 0); /* made by, needed, disks */
    p = put64(put64(put64(put64(p, count), count), cd_size), cd_pos);
    p = put32(put64(put32(put32(p, ZIP64_LOCATOR_SIG), 0), end64), 1);
    uint32_t count16 = count >= 0xffff ? 0xffff : (uint32_t)count;
    p = put16(put16(put16(put16(put32(p, EOCD_SIG), 0), 0), count16), count16);
    p = put16(put32(put32(p, field32(z, cd_size)), field32(z, cd_pos)), 0); /* no comment */
    int rc = ve_atomic_write(&z->f, buf, (size_t)(p - buf));
    free(buf);
    return rc;
}

static void free_entries(ve_zip_writer *z) {
    for (int i = 0; i < z->n; i++)
        free(z->e[i].name);
    free(z->e);
    z->e = NULL;
    z->n = z->cap = 0;
}

int ve_zipw_commit(ve_zip_writer *z) {
    int rc = write_directory(z);
    if (rc == VE_OK) rc = ve_atomic_commit(&z->f);
    if (rc != VE_OK) ve_atomic_abort(&z->f);
    free_entries(z);
    return rc;
}

void ve_zipw_abort(ve_zip_writer *z) {
    ve_atomic_abort(&z->f);
    free_entries(z);
}
