/* Memory planning: a few large blocks, sub-allocated.
 *
 * Persistent block(s): [trainables with gradients, contiguous][their gradients, same order]
 * [everything else persistent]. The first two regions are what one-dispatch optimisers and
 * all-reduces see as flat buffers. Transient block: activations placed greedily by size with
 * their node-index lifetimes, so tensors that are never alive at once share memory.
 *
 * VKSAMED_DEVICE_MEMORY_LIMIT=<bytes|NNKiB|NNMiB|NNGiB> caps the device memory all graphs of
 * the process hold in blocks together, so a small device can be tried on a large one: a block
 * that would pass the cap fails with a message naming it and the sizes. */
#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph_internal.h"
#include "status.h"

static uint64_t round_up(uint64_t x, uint64_t a) {
    return (x + a - 1) / a * a;
}

static uint64_t tensor_bytes(const ve_graph *g, const ve_trec *r) {
    return round_up((uint64_t)r->numel * 4, g->align);
}

static int is_flat_trainable(const ve_trec *r) {
    return r->kind == VE_TRAINABLE && r->alias_of == VE_NONE && r->grad != VE_NONE &&
           r->grad_written;
}

static void compute_lifetimes(ve_graph *g) {
    for (int i = 0; i < g->nt; i++)
        g->t[i].first = g->t[i].last = -1;
    for (int n = 0; n < g->nn; n++)
        for (int b = 0; b < g->nodes[n].n_bind; b++) {
            ve_trec *r = &g->t[ve_root(g, g->nodes[n].bind[b].tensor)];
            if (r->first < 0) r->first = n;
            r->last = n;
        }
}

typedef struct {
    int id;
    uint64_t bytes;
} sized;

static int by_size_desc(const void *a, const void *b) {
    const sized *x = a, *y = b;
    if (x->bytes != y->bytes) return x->bytes < y->bytes ? 1 : -1;
    return x->id - y->id;
}

/* Greedy: biggest first, each at the lowest offset free during its whole lifetime. */
static uint64_t place_transients(ve_graph *g) {
    int n = 0;
    sized *list = malloc(sizeof *list * (size_t)(g->nt ? g->nt : 1));
    int *placed = malloc(sizeof *placed * (size_t)(g->nt ? g->nt : 1));
    uint64_t total = 0;
    if (!list || !placed) {
        free(list);
        free(placed);
        return UINT64_MAX;
    }
    g->transient_naive = 0;
    for (int i = 0; i < g->nt; i++) {
        ve_trec *r = &g->t[i];
        if (r->alias_of != VE_NONE || ve_is_persistent(r) || r->first < 0) continue;
        r->bytes = tensor_bytes(g, r);
        g->transient_naive += r->bytes;
        list[n++] = (sized){i, r->bytes};
    }
    qsort(list, (size_t)n, sizeof *list, by_size_desc);
    int np = 0;
    for (int k = 0; k < n; k++) {
        ve_trec *r = &g->t[list[k].id];
        /* Candidate offsets: 0 and the end of every placed tensor alive at the same time. */
        uint64_t best = UINT64_MAX;
        for (int c = -1; c < np; c++) {
            uint64_t off = c < 0 ? 0 : g->t[placed[c]].offset + g->t[placed[c]].bytes;
            if (c >= 0) {
                const ve_trec *q = &g->t[placed[c]];
                if (q->last < r->first || r->last < q->first) continue;
            }
            if (off >= best) continue;
            int ok = 1;
            for (int j = 0; j < np && ok; j++) {
                const ve_trec *q = &g->t[placed[j]];
                if (q->last < r->first || r->last < q->first) continue; /* not alive together */
                if (off < q->offset + q->bytes && q->offset < off + r->bytes) ok = 0;
            }
            if (ok) best = off;
        }
        r->offset = best;
        placed[np++] = list[k].id;
        if (best + r->bytes > total) total = best + r->bytes;
    }
    free(list);
    free(placed);
    return total;
}

/* Bytes of device memory held in blocks by every graph of the process. */
static _Atomic uint64_t blocks_in_use;

/* The cap from VKSAMED_DEVICE_MEMORY_LIMIT, 0 when unset. */
static int memory_limit(uint64_t *out) {
    const char *v = getenv("VKSAMED_DEVICE_MEMORY_LIMIT");
    *out = 0;
    if (!v || !*v) return VE_OK;
    char *end = NULL;
    errno = 0;
    uintmax_t n = strtoumax(v, &end, 10);
    static const struct {
        const char *suffix;
        int shift;
    } units[] = {{"", 0}, {"B", 0}, {"KiB", 10}, {"MiB", 20}, {"GiB", 30}};
    if (end != v && *v >= '0' && *v <= '9' && errno == 0 && n > 0)
        for (size_t u = 0; u < sizeof units / sizeof units[0]; u++)
            if (!strcmp(end, units[u].suffix) && n <= (UINT64_MAX >> units[u].shift)) {
                *out = (uint64_t)n << units[u].shift;
                return VE_OK;
            }
    return ve_fail("VKSAMED_DEVICE_MEMORY_LIMIT=\"%s\": expected a positive size in bytes, or "
                   "a number with KiB, MiB or GiB (e.g. 512MiB)",
                   v);
}

