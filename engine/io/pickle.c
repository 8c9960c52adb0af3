/* A strict interpreter for the pickle of a PyTorch state dict (protocol 2, as torch.save writes
 * it). It knows only the opcodes and globals a state dict needs, builds inert values (ints,
 * strings, tuples, dicts, tensor descriptors) and never calls anything: a GLOBAL outside the
 * allow-list, or any other opcode, is refused with its name and byte offset. Every count is
 * bounded by the pickle's length, so a hostile file cannot make it allocate without limit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io_internal.h"
#include "pickle_names.h"
#include "status.h"

#define MAX_PICKLE_BYTES ((size_t)256 << 20)
#define MAX_MARKS 64
#define MAX_STRING ((uint32_t)1 << 20)
#define MAX_GLOBAL_PART 128
#define MAX_STORAGE_KEY 64
#define NO_VALUE UINT32_MAX

enum { PV_NONE, PV_BOOL, PV_INT, PV_STR, PV_TUPLE, PV_DICT, PV_GLOBAL, PV_STORAGE, PV_TENSOR };
enum { G_ODICT, G_REBUILD_TENSOR, G_REBUILD_PARAM, G_STORAGE };

typedef struct {
    uint8_t kind;
    uint8_t sub; /* GLOBAL: which; GLOBAL/STORAGE of G_STORAGE: dtype */
    uint32_t n;  /* STR: length; TUPLE: count */
    uint64_t a;  /* STR: offset in the pickle; TUPLE: first item; DICT: id; TENSOR: index;
                    STORAGE: value id of its key string */
    int64_t i;   /* INT, BOOL: value; STORAGE: element count */
} pv;

typedef struct {
    uint32_t dict, key, val;
} pentry;

typedef struct {
    uint32_t storage; /* value id */
    int64_t offset;
    int ndim;
    int64_t shape[VE_CKPT_MAX_DIMS], strides[VE_CKPT_MAX_DIMS];
} ptensor;

typedef struct {
    const uint8_t *b;
    size_t len, at, pos; /* at: offset of the current opcode; pos: read cursor */
    uint32_t limit;      /* bound on every count below */
    pv *v;
    uint32_t nv, capv;
    uint32_t *stack, sp, capstack;
    uint32_t marks[MAX_MARKS];
    int nmarks;
    uint32_t *items, nitems, capitems;
    uint32_t *memo, capmemo;
    pentry *ent;
    uint32_t nent, capent;
    ptensor *ts;
    uint32_t nts, capts;
    uint32_t ndicts;
} pm;

static const struct {
    const char *module, *name;
    int id, dtype;
} k_globals[] = {
    {"collections", "OrderedDict", G_ODICT, 0},
    {"torch._utils", "_rebuild_tensor_v2", G_REBUILD_TENSOR, 0},
    {"torch._utils", "_rebuild_parameter", G_REBUILD_PARAM, 0},
    {"torch", "FloatStorage", G_STORAGE, VE_CKPT_F32},
    {"torch", "HalfStorage", G_STORAGE, VE_CKPT_F16},
    {"torch", "BFloat16Storage", G_STORAGE, VE_CKPT_BF16},
    {"torch", "DoubleStorage", G_STORAGE, VE_CKPT_F64},
    {"torch", "LongStorage", G_STORAGE, VE_CKPT_I64},
    {"torch", "IntStorage", G_STORAGE, VE_CKPT_I32},
};

static int fail_at(pm *m, const char *what) {
    return ve_fail("pickle: %s at byte %zu", what, m->at);
}

/* Grows *p (of *cap elements of size el) to hold need elements, need <= m->limit. */
static int grow(pm *m, void **p, uint32_t *cap, uint32_t need, size_t el) {
    if (need <= *cap) return VE_OK;
    if (need > m->limit) return fail_at(m, "more values than the pickle's length allows");
    uint32_t c = *cap ? *cap : 64;
    while (c < need)
        c = c > m->limit / 2 ? m->limit : c * 2;
    void *np = realloc(*p, (size_t)c * el);
    if (!np) return ve_fail("out of memory for %u pickle values", c);
    *p = np;
    *cap = c;
    return VE_OK;
}

