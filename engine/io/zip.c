/* The central directory of a zip archive, as torch.save writes it: stored (uncompressed)
 * entries, no encryption, ZIP64 records (torch writes a ZIP64 end record in every archive, and
 * 64-bit entry sizes past 4 GiB). Every size and offset is checked against the file. */
#include <stdlib.h>
#include <string.h>

#include "io_internal.h"
#include "status.h"

#define EOCD_SIG 0x06054b50u
#define CDIR_SIG 0x02014b50u
#define LOCAL_SIG 0x04034b50u
#define ZIP64_LOCATOR_SIG 0x07064b50u
#define ZIP64_END_SIG 0x06064b50u
#define ZIP64_LOCATOR_SIZE 20
#define ZIP64_END_SIZE 56
#define ZIP64_EXTRA_ID 0x0001
#define EOCD_SIZE 22
#define CDIR_SIZE 46
#define LOCAL_SIZE 30
#define MAX_CDIR_BYTES ((uint64_t)64 << 20)
#define MAX_ENTRY_NAME 1024

static uint32_t rd16(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}

static uint32_t rd32(const uint8_t *p) {
    return rd16(p) | rd16(p + 2) << 16;
}

static uint64_t rd64(const uint8_t *p) {
    return rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

uint32_t ve_crc32(const uint8_t *p, size_t n) {
    uint32_t table[256];
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
        table[i] = c;
    }
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++)
        c = table[(c ^ p[i]) & 0xff] ^ (c >> 8);
    return c ^ 0xffffffffu;
}

typedef struct {
    uint64_t count, cd_size, cd_pos;
    uint64_t end; /* the directory must end before this (its end record) */
} dir_info;

/* The ZIP64 end record the locator points at (torch writes one for every archive). */
static int read_zip64_end(const ve_file *f, const uint8_t *loc, uint64_t loc_pos, dir_info *d) {
    uint8_t r[ZIP64_END_SIZE] = {0};
    uint64_t pos = rd64(loc + 8);
    if (rd32(loc + 4) != 0 || rd32(loc + 16) > 1)
        return ve_fail("zip: multi-disk archives are not supported");
    if (pos > loc_pos || loc_pos - pos < ZIP64_END_SIZE ||
        ve_file_read_at(f, pos, r, ZIP64_END_SIZE) != VE_OK || rd32(r) != ZIP64_END_SIG)
        return ve_fail("zip: no ZIP64 end record at offset %llu", (unsigned long long)pos);
    if (rd32(r + 16) != 0 || rd32(r + 20) != 0 || rd64(r + 24) != rd64(r + 32))
        return ve_fail("zip: multi-disk archives are not supported");
    d->count = rd64(r + 32);
    d->cd_size = rd64(r + 40);
    d->cd_pos = rd64(r + 48);
    d->end = pos;
    return VE_OK;
}

/* The end-of-central-directory record: the last one whose comment ends exactly at the end. */
static int find_directory(const ve_file *f, dir_info *d) {
    if (f->size < EOCD_SIZE)
        return ve_fail("zip: file of %llu bytes is too short for an "
                       "archive",
                       (unsigned long long)f->size);
    uint64_t span = f->size < EOCD_SIZE + 65535 ? f->size : EOCD_SIZE + 65535;
    uint8_t *tail = malloc(span);
    if (!tail) return ve_fail("out of memory");
    if (ve_file_read_at(f, f->size - span, tail, span) != VE_OK) {
        free(tail);
        return VE_FAIL;
    }
    int rc = ve_fail("zip: no end-of-central-directory record (truncated or not a zip file)");
    for (uint64_t i = span - EOCD_SIZE + 1; i-- > 0;) {
        const uint8_t *e = tail + i;
        if (rd32(e) != EOCD_SIG || i + EOCD_SIZE + rd16(e + 20) != span) continue;
        d->count = rd16(e + 10);
        d->cd_size = rd32(e + 12);
        d->cd_pos = rd32(e + 16);
        d->end = f->size - span + i;
        if (rd16(e + 4) != 0 || rd16(e + 6) != 0 || rd16(e + 8) != d->count)
            rc = ve_fail("zip: multi-disk archives are not supported");
        else if (i >= ZIP64_LOCATOR_SIZE && rd32(e - ZIP64_LOCATOR_SIZE) == ZIP64_LOCATOR_SIG) {
            dir_info d32 = *d;
            rc = read_zip64_end(f, e - ZIP64_LOCATOR_SIZE, d->end - ZIP64_LOCATOR_SIZE, d);
            /* Fields not saturated in the classic record must agree with the ZIP64 ones. */
            if (rc == VE_OK && ((d32.count != 0xffff && d32.count != d->count) ||
                                (d32.cd_size != 0xffffffffu && d32.cd_size != d->cd_size) ||
                                (d32.cd_pos != 0xffffffffu && d32.cd_pos != d->cd_pos)))
                rc = ve_fail("zip: the end record and the ZIP64 end record disagree on the "
                             "central directory");
        } else if (d->count == 0xffff || d->cd_size == 0xffffffffu || d->cd_pos == 0xffffffffu)
            rc = ve_fail("zip: ZIP64 sizes in the end record but no ZIP64 locator");
        else
            rc = VE_OK;
        break;
    }
    free(tail);
    return rc;
}

