/* Writing a PyTorch `.pth` the way torch.save writes a plain dict of float32 tensors with
 * PyTorch 1.13, so that SAMed (torch.load + load_lora_parameters) reads our LoRA exports:
 *
 *   archive/data.pkl   the dict, pickled with protocol 2 by CPython's pickler: for each name,
 *                      torch._utils._rebuild_tensor_v2(persistent_load(('storage',
 *                      torch.FloatStorage, '<i>', 'cpu', numel)), 0, size, stride, False,
 *                      collections.OrderedDict()), with the same memo numbering and batching
 *   archive/data/<i>   tensor i's float32 data, in the order torch writes them (keys sorted as
 *                      strings: 0, 1, 10, 11, 2, ...)
 *   archive/version    "3\n"
 *
 * The zip layout is zip_write.c's. For a file named archive.pth the bytes are the same as
 * torch.save's (the folder is the file's stem in torch 1.13, "archive" in later versions; every
 * torch.load accepts any). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io_internal.h"
#include "status.h"
#include "zip_write.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the .pth writer stores the host's floats as they are: little-endian hosts only"
#endif

#define ARCHIVE "archive"
#define BATCH 1000 /* the pickler's dict batch: MARK, 1000 items, SETITEMS */
#define NONE UINT32_MAX

/* Protocol-2 opcodes. */
enum {
    P_PROTO = 0x80,
    P_EMPTY_DICT = '}',
    P_MARK = '(',
    P_BINUNICODE = 'X',
    P_GLOBAL = 'c',
    P_BINPUT = 'q',
    P_LONG_BINPUT = 'r',
    P_BINGET = 'h',
    P_LONG_BINGET = 'j',
    P_BININT = 'J',
    P_BININT1 = 'K',
    P_BININT2 = 'M',
    P_LONG1 = 0x8a,
    P_TUPLE = 't',
    P_EMPTY_TUPLE = ')',
    P_TUPLE1 = 0x85,
    P_REDUCE = 'R',
    P_BINPERSID = 'Q',
    P_NEWFALSE = 0x89,
    P_SETITEM = 's',
    P_SETITEMS = 'u',
    P_STOP = '.',
};

/* The pickle in a buffer sized from a bound computed up front (pickle_bound). */
typedef struct {
    uint8_t *p;
    size_t n, cap;
    int overflow;
    uint32_t memo; /* the next memo index */
    /* memo indices of the objects torch's pickler shares between tensors */
    uint32_t rebuild, storage, float_storage, cpu, odict;
} pk;

static void raw(pk *k, const void *s, size_t n) {
    if (k->overflow || n > k->cap - k->n) {
        k->overflow = 1;
        return;
    }
    memcpy(k->p + k->n, s, n);
    k->n += n;
}

static void op(pk *k, uint8_t c) {
    raw(k, &c, 1);
}

