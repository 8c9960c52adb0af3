/* Compile = plan memory + record one command buffer; run = replay it.
 *
 * A barrier is recorded only before a node that reads or writes memory an earlier node wrote
 * since the last barrier, or writes memory an earlier node read since then (memory ranges, not
 * tensor ids: the planner reuses memory). */
#include <stdlib.h>
#include <string.h>

#include "graph_internal.h"
#include "status.h"

typedef struct {
    int block;
    uint64_t lo, hi;
} range;

typedef struct {
    range *r;
    int n, cap;
} range_set;

static int overlaps(const range_set *s, const range *x) {
    for (int i = 0; i < s->n; i++)
        if (s->r[i].block == x->block && x->lo < s->r[i].hi && s->r[i].lo < x->hi) return 1;
    return 0;
}

static int push_range(range_set *s, range x) {
    if (s->n == s->cap) {
        int cap = s->cap ? 2 * s->cap : 32;
        range *p = realloc(s->r, sizeof *p * (size_t)cap);
        if (!p) return ve_fail("out of host memory tracking hazards");
        s->r = p;
        s->cap = cap;
    }
    s->r[s->n++] = x;
    return VE_OK;
}

static range binding_range(const ve_graph *g, ve_tid t) {
    const ve_trec *r = &g->t[ve_root(g, t)];
    uint64_t bytes = ((uint64_t)g->t[t].numel * 4 + 15) & ~(uint64_t)15;
    uint64_t off = ve_byte_offset(g, t);
    return (range){r->block, off, off + bytes};
}

static int count_bindings(const ve_graph *g, uint32_t *storage, uint32_t *texel) {
    *storage = *texel = 0;
    for (int n = 0; n < g->nn; n++)
        for (int b = 0; b < g->nodes[n].n_bind; b++) {
            if (g->nodes[n].bind[b].type == VE_BIND_TEXEL)
                (*texel)++;
            else
                (*storage)++;
        }
    return VE_OK;
}

static int write_descriptors(ve_graph *g, int n, VkDescriptorSet set) {
    const ve_node_desc *d = &g->nodes[n];
    VkWriteDescriptorSet w[VE_MAX_BINDINGS];
    VkDescriptorBufferInfo bi[VE_MAX_BINDINGS];
    VkBufferView views[VE_MAX_BINDINGS];
    for (int b = 0; b < d->n_bind; b++) {
        ve_tid t = d->bind[b].tensor;
        const ve_trec *root = &g->t[ve_root(g, t)];
        if (root->block < 0)
            return ve_fail("node %s: tensor %s has no memory (never planned)", d->kernel,
                           g->t[t].name);
        VkBuffer buf = g->blocks[root->block].buffer;
        uint64_t bytes = ((uint64_t)g->t[t].numel * 4 + 15) & ~(uint64_t)15;
        w[b] = (VkWriteDescriptorSet){.sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
                                      .dstSet = set,
                                      .dstBinding = (uint32_t)b,
                                      .descriptorCount = 1};
        if (d->bind[b].type == VE_BIND_TEXEL) {
            VkBufferViewCreateInfo vi = {.sType = VK_STRUCTURE_TYPE_BUFFER_VIEW_CREATE_INFO,
                                         .buffer = buf,
                                         .format = VK_FORMAT_R32G32B32A32_SFLOAT,
                                         .offset = ve_byte_offset(g, t),
                                         .range = bytes};
            VE_VK(vkCreateBufferView(g->dev->dev, &vi, NULL, &views[b]));
            g->views[g->nviews++] = views[b];
            w[b].descriptorType = VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER;
            w[b].pTexelBufferView = &views[b];
        } else {
            bi[b] = (VkDescriptorBufferInfo){
                .buffer = buf, .offset = ve_byte_offset(g, t), .range = bytes};
            w[b].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
            w[b].pBufferInfo = &bi[b];
        }
    }
    vkUpdateDescriptorSets(g->dev->dev, (uint32_t)d->n_bind, w, 0, NULL);
    return VE_OK;
}