static int new_value(pm *m, uint8_t kind, uint32_t *id) {
    if (grow(m, (void **)&m->v, &m->capv, m->nv + 1, sizeof *m->v) != VE_OK) return VE_FAIL;
    memset(&m->v[m->nv], 0, sizeof *m->v);
    m->v[m->nv].kind = kind;
    *id = m->nv++;
    return VE_OK;
}

static int push(pm *m, uint32_t id) {
    if (grow(m, (void **)&m->stack, &m->capstack, m->sp + 1, sizeof *m->stack) != VE_OK)
        return VE_FAIL;
    m->stack[m->sp++] = id;
    return VE_OK;
}

static int push_new(pm *m, uint8_t kind, uint8_t sub, uint64_t a, int64_t i) {
    uint32_t id;
    if (new_value(m, kind, &id) != VE_OK) return VE_FAIL;
    m->v[id].sub = sub;
    m->v[id].a = a;
    m->v[id].i = i;
    return push(m, id);
}

static uint32_t mark_base(const pm *m) {
    return m->nmarks ? m->marks[m->nmarks - 1] : 0;
}

static int pop(pm *m, uint32_t *id) {
    if (m->sp <= mark_base(m)) return fail_at(m, "stack underflow");
    *id = m->stack[--m->sp];
    return VE_OK;
}

/* Reads n bytes of argument at the cursor. */
static int take(pm *m, size_t n, const uint8_t **p) {
    if (n > m->len - m->pos) return fail_at(m, "opcode argument runs past the end");
    *p = m->b + m->pos;
    m->pos += n;
    return VE_OK;
}

static int take_uint(pm *m, size_t n, uint64_t *out) {
    const uint8_t *p = NULL;
    if (take(m, n, &p) != VE_OK) return VE_FAIL;
    uint64_t x = 0;
    for (size_t k = n; k-- > 0;)
        x = x << 8 | p[k];
    *out = x;
    return VE_OK;
}

static int op_long1(pm *m) {
    uint64_t n = 0, x = 0;
    if (take_uint(m, 1, &n) != VE_OK) return VE_FAIL;
    if (n > 8) return fail_at(m, "LONG1 integer wider than 64 bits");
    if (take_uint(m, n, &x) != VE_OK) return VE_FAIL;
    if (n > 0 && n < 8 && (x >> (8 * n - 1)) & 1) x |= ~(uint64_t)0 << (8 * n); /* sign */
    return push_new(m, PV_INT, 0, 0, (int64_t)x);
}

static int op_binunicode(pm *m) {
    uint64_t n = 0;
    const uint8_t *p = NULL;
    if (take_uint(m, 4, &n) != VE_OK) return VE_FAIL;
    if (n > MAX_STRING) return fail_at(m, "string longer than 1 MiB");
    if (take(m, n, &p) != VE_OK) return VE_FAIL;
    uint32_t id;
    if (new_value(m, PV_STR, &id) != VE_OK) return VE_FAIL;
    m->v[id].a = (uint64_t)(p - m->b);
    m->v[id].n = (uint32_t)n;
    return push(m, id);
}