static int alloc_block(ve_graph *g, uint64_t size, int transient) {
    ve_device *d = g->dev;
    uint64_t cap = 0;
    if (memory_limit(&cap) != VE_OK) return VE_FAIL;
    uint64_t in_use = atomic_load(&blocks_in_use);
    if (cap && (size > cap || in_use > cap - size))
        return ve_fail("device memory: the graph's %s block of %" PRIu64 " bytes (%.1f MiB) "
                       "does not fit: %" PRIu64 " bytes already in use, limit %" PRIu64
                       " bytes (%.1f MiB, VKSAMED_DEVICE_MEMORY_LIMIT)",
                       transient ? "activation" : "weights and state", size,
                       (double)size / 1048576.0, in_use, cap, (double)cap / 1048576.0);
    ve_block *nb = realloc(g->blocks, sizeof *nb * (size_t)(g->nblocks + 1));
    if (!nb) return ve_fail("out of host memory for memory blocks");
    g->blocks = nb;
    ve_block *b = &g->blocks[g->nblocks];
    memset(b, 0, sizeof *b);
    b->size = size;
    b->transient = transient;
    VkBufferCreateInfo bi = {
        .sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
        .size = size,
        .usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_UNIFORM_TEXEL_BUFFER_BIT |
                 VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT,
        .sharingMode = VK_SHARING_MODE_EXCLUSIVE};
    VE_VK(vkCreateBuffer(d->dev, &bi, NULL, &b->buffer));
    g->nblocks++;
    VkMemoryRequirements req;
    vkGetBufferMemoryRequirements(d->dev, b->buffer, &req);
    const VkMemoryPropertyFlags local = VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT;
    const VkMemoryPropertyFlags mapped =
        VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
    /* Device-local and host-visible when the device has it (CPU drivers, resizable BAR);
     * otherwise device-local, with staging copies for host access. */
    VkMemoryPropertyFlags got = 0;
    VkResult r = VK_ERROR_OUT_OF_DEVICE_MEMORY;
    /* VKSAMED_FAULT=oom:N: the process's N-th block fails as on a full device (tests). */
    const int inject = ve_fault_due("oom", ++d->allocs);
    int type = ve_memory_type(d, req.memoryTypeBits, local | mapped, local | mapped, &got);
    if (type >= 0) {
        VkMemoryAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
                                   .allocationSize = req.size,
                                   .memoryTypeIndex = (uint32_t)type};
        r = inject ? VK_ERROR_OUT_OF_DEVICE_MEMORY
                   : vkAllocateMemory(d->dev, &ai, NULL, &b->memory);
    }
    if (r != VK_SUCCESS) {
        type = ve_memory_type(d, req.memoryTypeBits, local, 0, &got);
        if (type < 0)
            return ve_fail("no usable memory type for a %llu-byte block", (unsigned long long)size);
        VkMemoryAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
                                   .allocationSize = req.size,
                                   .memoryTypeIndex = (uint32_t)type};
        r = inject ? VK_ERROR_OUT_OF_DEVICE_MEMORY
                   : vkAllocateMemory(d->dev, &ai, NULL, &b->memory);
        if (r != VK_SUCCESS)
            return ve_fail("device memory: allocating the graph's %s block of %" PRIu64
                           " bytes (%.1f MiB) on %s failed with %s (%" PRIu64
                           " bytes already in use by vksamed): the model does not fit this "
                           "device; a smaller batch or input size needs less",
                           transient ? "activation" : "weights and state", (uint64_t)req.size,
                           (double)req.size / 1048576.0, d->info.name, ve_vk_result_name(r),
                           atomic_load(&blocks_in_use));
    }
    atomic_fetch_add(&blocks_in_use, b->size);
    VE_VK(vkBindBufferMemory(d->dev, b->buffer, b->memory, 0));
    /* VKSAMED_FORCE_STAGING=1: host access through the staging path even where the memory is
     * mappable, so CPU-only CI tests the path discrete GPUs take. */
    const char *force = getenv("VKSAMED_FORCE_STAGING");
    if ((got & mapped) == mapped && !(force && *force == '1'))
        VE_VK(vkMapMemory(d->dev, b->memory, 0, VK_WHOLE_SIZE, 0, &b->mapped));
    return VE_OK;
}

static uint64_t block_limit(const ve_graph *g) {
    uint64_t lim = ve_device_get_info(g->dev)->max_allocation_size;
    if (lim == 0 || lim > ((uint64_t)1 << 30)) lim = (uint64_t)1 << 30;
    return lim / g->align * g->align;
}