/* Parses the local header of e (name already known) to find where its data starts. */
static int locate_data(const ve_file *f, ve_zip_entry *e, uint64_t local, uint64_t data_end) {
    uint8_t h[LOCAL_SIZE] = {0};
    size_t name_len = strlen(e->name);
    if (local > data_end || data_end - local < LOCAL_SIZE ||
        ve_file_read_at(f, local, h, LOCAL_SIZE) != VE_OK)
        return ve_fail("zip: entry '%s': local header at offset %llu is outside the archive",
                       e->name, (unsigned long long)local);
    if (rd32(h) != LOCAL_SIG)
        return ve_fail("zip: entry '%s': bad local header signature at offset %llu", e->name,
                       (unsigned long long)local);
    if (rd16(h + 26) != name_len)
        return ve_fail("zip: entry '%s': local header at offset %llu names another entry", e->name,
                       (unsigned long long)local);
    char name[MAX_ENTRY_NAME];
    if (data_end - local - LOCAL_SIZE < name_len ||
        ve_file_read_at(f, local + LOCAL_SIZE, name, name_len) != VE_OK ||
        memcmp(name, e->name, name_len) != 0)
        return ve_fail("zip: entry '%s': local header at offset %llu names another entry", e->name,
                       (unsigned long long)local);
    e->pos = local + LOCAL_SIZE + name_len + rd16(h + 28);
    if (e->pos > data_end || e->size > data_end - e->pos)
        return ve_fail("zip: entry '%s': %llu bytes at offset %llu run past the end of the "
                       "data (%llu)",
                       e->name, (unsigned long long)e->size, (unsigned long long)e->pos,
                       (unsigned long long)data_end);
    return VE_OK;
}

/* Replaces the 32-bit fields saturated at 0xffffffff by their 64-bit values from the ZIP64
 * extra field (present, in this order, only for the saturated ones). */
static int zip64_extra(const uint8_t *x, uint32_t n, uint64_t *usize, uint64_t *csize,
                       uint64_t *local) {
    uint64_t *fields[3] = {usize, csize, local};
    int need = 0;
    for (int k = 0; k < 3; k++)
        need += *fields[k] == 0xffffffffu;
    if (!need) return VE_OK;
    for (uint32_t at = 0; at + 4 <= n;) {
        uint32_t id = rd16(x + at), len = rd16(x + at + 2);
        if (at + 4 + len > n) break;
        if (id == ZIP64_EXTRA_ID) {
            const uint8_t *v = x + at + 4;
            for (int k = 0; k < 3; k++) {
                if (*fields[k] != 0xffffffffu) continue;
                if (v + 8 > x + at + 4 + len) return VE_FAIL;
                *fields[k] = rd64(v);
                v += 8;
            }
            return VE_OK;
        }
        at += 4 + len;
    }
    return VE_FAIL;
}