/* GLOBAL "module\nname\n": only the allow-list. */
static int op_global(pm *m) {
    char part[2][MAX_GLOBAL_PART + 1];
    for (int k = 0; k < 2; k++) {
        size_t rest = m->len - m->pos;
        const uint8_t *nl =
            memchr(m->b + m->pos, '\n', rest < MAX_GLOBAL_PART + 1 ? rest : MAX_GLOBAL_PART + 1);
        if (!nl) return fail_at(m, "GLOBAL name unterminated or longer than 128 bytes");
        size_t n = (size_t)(nl - (m->b + m->pos));
        memcpy(part[k], m->b + m->pos, n);
        part[k][n] = 0;
        for (size_t c = 0; c < n; c++)
            if (part[k][c] < 0x20 || part[k][c] > 0x7e) part[k][c] = '?';
        m->pos += n + 1;
    }
    for (size_t g = 0; g < sizeof k_globals / sizeof k_globals[0]; g++)
        if (!strcmp(part[0], k_globals[g].module) && !strcmp(part[1], k_globals[g].name))
            return push_new(m, PV_GLOBAL, (uint8_t)k_globals[g].id, 0, k_globals[g].dtype);
    return ve_fail("pickle: forbidden global %s.%s at byte %zu (a state dict needs only "
                   "OrderedDict, torch._utils._rebuild_tensor_v2/_rebuild_parameter and "
                   "torch.*Storage)",
                   part[0], part[1], m->at);
}

static int memo_put(pm *m, uint64_t idx) {
    if (m->sp <= mark_base(m)) return fail_at(m, "memo put with an empty stack");
    if (idx >= m->limit) return fail_at(m, "memo index beyond the pickle's length");
    uint32_t old = m->capmemo;
    if (grow(m, (void **)&m->memo, &m->capmemo, (uint32_t)idx + 1, sizeof *m->memo) != VE_OK)
        return VE_FAIL;
    for (uint32_t k = old; k < m->capmemo; k++)
        m->memo[k] = NO_VALUE;
    m->memo[idx] = m->stack[m->sp - 1];
    return VE_OK;
}

static int memo_get(pm *m, uint64_t idx) {
    if (idx >= m->capmemo || m->memo[idx] == NO_VALUE)
        return fail_at(m, "memo get of an unset "
                          "index");
    return push(m, m->memo[idx]);
}

/* Builds a tuple of the top n stack entries (n = -1: everything above the last MARK). */
static int op_tuple(pm *m, int n) {
    uint32_t base;
    if (n < 0) {
        if (m->nmarks == 0) return fail_at(m, "TUPLE without a MARK");
        base = m->marks[--m->nmarks];
    } else {
        if (m->sp < mark_base(m) + (uint32_t)n) return fail_at(m, "stack underflow");
        base = m->sp - (uint32_t)n;
    }
    uint32_t count = m->sp - base;
    if (grow(m, (void **)&m->items, &m->capitems, m->nitems + count, sizeof *m->items) != VE_OK)
        return VE_FAIL;
    if (count) memcpy(m->items + m->nitems, m->stack + base, count * sizeof *m->items);
    m->sp = base;
    uint32_t id;
    if (new_value(m, PV_TUPLE, &id) != VE_OK) return VE_FAIL;
    m->v[id].a = m->nitems;
    m->v[id].n = count;
    m->nitems += count;
    return push(m, id);
}

static const pv *item(const pm *m, const pv *tuple, uint32_t k) {
    return &m->v[m->items[tuple->a + k]];
}

/* A tuple of n ints (a shape or a stride). */
static int int_tuple(pm *m, const pv *t, int64_t *out, int *n, const char *what) {
    if (t->kind != PV_TUPLE || t->n > VE_CKPT_MAX_DIMS) {
        char msg[96];
        snprintf(msg, sizeof msg, "tensor %s is not a tuple of at most %d ints", what,
                 VE_CKPT_MAX_DIMS);
        return fail_at(m, msg);
    }
    for (uint32_t k = 0; k < t->n; k++) {
        if (item(m, t, k)->kind != PV_INT) return fail_at(m, "tensor size or stride not an int");
        out[k] = item(m, t, k)->i;
    }
    *n = (int)t->n;
    return VE_OK;
}