int ve_plan_memory(ve_graph *g) {
    compute_lifetimes(g);
    const uint64_t limit = block_limit(g);

    /* Persistent: flat regions first, in block 0. */
    uint64_t flat = 0;
    for (int i = 0; i < g->nt; i++)
        if (is_flat_trainable(&g->t[i])) flat += tensor_bytes(g, &g->t[i]);
    if (g->flat_params != VE_NONE && flat != (uint64_t)g->flat_numel * 4)
        return ve_fail("optimiser: trainables received gradients after the optimiser was added");
    if (2 * flat > limit)
        return ve_fail("trainable weights (%llu bytes, with gradients twice that) exceed one "
                       "memory block (%llu bytes)",
                       (unsigned long long)flat, (unsigned long long)limit);
    int block = g->nblocks; /* first persistent block */
    uint64_t off = 0, grad_off = flat;
    g->trainable_elements = 0;
    for (int i = 0; i < g->nt; i++) {
        ve_trec *r = &g->t[i];
        if (!is_flat_trainable(r)) continue;
        ve_trec *gr = &g->t[r->grad];
        r->block = gr->block = block;
        r->bytes = gr->bytes = tensor_bytes(g, r);
        r->offset = off;
        gr->offset = grad_off;
        off += r->bytes;
        grad_off += r->bytes;
        g->trainable_elements += (uint64_t)r->numel;
    }
    if (g->flat_params != VE_NONE) {
        g->t[g->flat_params] = (ve_trec){.block = block,
                                         .offset = 0,
                                         .bytes = flat,
                                         .name = "trainables(flat)",
                                         .kind = VE_STATE,
                                         .ndim = 1,
                                         .shape = {g->flat_numel},
                                         .numel = g->flat_numel,
                                         .grad = VE_NONE,
                                         .grad_of = VE_NONE,
                                         .alias_of = VE_NONE,
                                         .flat = VE_FLAT_PARAMS};
        g->t[g->flat_grads] = g->t[g->flat_params];
        snprintf(g->t[g->flat_grads].name, sizeof g->t[0].name, "gradients(flat)");
        g->t[g->flat_grads].offset = flat;
        g->t[g->flat_grads].flat = VE_FLAT_GRADS;
    }
    off = grad_off;
    uint64_t sizes[64] = {0};
    int nblk = 1;
    for (int i = 0; i < g->nt; i++) {
        ve_trec *r = &g->t[i];
        if (r->alias_of != VE_NONE || !ve_is_persistent(r) || r->block >= 0 || r->flat) continue;
        if (r->grad_of != VE_NONE && is_flat_trainable(&g->t[r->grad_of])) continue;
        r->bytes = tensor_bytes(g, r);
        if (r->bytes > limit)
            return ve_fail("tensor %s (%llu bytes) exceeds one memory block (%llu bytes)", r->name,
                           (unsigned long long)r->bytes, (unsigned long long)limit);
        if (off + r->bytes > limit) {
            sizes[nblk - 1] = off;
            if (++nblk > 64) return ve_fail("persistent tensors need more than 64 memory blocks");
            off = 0;
        }
        r->block = block + nblk - 1;
        r->offset = off;
        off += r->bytes;
    }
    sizes[nblk - 1] = off;
    for (int b = 0; b < nblk; b++)
        if (alloc_block(g, sizes[b] ? sizes[b] : g->align, 0) != VE_OK) return VE_FAIL;

    /* Transient. */
    uint64_t total = place_transients(g);
    if (total == UINT64_MAX) return ve_fail("out of host memory planning activations");
    if (total > limit)
        return ve_fail("activations need %llu bytes at peak, over one memory block (%llu bytes)",
                       (unsigned long long)total, (unsigned long long)limit);
    if (total > 0) {
        int tb = g->nblocks;
        if (alloc_block(g, total, 1) != VE_OK) return VE_FAIL;
        for (int i = 0; i < g->nt; i++) {
            ve_trec *r = &g->t[i];
            if (r->alias_of == VE_NONE && !ve_is_persistent(r) && r->first >= 0) r->block = tb;
        }
    }

    /* Persistent tensors start at zero (optimiser moments, gradients, unset inputs). */
    VkCommandBuffer cb;
    if (ve_oneshot_begin(g->dev, &cb) != VE_OK) return VE_FAIL;
    for (int b = 0; b < g->nblocks; b++)
        if (!g->blocks[b].transient) vkCmdFillBuffer(cb, g->blocks[b].buffer, 0, VK_WHOLE_SIZE, 0);
    return ve_oneshot_end(g->dev, cb);
}

void ve_memory_destroy(ve_graph *g) {
    if (!g->dev) return;
    VkDevice dev = g->dev->dev;
    for (int b = 0; b < g->nblocks; b++) {
        if (g->blocks[b].mapped) vkUnmapMemory(dev, g->blocks[b].memory);
        if (g->blocks[b].buffer) vkDestroyBuffer(dev, g->blocks[b].buffer, NULL);
        if (g->blocks[b].memory) {
            vkFreeMemory(dev, g->blocks[b].memory, NULL);
            atomic_fetch_sub(&blocks_in_use, g->blocks[b].size);
        }
    }
    free(g->blocks);
    g->blocks = NULL;
    g->nblocks = 0;
}