static void barrier(VkCommandBuffer cb) {
    VkMemoryBarrier mb = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                          .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_SHADER_READ_BIT,
                          .dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT};
    vkCmdPipelineBarrier(cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
                         VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0, 1, &mb, 0, NULL, 0, NULL);
}

/* Records nodes [n0, n1) into cb. */
static int record_segment(ve_graph *g, VkCommandBuffer cb, int n0, int n1, range_set *written,
                          range_set *read) {
    ve_device *d = g->dev;
    VkCommandBufferBeginInfo bi = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    VE_VK(vkBeginCommandBuffer(cb, &bi));
    /* Timestamp n0 is this segment's start (for a later segment it replaces the previous
     * segment's last one: time between submissions is the host's, not a node's). */
    if (g->have_timestamps) {
        vkCmdResetQueryPool(cb, g->qpool, (uint32_t)n0, (uint32_t)(n1 - n0) + 1);
        vkCmdWriteTimestamp(cb, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, g->qpool, (uint32_t)n0);
    }
    /* Host writes before the submit are made visible by the submit itself. The previous
     * replay's (or segment's) writes are ordered by the fence wait; a barrier at the start
     * orders them for the device too. */
    barrier(cb);
    int rc = VE_OK;
    for (int n = n0; n < n1 && rc == VE_OK; n++) {
        const ve_node_desc *nd = &g->nodes[n];
        ve_bind_type types[VE_MAX_BINDINGS];
        int hazard = 0;
        for (int b = 0; b < nd->n_bind; b++) {
            types[b] = nd->bind[b].type;
            range x = binding_range(g, nd->bind[b].tensor);
            if (overlaps(written, &x)) hazard = 1;
            if ((nd->bind[b].access & VE_WRITE) && overlaps(read, &x)) hazard = 1;
        }
        if (hazard) {
            barrier(cb);
            g->barriers++;
            written->n = read->n = 0;
        }
        for (int b = 0; b < nd->n_bind && rc == VE_OK; b++) {
            range x = binding_range(g, nd->bind[b].tensor);
            if (nd->bind[b].access & VE_WRITE) rc = push_range(written, x);
            if (rc == VE_OK && (nd->bind[b].access & VE_READ)) rc = push_range(read, x);
        }
        if (rc != VE_OK) break;
        ve_pipeline *p = ve_pipeline_get(d, nd->kernel, nd->n_bind, types, nd->n_spec, nd->spec);
        if (!p) {
            rc = VE_FAIL;
            break;
        }
        VkDescriptorSet set;
        VkDescriptorSetAllocateInfo si = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
                                          .descriptorPool = g->dpool,
                                          .descriptorSetCount = 1,
                                          .pSetLayouts = &p->set_layout};
        VkResult r = vkAllocateDescriptorSets(d->dev, &si, &set);
        if (r != VK_SUCCESS) {
            rc = ve_vk_fail("vkAllocateDescriptorSets", r);
            break;
        }
        if ((rc = write_descriptors(g, n, set)) != VE_OK) break;
        vkCmdBindPipeline(cb, VK_PIPELINE_BIND_POINT_COMPUTE, p->pipeline);
        vkCmdBindDescriptorSets(cb, VK_PIPELINE_BIND_POINT_COMPUTE, p->layout, 0, 1, &set, 0, NULL);
        uint32_t push[VE_PUSH_WORDS] = {0};
        memcpy(push, nd->push, nd->push_bytes);
        vkCmdPushConstants(cb, p->layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, sizeof push, push);
        vkCmdDispatch(cb, nd->groups[0], nd->groups[1], nd->groups[2]);
        if (g->have_timestamps)
            vkCmdWriteTimestamp(cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, g->qpool,
                                (uint32_t)n + 1);
    }
    if (rc != VE_OK) return rc;
    /* Make the results visible to host reads after the fence. */
    VkMemoryBarrier mb = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                          .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT,
                          .dstAccessMask = VK_ACCESS_HOST_READ_BIT | VK_ACCESS_TRANSFER_READ_BIT};
    vkCmdPipelineBarrier(cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
                         VK_PIPELINE_STAGE_HOST_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 1, &mb, 0,
                         NULL, 0, NULL);
    VE_VK(vkEndCommandBuffer(cb));
    return VE_OK;
}