/* _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, metadata]). */
static int rebuild_tensor(pm *m, const pv *args) {
    if (args->n != 6 && args->n != 7)
        return fail_at(m, "_rebuild_tensor_v2 needs 6 or 7 arguments");
    const pv *st = item(m, args, 0), *off = item(m, args, 1);
    if (st->kind != PV_STORAGE) return fail_at(m, "_rebuild_tensor_v2 without a storage");
    if (off->kind != PV_INT || off->i < 0)
        return fail_at(m, "_rebuild_tensor_v2 storage offset not a non-negative int");
    if (item(m, args, 4)->kind != PV_BOOL || item(m, args, 5)->kind != PV_DICT ||
        (args->n == 7 && item(m, args, 6)->kind != PV_DICT && item(m, args, 6)->kind != PV_NONE))
        return fail_at(m, "_rebuild_tensor_v2 arguments of the wrong types");
    if (grow(m, (void **)&m->ts, &m->capts, m->nts + 1, sizeof *m->ts) != VE_OK) return VE_FAIL;
    ptensor *t = &m->ts[m->nts];
    memset(t, 0, sizeof *t);
    t->storage = m->items[args->a];
    t->offset = off->i;
    int ns;
    if (int_tuple(m, item(m, args, 2), t->shape, &t->ndim, "size") != VE_OK ||
        int_tuple(m, item(m, args, 3), t->strides, &ns, "stride") != VE_OK)
        return VE_FAIL;
    if (ns != t->ndim) return fail_at(m, "tensor size and stride of different lengths");
    return push_new(m, PV_TENSOR, 0, m->nts++, 0);
}

static int op_reduce(pm *m) {
    uint32_t a = 0, f = 0;
    if (pop(m, &a) != VE_OK || pop(m, &f) != VE_OK) return VE_FAIL;
    const pv *args = &m->v[a], *fn = &m->v[f];
    if (fn->kind != PV_GLOBAL) return fail_at(m, "REDUCE of something that is not a global");
    if (args->kind != PV_TUPLE) return fail_at(m, "REDUCE arguments not a tuple");
    switch (fn->sub) {
    case G_ODICT:
        if (args->n != 0) return fail_at(m, "OrderedDict() with arguments");
        return push_new(m, PV_DICT, 1, m->ndicts++, 0);
    case G_REBUILD_TENSOR:
        return rebuild_tensor(m, args);
    case G_REBUILD_PARAM:
        if (args->n != 3 || item(m, args, 0)->kind != PV_TENSOR ||
            item(m, args, 1)->kind != PV_BOOL || item(m, args, 2)->kind != PV_DICT)
            return fail_at(m, "_rebuild_parameter(tensor, requires_grad, hooks) expected");
        return push(m, m->items[args->a]); /* a parameter is its tensor */
    default:
        return fail_at(m, "REDUCE of a storage type");
    }
}

/* BINPERSID of ('storage', torch.XStorage, key, location, numel). */
static int op_persid(pm *m) {
    uint32_t p = 0;
    if (pop(m, &p) != VE_OK) return VE_FAIL;
    const pv *t = &m->v[p];
    if (t->kind != PV_TUPLE || t->n != 5) return fail_at(m, "persistent id not a 5-tuple");
    const pv *tag = item(m, t, 0), *type = item(m, t, 1), *key = item(m, t, 2);
    const pv *loc = item(m, t, 3), *numel = item(m, t, 4);
    if (tag->kind != PV_STR || tag->n != 7 || memcmp(m->b + tag->a, "storage", 7) != 0)
        return fail_at(m, "persistent id is not a 'storage'");
    if (type->kind != PV_GLOBAL || type->sub != G_STORAGE)
        return fail_at(m, "persistent id without a torch storage type");
    if (key->kind != PV_STR || key->n == 0 || key->n > MAX_STORAGE_KEY)
        return fail_at(m, "storage key not a string of 1 to 64 bytes");
    for (uint32_t k = 0; k < key->n; k++) {
        uint8_t c = m->b[key->a + k];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              c == '_'))
            return fail_at(m, "storage key holds characters other than [0-9A-Za-z_]");
    }
    if (loc->kind != PV_STR) return fail_at(m, "storage location not a string");
    if (numel->kind != PV_INT || numel->i < 0) return fail_at(m, "storage size not an int >= 0");
    return push_new(m, PV_STORAGE, (uint8_t)type->i, m->items[t->a + 2], numel->i);
}

