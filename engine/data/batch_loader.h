/* Training batches with a CPU prefetch thread (pthreads): while the caller trains on one batch,
 * the thread shuffles, augments and zooms the next.
 *
 * The order is a pure function of (seed, epoch, position), so a resumed run reproduces the
 * batches of an uninterrupted one without saving any generator state: epoch e's sample order
 * is a Fisher-Yates shuffle drawn from ve_rng_derive(seed, e, 0, 0), and the sample at position
 * p of epoch e (p = index * global batch + row) is augmented with ve_rng_derive(seed, e, p, 1). */
#ifndef VE_DATA_BATCH_LOADER_H
#define VE_DATA_BATCH_LOADER_H

#include <stdint.h>

#include "augment.h"
#include "slices.h"

typedef struct {
    const ve_slice_set *set; /* must outlive the loader, unchanged */
    int batch;               /* samples this loader delivers per batch */
    ve_augment_opts aug;
    uint64_t seed;
    /* Data parallelism: the global batch is batch * shards samples, and this loader delivers
     * rows shard * batch .. (shard + 1) * batch - 1 of it (positions, order and augmentation
     * exactly as one loader of batch * shards). 0 or 1 shards: no sharding. */
    int shard, shards;
} ve_loader_opts;

typedef struct ve_loader ve_loader;

/* Starts the thread and has it prepare batch 0 of epoch 0. NULL with a ve_fail message on error
 * (no samples, fewer samples than the batch, bad sizes, no thread). */
ve_loader *ve_loader_create(const ve_loader_opts *o);
/* Stops the thread (after the batch it is preparing) and frees everything; NULL is fine. */
void ve_loader_destroy(ve_loader *l);
/* floor(n / global batch): the last partial batch is dropped (the graphs have a fixed shape). */
int ve_loader_batches_per_epoch(const ve_loader *l);
/* Positions the loader at (epoch, batch index), epoch >= 0 and 0 <= index < batches per epoch,
 * and starts preparing that batch on the thread (after any batch in progress). */
int ve_loader_seek(ve_loader *l, int64_t epoch, int64_t index);
/* Waits for the prepared batch, copies it out (images [B][3][S][S], labels [B][low][low]),
 * reports its position (either pointer may be NULL), and starts preparing the next one (the
 * next index, rolling over to index 0 of the next epoch) before returning. A failure on the
 * thread is returned here with the thread's message; the loader then prepares the following
 * batch, so the caller may go on or stop. */
int ve_loader_next(ve_loader *l, float *images, float *labels, int64_t *epoch, int64_t *index);

#endif
