/* Host reads and writes of persistent tensors: mapped memory when the device has it, else a
 * staging buffer and a one-shot copy. */
#include <string.h>

#include "graph_internal.h"
#include "status.h"

void ve_staging_destroy(ve_graph *g) {
    if (!g->dev) return;
    if (g->stage_buf) vkDestroyBuffer(g->dev->dev, g->stage_buf, NULL);
    if (g->stage_mem) vkFreeMemory(g->dev->dev, g->stage_mem, NULL);
    g->stage_buf = VK_NULL_HANDLE;
    g->stage_mem = VK_NULL_HANDLE;
    g->stage_ptr = NULL;
    g->stage_bytes = 0;
}

static int staging_alloc(ve_graph *g, VkDeviceSize bytes, VkBuffer *buf, VkDeviceMemory *mem,
                         void **ptr) {
    ve_device *d = g->dev;
    VkBufferCreateInfo bi = {.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
                             .size = bytes,
                             .usage = VK_BUFFER_USAGE_TRANSFER_SRC_BIT |
                                      VK_BUFFER_USAGE_TRANSFER_DST_BIT};
    VE_VK(vkCreateBuffer(d->dev, &bi, NULL, buf));
    VkMemoryRequirements req;
    vkGetBufferMemoryRequirements(d->dev, *buf, &req);
    VkMemoryPropertyFlags want =
        VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
    int type = ve_memory_type(d, req.memoryTypeBits, want | VK_MEMORY_PROPERTY_HOST_CACHED_BIT,
                              want, NULL);
    if (type < 0) return ve_fail("no host-visible memory for a staging buffer");
    VkMemoryAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
                               .allocationSize = req.size,
                               .memoryTypeIndex = (uint32_t)type};
    VE_VK(vkAllocateMemory(d->dev, &ai, NULL, mem));
    VE_VK(vkBindBufferMemory(d->dev, *buf, *mem, 0));
    VE_VK(vkMapMemory(d->dev, *mem, 0, VK_WHOLE_SIZE, 0, ptr));
    return VE_OK;
}

static int transfer(ve_graph *g, ve_tid t, void *host, size_t n, int to_device) {
    if (!g->compiled)
        return ve_fail("tensor %s: compile the graph before host access", ve_tensor_name(g, t));
    if (!ve_tid_valid(g, t)) return ve_fail("host access: invalid tensor id %d", t);
    const ve_trec *r = &g->t[ve_root(g, t)];
    if (!ve_is_persistent(r))
        return ve_fail("tensor %s is transient: call ve_keep() on it before compiling to read it",
                       g->t[t].name);
    if ((int64_t)n != g->t[t].numel)
        return ve_fail("tensor %s has %lld elements, the host buffer %zu", g->t[t].name,
                       (long long)g->t[t].numel, n);
    if (r->block < 0) return ve_fail("tensor %s has no memory", g->t[t].name);
    const ve_block *b = &g->blocks[r->block];
    size_t bytes = n * sizeof(float);
    if (b->mapped) {
        char *p = (char *)b->mapped + ve_byte_offset(g, t);
        if (to_device)
            memcpy(p, host, bytes);
        else
            memcpy(host, p, bytes);
        return VE_OK;
    }
    int rc = VE_OK;
    if (g->stage_bytes < bytes) {
        ve_staging_destroy(g);
        rc = staging_alloc(g, bytes, &g->stage_buf, &g->stage_mem, &g->stage_ptr);
        if (rc == VE_OK)
            g->stage_bytes = bytes;
        else
            ve_staging_destroy(g);
    }
    VkBuffer sb = g->stage_buf;
    void *sp = g->stage_ptr;
    VkCommandBuffer cb;
    if (rc == VE_OK && to_device) memcpy(sp, host, bytes);
    if (rc == VE_OK) rc = ve_oneshot_begin(g->dev, &cb);
    if (rc == VE_OK) {
        VkBufferCopy c = {.srcOffset = to_device ? 0 : ve_byte_offset(g, t),
                          .dstOffset = to_device ? ve_byte_offset(g, t) : 0,
                          .size = bytes};
        if (to_device)
            vkCmdCopyBuffer(cb, sb, b->buffer, 1, &c);
        else
            vkCmdCopyBuffer(cb, b->buffer, sb, 1, &c);
        rc = ve_oneshot_end(g->dev, cb);
    }
    if (rc == VE_OK && !to_device) memcpy(host, sp, bytes);
    return rc;
}

int ve_tensor_write(ve_graph *g, ve_tid t, const float *src, size_t n) {
    return transfer(g, t, (void *)src, n, 1);
}

int ve_tensor_read(ve_graph *g, ve_tid t, float *dst, size_t n) {
    return transfer(g, t, dst, n, 0);
}