/* Parses the central-directory record at cd[*off], advancing *off. */
static int parse_entry(const ve_file *f, const uint8_t *cd, uint64_t cd_size, uint64_t *off,
                       uint64_t cd_pos, ve_zip_entry *e) {
    const uint8_t *p = cd + *off;
    if (cd_size - *off < CDIR_SIZE || rd32(p) != CDIR_SIG)
        return ve_fail("zip: corrupt central directory at offset %llu",
                       (unsigned long long)(cd_pos + *off));
    uint32_t flags = rd16(p + 8), method = rd16(p + 10);
    uint64_t csize = rd32(p + 20), usize = rd32(p + 24), local = rd32(p + 42);
    uint32_t name_len = rd16(p + 28), extra_len = rd16(p + 30), comment_len = rd16(p + 32);
    uint64_t rec = (uint64_t)CDIR_SIZE + name_len + extra_len + comment_len;
    if (rec > cd_size - *off)
        return ve_fail("zip: central directory record at offset %llu runs past the directory",
                       (unsigned long long)(cd_pos + *off));
    if (name_len == 0 || name_len >= MAX_ENTRY_NAME || memchr(p + CDIR_SIZE, 0, name_len))
        return ve_fail("zip: entry name of %u bytes at offset %llu is empty, too long or "
                       "holds a NUL",
                       name_len, (unsigned long long)(cd_pos + *off + CDIR_SIZE));
    e->name = malloc(name_len + 1);
    if (!e->name) return ve_fail("out of memory");
    memcpy(e->name, p + CDIR_SIZE, name_len);
    e->name[name_len] = 0;
    e->crc = rd32(p + 16);
    *off += rec;
    if (zip64_extra(p + CDIR_SIZE + name_len, extra_len, &usize, &csize, &local) != VE_OK)
        return ve_fail("zip: entry '%s': ZIP64 sizes without a valid ZIP64 extra field", e->name);
    e->size = usize;
    if (flags & 1) return ve_fail("zip: entry '%s' is encrypted", e->name);
    if (method != 0)
        return ve_fail("zip: entry '%s' is compressed (method %u%s); only stored entries, as "
                       "torch.save writes them, are supported",
                       e->name, method, method == 8 ? ", deflate" : "");
    if (csize != usize)
        return ve_fail("zip: stored entry '%s' has compressed size %llu != size %llu", e->name,
                       (unsigned long long)csize, (unsigned long long)usize);
    return locate_data(f, e, local, cd_pos);
}

static int cmp_entry_name(const void *a, const void *b) {
    return strcmp(((const ve_zip_entry *)a)->name, ((const ve_zip_entry *)b)->name);
}

/* Sorts the entries by name, for ve_zip_find's binary search, and refuses duplicates. */
static int sort_unique(ve_zip *z) {
    qsort(z->e, (size_t)z->n, sizeof *z->e, cmp_entry_name);
    for (int i = 1; i < z->n; i++)
        if (!strcmp(z->e[i - 1].name, z->e[i].name))
            return ve_fail("zip: entry '%s' appears twice", z->e[i].name);
    return VE_OK;
}

int ve_zip_open(ve_zip *z, const ve_file *f) {
    memset(z, 0, sizeof *z);
    dir_info d = {0, 0, 0, 0};
    if (find_directory(f, &d) != VE_OK) return VE_FAIL;
    if (d.cd_pos > d.end || d.cd_size > d.end - d.cd_pos || d.cd_size > MAX_CDIR_BYTES)
        return ve_fail("zip: central directory (%llu bytes at offset %llu) does not fit before "
                       "its end record at offset %llu",
                       (unsigned long long)d.cd_size, (unsigned long long)d.cd_pos,
                       (unsigned long long)d.end);
    if (d.count * CDIR_SIZE > d.cd_size)
        return ve_fail("zip: %llu entries cannot fit in a central directory of %llu bytes",
                       (unsigned long long)d.count, (unsigned long long)d.cd_size);
    uint64_t count = d.count, cd_size = d.cd_size, cd_pos = d.cd_pos;
    uint8_t *cd = malloc(cd_size ? cd_size : 1);
    z->e = calloc(count ? count : 1, sizeof *z->e);
    if (!cd || !z->e) {
        free(cd);
        ve_zip_free(z);
        return ve_fail("out of memory");
    }
    if (ve_file_read_at(f, cd_pos, cd, cd_size) != VE_OK) {
        free(cd);
        ve_zip_free(z);
        return VE_FAIL;
    }
    uint64_t off = 0;
    int rc = VE_OK;
    for (uint64_t i = 0; i < count && rc == VE_OK; i++) {
        rc = parse_entry(f, cd, cd_size, &off, cd_pos, &z->e[i]);
        z->n = (int)i + 1;
    }
    free(cd);
    if (rc == VE_OK) rc = sort_unique(z);
    if (rc != VE_OK) ve_zip_free(z);
    return rc;
}

const ve_zip_entry *ve_zip_find(const ve_zip *z, const char *name) {
    ve_zip_entry key = {.name = (char *)name};
    return bsearch(&key, z->e, (size_t)z->n, sizeof *z->e, cmp_entry_name);
}

void ve_zip_free(ve_zip *z) {
    for (int i = 0; i < z->n; i++)
        free(z->e[i].name);
    free(z->e);
    memset(z, 0, sizeof *z);
}
