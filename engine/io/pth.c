/* A PyTorch zip `.pth`: `<prefix>/data.pkl` (the state dict's pickle) and one entry
 * `<prefix>/data/<key>` per storage. The prefix is `archive` for newer torch and the file's stem
 * for older ones: any single top-level folder is accepted. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io_internal.h"
#include "status.h"

#define MAX_PREFIX 256

/* The one top-level folder holding data.pkl. */
static int find_prefix(const ve_zip *z, char prefix[MAX_PREFIX]) {
    int found = 0;
    for (int i = 0; i < z->n; i++) {
        const char *name = z->e[i].name, *slash = strchr(name, '/');
        if (!slash || strcmp(slash, "/data.pkl") != 0) continue;
        if (found)
            return ve_fail("zip: more than one data.pkl ('%s' and '%s/data.pkl')", name, prefix);
        size_t n = (size_t)(slash - name);
        if (n >= MAX_PREFIX) return ve_fail("zip: folder of '%s' is too long", name);
        memcpy(prefix, name, n);
        prefix[n] = 0;
        found = 1;
    }
    if (!found) return ve_fail("zip: no <folder>/data.pkl entry: not a torch.save archive");
    return VE_OK;
}

static int check_byteorder(const ve_file *f, const ve_zip *z, const char *prefix) {
    char name[MAX_PREFIX + 16], order[8] = {0};
    snprintf(name, sizeof name, "%s/byteorder", prefix);
    const ve_zip_entry *e = ve_zip_find(z, name);
    if (!e) return VE_OK; /* older torch: always little-endian */
    if (e->size >= sizeof order || ve_file_read_at(f, e->pos, order, e->size) != VE_OK ||
        strcmp(order, "little") != 0)
        return ve_fail("zip: '%s' is not \"little\": big-endian checkpoints are not supported",
                       name);
    return VE_OK;
}

static int read_pickle(const ve_file *f, const ve_zip_entry *e, ve_tensor_list *out) {
    uint8_t *buf = malloc(e->size ? e->size : 1);
    if (!buf) return ve_fail("out of memory for a %llu-byte pickle", (unsigned long long)e->size);
    int rc = ve_file_read_at(f, e->pos, buf, e->size);
    if (rc == VE_OK && ve_crc32(buf, e->size) != e->crc)
        rc = ve_fail("zip: entry '%s' fails its CRC check (corrupt file)", e->name);
    if (rc == VE_OK) rc = ve_pickle_state_dict(buf, e->size, out);
    if (rc != VE_OK) ve_fail_context("%s: ", e->name);
    free(buf);
    return rc;
}

/* Binds each tensor to its storage entry: size, dtype consistency, extent. */
static int bind_storage(const ve_zip *z, const char *prefix, ve_ckpt_tensor *t) {
    char name[MAX_PREFIX + 80];
    snprintf(name, sizeof name, "%s/data/%s", prefix, t->storage_key);
    const ve_zip_entry *e = ve_zip_find(z, name);
    if (!e) return ve_fail("tensor '%s': its storage entry '%s' is missing", t->name, name);
    uint64_t want = (uint64_t)t->storage_numel * ve_ckpt_dtype_size(t->dtype);
    if (e->size != want)
        return ve_fail("tensor '%s': storage '%s' holds %llu bytes, its header says %lld %s "
                       "elements (%llu bytes)",
                       t->name, name, (unsigned long long)e->size, (long long)t->storage_numel,
                       ve_ckpt_dtype_name(t->dtype), (unsigned long long)want);
    t->storage_pos = e->pos;
    return ve_tensor_check_extent(t);
}

static int cmp_key(const void *a, const void *b) {
    return strcmp((*(const ve_ckpt_tensor *const *)a)->storage_key,
                  (*(const ve_ckpt_tensor *const *)b)->storage_key);
}

/* Tensors sharing a storage must agree on its dtype (sorted by key: hostile files may hold
 * many tensors). */
static int check_shared_dtypes(const ve_tensor_list *l) {
    const ve_ckpt_tensor **order = malloc((size_t)(l->n ? l->n : 1) * sizeof *order);
    if (!order) return ve_fail("out of memory");
    for (int i = 0; i < l->n; i++)
        order[i] = &l->t[i];
    qsort(order, (size_t)l->n, sizeof *order, cmp_key);
    int rc = VE_OK;
    for (int i = 1; i < l->n && rc == VE_OK; i++)
        if (!strcmp(order[i - 1]->storage_key, order[i]->storage_key) &&
            order[i - 1]->dtype != order[i]->dtype)
            rc = ve_fail("tensors '%s' and '%s' share storage '%s' with different dtypes",
                         order[i - 1]->name, order[i]->name, order[i]->storage_key);
    free(order);
    return rc;
}

int ve_pth_load(const ve_file *f, ve_tensor_list *out) {
    ve_zip z;
    if (ve_zip_open(&z, f) != VE_OK) return VE_FAIL;
    char prefix[MAX_PREFIX], name[MAX_PREFIX + 16];
    int rc = find_prefix(&z, prefix);
    if (rc == VE_OK) rc = check_byteorder(f, &z, prefix);
    if (rc == VE_OK) {
        snprintf(name, sizeof name, "%s/data.pkl", prefix);
        rc = read_pickle(f, ve_zip_find(&z, name), out);
    }
    for (int i = 0; rc == VE_OK && i < out->n; i++)
        rc = bind_storage(&z, prefix, &out->t[i]);
    if (rc == VE_OK) rc = check_shared_dtypes(out);
    ve_zip_free(&z);
    return rc;
}