static int add_entry(pm *m, uint32_t dict, uint32_t key, uint32_t val) {
    if (grow(m, (void **)&m->ent, &m->capent, m->nent + 1, sizeof *m->ent) != VE_OK) return VE_FAIL;
    m->ent[m->nent++] = (pentry){(uint32_t)m->v[dict].a, key, val};
    return VE_OK;
}

static int op_setitems(pm *m, int many) {
    uint32_t base;
    if (many) {
        if (m->nmarks == 0) return fail_at(m, "SETITEMS without a MARK");
        base = m->marks[--m->nmarks];
        if ((m->sp - base) % 2) return fail_at(m, "SETITEMS with an odd number of items");
    } else {
        if (m->sp < mark_base(m) + 2) return fail_at(m, "stack underflow");
        base = m->sp - 2;
    }
    if (base <= mark_base(m) || m->v[m->stack[base - 1]].kind != PV_DICT)
        return fail_at(m, "SETITEM(S) on something that is not a dict");
    uint32_t dict = m->stack[base - 1];
    for (uint32_t k = base; k < m->sp; k += 2)
        if (add_entry(m, dict, m->stack[k], m->stack[k + 1]) != VE_OK) return VE_FAIL;
    m->sp = base;
    return VE_OK;
}

/* BUILD on an OrderedDict sets attributes (torch's `_metadata`): checked and dropped. */
static int op_build(pm *m) {
    uint32_t s = 0;
    if (pop(m, &s) != VE_OK) return VE_FAIL;
    if (m->v[s].kind != PV_DICT && m->v[s].kind != PV_NONE)
        return fail_at(m, "BUILD with a state that is not a dict");
    if (m->sp <= mark_base(m) || m->v[m->stack[m->sp - 1]].kind != PV_DICT)
        return fail_at(m, "BUILD on something that is not an OrderedDict");
    return VE_OK;
}

static int step(pm *m, int *stop) {
    m->at = m->pos;
    uint8_t op = m->b[m->pos++];
    uint64_t x = 0;
    switch (op) {
    case 0x80:
        if (m->at != 0 || take_uint(m, 1, &x) != VE_OK || x != 2)
            return fail_at(m, "PROTO other than 2 at the start (torch.save writes protocol 2)");
        return VE_OK;
    case '}':
        return push_new(m, PV_DICT, 0, m->ndicts++, 0);
    case '(':
        if (m->nmarks == MAX_MARKS) return fail_at(m, "MARKs nested deeper than 64");
        m->marks[m->nmarks++] = m->sp;
        return VE_OK;
    case 'X':
        return op_binunicode(m);
    case 'c':
        return op_global(m);
    case 'q':
        return take_uint(m, 1, &x) != VE_OK ? VE_FAIL : memo_put(m, x);
    case 'r':
        return take_uint(m, 4, &x) != VE_OK ? VE_FAIL : memo_put(m, x);
    case 'h':
        return take_uint(m, 1, &x) != VE_OK ? VE_FAIL : memo_get(m, x);
    case 'j':
        return take_uint(m, 4, &x) != VE_OK ? VE_FAIL : memo_get(m, x);
    case 'J':
        if (take_uint(m, 4, &x) != VE_OK) return VE_FAIL;
        return push_new(m, PV_INT, 0, 0, (int32_t)(uint32_t)x);
    case 'K':
    case 'M':
        if (take_uint(m, op == 'K' ? 1 : 2, &x) != VE_OK) return VE_FAIL;
        return push_new(m, PV_INT, 0, 0, (int64_t)x);
    case 0x8a:
        return op_long1(m);
    case 't':
        return op_tuple(m, -1);
    case ')':
        return op_tuple(m, 0);
    case 0x85:
        return op_tuple(m, 1);
    case 0x86:
        return op_tuple(m, 2);
    case 0x87:
        return op_tuple(m, 3);
    case 'R':
        return op_reduce(m);
    case 'Q':
        return op_persid(m);
    case 0x88:
        return push_new(m, PV_BOOL, 0, 0, 1);
    case 0x89:
        return push_new(m, PV_BOOL, 0, 0, 0);
    case 'N':
        return push_new(m, PV_NONE, 0, 0, 0);
    case 's':
        return op_setitems(m, 0);
    case 'u':
        return op_setitems(m, 1);
    case 'b':
        return op_build(m);
    case '.':
        if (m->sp != 1 || m->nmarks != 0)
            return fail_at(m, "STOP with a stack other than one "
                              "value");
        if (m->pos != m->len) return fail_at(m, "bytes after STOP");
        *stop = 1;
        return VE_OK;
    default:
        return ve_fail("pickle: opcode 0x%02x (%s) is not allowed in a state dict, at byte %zu", op,
                       ve_pickle_op_name(op), m->at);
    }
}