int ve_record(ve_graph *g) {
    ve_device *d = g->dev;
    uint32_t ns, nt;
    count_bindings(g, &ns, &nt);
    VkDescriptorPoolSize sizes[2];
    uint32_t np = 0;
    if (ns) sizes[np++] = (VkDescriptorPoolSize){VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, ns};
    if (nt) sizes[np++] = (VkDescriptorPoolSize){VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER, nt};
    if (g->nn > 0) {
        VkDescriptorPoolCreateInfo pi = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
                                         .maxSets = (uint32_t)g->nn,
                                         .poolSizeCount = np,
                                         .pPoolSizes = sizes};
        VE_VK(vkCreateDescriptorPool(d->dev, &pi, NULL, &g->dpool));
    }
    g->views = calloc(nt ? nt : 1, sizeof *g->views);
    if (!g->views) return ve_fail("out of host memory for buffer views");

    if (g->nseg < 1) g->nseg = 1;
    VkCommandBufferAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
                                      .commandPool = d->pool,
                                      .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
                                      .commandBufferCount = (uint32_t)g->nseg};
    VE_VK(vkAllocateCommandBuffers(d->dev, &ai, g->cb));
    VkFenceCreateInfo fi = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    VE_VK(vkCreateFence(d->dev, &fi, NULL, &g->fence));
    g->have_timestamps = g->profile && d->info.timestamps;
    if (g->have_timestamps) {
        VkQueryPoolCreateInfo qi = {.sType = VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO,
                                    .queryType = VK_QUERY_TYPE_TIMESTAMP,
                                    .queryCount = (uint32_t)g->nn + 1};
        VE_VK(vkCreateQueryPool(d->dev, &qi, NULL, &g->qpool));
        g->timestamps = calloc((size_t)g->nn + 1, sizeof *g->timestamps);
        if (!g->timestamps) return ve_fail("out of host memory for timestamps");
    }

    range_set written = {0}, read = {0};
    int rc = VE_OK;
    g->barriers = 0;
    for (int k = 0; k < g->nseg && rc == VE_OK; k++) {
        const int n0 = k ? g->cuts[k - 1] : 0, n1 = k + 1 < g->nseg ? g->cuts[k] : g->nn;
        written.n = read.n = 0;
        rc = record_segment(g, g->cb[k], n0, n1, &written, &read);
    }
    free(written.r);
    free(read.r);
    return rc;
}

void ve_record_destroy(ve_graph *g) {
    if (!g->dev) return;
    VkDevice dev = g->dev->dev;
    vkDeviceWaitIdle(dev);
    for (int i = 0; i < g->nviews; i++)
        vkDestroyBufferView(dev, g->views[i], NULL);
    free(g->views);
    g->views = NULL;
    g->nviews = 0;
    if (g->dpool) vkDestroyDescriptorPool(dev, g->dpool, NULL);
    if (g->cb[0]) vkFreeCommandBuffers(dev, g->dev->pool, (uint32_t)g->nseg, g->cb);
    if (g->fence) vkDestroyFence(dev, g->fence, NULL);
    if (g->qpool) vkDestroyQueryPool(dev, g->qpool, NULL);
    free(g->timestamps);
    g->dpool = VK_NULL_HANDLE;
    memset(g->cb, 0, sizeof g->cb);
    g->fence = VK_NULL_HANDLE;
    g->qpool = VK_NULL_HANDLE;
    g->timestamps = NULL;
}

int ve_graph_compile(ve_graph *g, const ve_compile_opts *opts) {
    if (g->compiled) return ve_fail("graph already compiled");
    g->profile = opts && opts->profile;
    if (ve_plan_memory(g) != VE_OK) return ve_fail_context("planning memory: ");
    g->compiled = 1;
    if (ve_record(g) != VE_OK) return ve_fail_context("recording the command buffer: ");
    return VE_OK;
}