static void le(pk *k, uint64_t v, int bytes) {
    uint8_t b[8];
    for (int i = 0; i < bytes; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    raw(k, b, (size_t)bytes);
}

/* Memoizes the object just written (as the pickler does for every string, tuple, global and
 * REDUCE result); returns its index. */
static uint32_t memo_put(pk *k) {
    uint32_t i = k->memo++;
    op(k, i < 256 ? P_BINPUT : P_LONG_BINPUT);
    le(k, i, i < 256 ? 1 : 4);
    return i;
}

static void memo_get(pk *k, uint32_t i) {
    op(k, i < 256 ? P_BINGET : P_LONG_BINGET);
    le(k, i, i < 256 ? 1 : 4);
}

/* A non-negative int: BININT1, BININT2, BININT, or LONG1 with the minimal two's complement. */
static void put_int(pk *k, int64_t v) {
    if (v < 256) {
        op(k, P_BININT1);
        le(k, (uint64_t)v, 1);
    } else if (v < 65536) {
        op(k, P_BININT2);
        le(k, (uint64_t)v, 2);
    } else if (v <= 0x7fffffff) {
        op(k, P_BININT);
        le(k, (uint64_t)v, 4);
    } else {
        int bits = 0;
        while (bits < 63 && (v >> bits) != 0)
            bits++;
        int bytes = bits / 8 + 1; /* room for the sign bit */
        op(k, P_LONG1);
        le(k, (uint64_t)bytes, 1);
        le(k, (uint64_t)v, bytes);
    }
}

static void put_str(pk *k, const char *s) {
    size_t n = strlen(s);
    op(k, P_BINUNICODE);
    le(k, n, 4);
    raw(k, s, n);
    memo_put(k);
}

/* A string or global the pickler writes once and then fetches from the memo. */
static void put_shared(pk *k, uint32_t *slot, const char *module, const char *name) {
    if (*slot != NONE) {
        memo_get(k, *slot);
        return;
    }
    if (module) {
        op(k, P_GLOBAL);
        raw(k, module, strlen(module));
        raw(k, "\n", 1);
        raw(k, name, strlen(name));
        raw(k, "\n", 1);
        *slot = memo_put(k);
    } else {
        put_str(k, name);
        *slot = k->memo - 1;
    }
}

/* A tuple of ints: EMPTY_TUPLE (not memoized), TUPLE1..3, or MARK ... TUPLE. */
static void put_tuple(pk *k, int n, const int64_t *v) {
    if (n == 0) {
        op(k, P_EMPTY_TUPLE);
        return;
    }
    if (n > 3) op(k, P_MARK);
    for (int i = 0; i < n; i++)
        put_int(k, v[i]);
    op(k, n > 3 ? P_TUPLE : (uint8_t)(P_TUPLE1 + n - 1));
    memo_put(k);
}

/* name: _rebuild_tensor_v2(storage i, 0, size, contiguous stride, False, OrderedDict()). */
static void put_item(pk *k, const ve_st_tensor *t, int i, int64_t numel) {
    char key[24];
    snprintf(key, sizeof key, "%d", i);
    int64_t stride[VE_CKPT_MAX_DIMS];
    for (int d = t->ndim; d-- > 0;) /* torch: a size-0 dimension counts as 1 */
        stride[d] = d == t->ndim - 1 ? 1 : stride[d + 1] * (t->shape[d + 1] ? t->shape[d + 1] : 1);
    put_str(k, t->name);
    put_shared(k, &k->rebuild, "torch._utils", "_rebuild_tensor_v2");
    op(k, P_MARK);
    op(k, P_MARK);
    put_shared(k, &k->storage, NULL, "storage");
    put_shared(k, &k->float_storage, "torch", "FloatStorage");
    put_str(k, key);
    put_shared(k, &k->cpu, NULL, "cpu");
    put_int(k, numel);
    op(k, P_TUPLE);
    memo_put(k);
    op(k, P_BINPERSID);
    put_int(k, 0);
    put_tuple(k, t->ndim, t->shape);
    put_tuple(k, t->ndim, stride);
    op(k, P_NEWFALSE);
    put_shared(k, &k->odict, "collections", "OrderedDict");
    op(k, P_EMPTY_TUPLE);
    op(k, P_REDUCE);
    memo_put(k);
    op(k, P_TUPLE);
    memo_put(k);
    op(k, P_REDUCE);
    memo_put(k);
}

/* Bytes the pickle can take at most: per item 5 + name, at most 170 for the rest, 2 ints of at
 * most 10 bytes per dimension; plus the batches' MARK / SETITEMS and the frame. */
static size_t pickle_bound(int n, const ve_st_tensor *ts) {
    size_t b = 16 + 2 * ((size_t)n / BATCH + 2);
    for (int i = 0; i < n; i++)
        b += 256 + strlen(ts[i].name) + 20 * (size_t)ts[i].ndim;
    return b;
}

/* The dict as CPython's pickler batches it: one item with SETITEM, otherwise MARK ... SETITEMS
 * per 1000 (and an empty batch after a full last one). */
static int build_pickle(int n, const ve_st_tensor *ts, const int64_t *numel, pk *k) {
    *k = (pk){.cap = pickle_bound(n, ts),
              .rebuild = NONE,
              .storage = NONE,
              .float_storage = NONE,
              .cpu = NONE,
              .odict = NONE};
    k->p = malloc(k->cap);
    if (!k->p) return ve_fail("out of memory for a %zu-byte pickle", k->cap);
    op(k, P_PROTO);
    op(k, 2);
    op(k, P_EMPTY_DICT);
    memo_put(k);
    if (n == 1) {
        put_item(k, &ts[0], 0, numel[0]);
        op(k, P_SETITEM);
    } else if (n > 1) {
        int i = 0, batch;
        do {
            op(k, P_MARK);
            for (batch = 0; batch < BATCH && i < n; batch++, i++)
                put_item(k, &ts[i], i, numel[i]);
            op(k, P_SETITEMS);
        } while (batch == BATCH);
    }
    op(k, P_STOP);
    if (k->overflow)
        return ve_fail("internal error: the pickle outgrew its %zu-byte bound", k->cap);
    return VE_OK;
}

static int cmp_decimal(const void *a, const void *b) {
    char sa[16], sb[16];
    snprintf(sa, sizeof sa, "%d", *(const int *)a);
    snprintf(sb, sizeof sb, "%d", *(const int *)b);
    return strcmp(sa, sb);
}

/* data.pkl, the storages in torch's order (keys sorted as strings), version. */
static int write_archive(ve_zip_writer *z, const pk *k, int n, const ve_st_tensor *ts,
                         const int64_t *numel) {
    int *order = malloc((size_t)(n ? n : 1) * sizeof *order);
    if (!order) return ve_fail("out of memory");
    for (int i = 0; i < n; i++)
        order[i] = i;
    qsort(order, (size_t)n, sizeof *order, cmp_decimal);
    int rc = ve_zipw_add(z, ARCHIVE "/data.pkl", k->p, k->n);
    for (int j = 0; j < n && rc == VE_OK; j++) {
        char name[48];
        snprintf(name, sizeof name, ARCHIVE "/data/%d", order[j]);
        rc = ve_zipw_add(z, name, ts[order[j]].data, (uint64_t)numel[order[j]] * 4);
    }
    if (rc == VE_OK) rc = ve_zipw_add(z, ARCHIVE "/version", "3\n", 2);
    free(order);
    return rc;
}

int ve_pth_write_zip64_at(const char *path, int n, const ve_st_tensor *ts, uint64_t zip64_at) {
    if (!path || !*path) return ve_fail(".pth write: no path");
    int64_t *numel = malloc((size_t)(n > 0 ? n : 1) * sizeof *numel);
    if (!numel) return ve_fail("out of memory");
    pk k = {0};
    int rc = ve_st_check(n, ts, numel);
    if (rc == VE_OK) rc = build_pickle(n, ts, numel, &k);
    if (rc == VE_OK) {
        ve_zip_writer z;
        rc = ve_zipw_open(&z, path, zip64_at);
        if (rc == VE_OK) {
            rc = write_archive(&z, &k, n, ts, numel);
            if (rc == VE_OK)
                rc = ve_zipw_commit(&z);
            else
                ve_zipw_abort(&z);
        }
    }
    if (rc != VE_OK) ve_fail_context("%s: ", path);
    free(numel);
    free(k.p);
    return rc;
}

int ve_pth_write(const char *path, int n, const ve_st_tensor *ts) {
    return ve_pth_write_zip64_at(path, n, ts, VE_ZIP64_AT);
}