/* The root dict's entries, in order, as tensors. Non-tensor values (an epoch number, say) are
 * skipped; a nested dict is refused, since its tensors would be lost silently. */
static int collect(pm *m, ve_tensor_list *out) {
    const pv *root = &m->v[m->stack[0]];
    if (root->kind != PV_DICT) return ve_fail("pickle: the root object is not a dict");
    for (uint32_t e = 0; e < m->nent; e++) {
        if (m->ent[e].dict != root->a) continue;
        const pv *k = &m->v[m->ent[e].key], *val = &m->v[m->ent[e].val];
        if (k->kind != PV_STR || k->n == 0 || k->n > VE_CKPT_MAX_NAME ||
            memchr(m->b + k->a, 0, k->n))
            return ve_fail("pickle: state dict key %u is not a name of 1 to %d bytes", e,
                           VE_CKPT_MAX_NAME);
        char name[VE_CKPT_MAX_NAME + 1], key[MAX_STORAGE_KEY + 1];
        memcpy(name, m->b + k->a, k->n);
        name[k->n] = 0;
        if (val->kind == PV_DICT)
            return ve_fail("pickle: '%s' is a nested dict; expected a flat state dict", name);
        if (val->kind != PV_TENSOR) continue;
        const ptensor *pt = &m->ts[val->a];
        const pv *st = &m->v[pt->storage], *ks = &m->v[st->a];
        memcpy(key, m->b + ks->a, ks->n);
        key[ks->n] = 0;
        ve_ckpt_tensor t = {.name = name,
                            .dtype = (ve_ckpt_dtype)st->sub,
                            .ndim = pt->ndim,
                            .storage_key = key,
                            .storage_offset = pt->offset,
                            .storage_numel = st->i};
        memcpy(t.shape, pt->shape, sizeof t.shape);
        memcpy(t.strides, pt->strides, sizeof t.strides);
        if (ve_tensor_list_push(out, &t) != VE_OK) return VE_FAIL;
    }
    return VE_OK;
}

int ve_pickle_state_dict(const uint8_t *buf, size_t len, ve_tensor_list *out) {
    if (len == 0 || len > MAX_PICKLE_BYTES)
        return ve_fail("pickle: %zu bytes (expected 1 to 256 MiB)", len);
    pm m = {.b = buf, .len = len, .limit = (uint32_t)len + 16};
    int stop = 0, rc = VE_OK;
    while (rc == VE_OK && !stop) {
        if (m.pos >= m.len) {
            m.at = m.pos;
            rc = fail_at(&m, "pickle ends without STOP");
            break;
        }
        rc = step(&m, &stop);
    }
    if (rc == VE_OK) rc = collect(&m, out);
    free(m.v);
    free(m.stack);
    free(m.items);
    free(m.memo);
    free(m.ent);
    free(m.ts);
    return rc;
}