/* A failed submission or wait: the device lost (driver reset, GPU hang or removal) or out of
 * memory, named with the graph's node range (one command buffer runs them all). */
static int run_failed(ve_graph *g, const char *call, VkResult r) {
    const char *first = g->nn ? g->nodes[0].op : "-", *last = g->nn ? g->nodes[g->nn - 1].op : "-";
    if (r == VK_ERROR_DEVICE_LOST) {
        g->dev->lost = 1;
        return ve_fail("the Vulkan device %s was lost (VK_ERROR_DEVICE_LOST from %s: a driver "
                       "reset, GPU hang or removal) while running a graph of %d nodes (%s .. %s); "
                       "nothing more can run on it",
                       g->dev->info.name, call, g->nn, first, last);
    }
    if (r == VK_ERROR_OUT_OF_DEVICE_MEMORY || r == VK_ERROR_OUT_OF_HOST_MEMORY)
        return ve_fail("%s running a graph of %d nodes (%s .. %s) on %s: %s", call, g->nn, first,
                       last, g->dev->info.name, ve_vk_result_name(r));
    return ve_vk_fail(call, r);
}

/* Submits segments [k0, k1) in one submission and waits. */
static int submit(ve_graph *g, int k0, int k1) {
    if (!g->compiled) return ve_fail("run: the graph is not compiled");
    ve_device *d = g->dev;
    if (d->lost)
        return ve_fail("the Vulkan device %s was lost earlier: nothing more can run on it",
                       d->info.name);
    VkSubmitInfo si = {.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO,
                       .commandBufferCount = (uint32_t)(k1 - k0),
                       .pCommandBuffers = g->cb + k0};
    VE_VK(vkResetFences(d->dev, 1, &g->fence));
    VkResult r = vkQueueSubmit(d->queue, 1, &si, g->fence);
    if (r != VK_SUCCESS) return run_failed(g, "vkQueueSubmit", r);
    r = vkWaitForFences(d->dev, 1, &g->fence, VK_TRUE, UINT64_MAX);
    if (r == VK_SUCCESS && ve_fault_due("device_lost", ++d->runs)) r = VK_ERROR_DEVICE_LOST;
    if (r != VK_SUCCESS) return run_failed(g, "vkWaitForFences", r);
    /* The timestamps are complete once the last segment ran. */
    if (g->have_timestamps && k1 == g->nseg) g->prof_from = k0 ? g->cuts[k0 - 1] : 0;
    if (g->have_timestamps && k1 == g->nseg)
        VE_VK(vkGetQueryPoolResults(d->dev, g->qpool, 0, (uint32_t)g->nn + 1,
                                    sizeof *g->timestamps * ((size_t)g->nn + 1), g->timestamps,
                                    sizeof *g->timestamps,
                                    VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT));
    return VE_OK;
}

int ve_graph_run(ve_graph *g) {
    return submit(g, 0, g->nseg);
}

int ve_graph_run_segment(ve_graph *g, int k) {
    if (k < 0 || k >= g->nseg)
        return ve_fail("run: segment %d of a graph of %d segments", k, g->nseg);
    return submit(g, k, k + 1);
}

int ve_graph_run_segments(ve_graph *g, int k0, int k1) {
    if (k0 < 0 || k1 > g->nseg || k0 >= k1)
        return ve_fail("run: segments %d .. %d of a graph of %d segments", k0, k1 - 1, g->nseg);
    return submit(g, k0, k1);
}

int ve_graph_segments(const ve_graph *g) {
    return g->nseg < 1 ? 1 : g->nseg;
}

int ve_graph_cut(ve_graph *g) {
    if (g->compiled) return ve_fail("cut: the graph is already compiled");
    if (g->nseg < 1) g->nseg = 1;
    if (g->nn == 0 || (g->nseg > 1 && g->cuts[g->nseg - 2] == g->nn)) return VE_OK;
    if (g->nseg == VE_MAX_SEGMENTS) return ve_fail("cut: more than %d segments", VE_MAX_SEGMENTS);
    g->cuts[g->nseg - 1] = g->nn;
    g->nseg++;
    return VE_OK;
}
