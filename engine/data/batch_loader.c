/* The batch loader (batch_loader.h): one worker thread prepares one batch at a time into the
 * loader's buffers; a mutex and a condition variable hand batches and requests over. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch_loader.h"
#include "status.h"

enum { IDLE, REQUESTED, READY };

struct ve_loader {
    ve_loader_opts o;
    int per_epoch;
    size_t image_floats, label_floats; /* of one sample */
    float *images, *labels;            /* the batch being or last prepared */
    int *order;                        /* the shuffle of order_epoch */
    int64_t order_epoch;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int state, quit;
    int64_t epoch, index; /* the batch requested or ready */
    int rc;               /* its result, with msg (ve_error is per thread) */
    char msg[1024];
};

/* Epoch e's order: Fisher-Yates from ve_rng_derive(seed, e, 0, 0). */
static void shuffle(ve_loader *l, int64_t epoch) {
    if (l->order_epoch == epoch) return;
    int n = l->o.set->n;
    ve_rng r;
    ve_rng_derive(&r, l->o.seed, (uint64_t)epoch, 0, 0);
    for (int i = 0; i < n; i++)
        l->order[i] = i;
    for (int i = n - 1; i > 0; i--) {
        int j = ve_rng_int(&r, 0, i + 1), t = l->order[i];
        l->order[i] = l->order[j];
        l->order[j] = t;
    }
    l->order_epoch = epoch;
}

/* Runs on the worker thread, without the lock: the buffers are the worker's until READY. */
static int prepare(ve_loader *l, int64_t epoch, int64_t index) {
    shuffle(l, epoch);
    for (int b = 0; b < l->o.batch; b++) {
        int64_t pos = (index * l->o.shards + l->o.shard) * l->o.batch + b;
        ve_rng r;
        ve_rng_derive(&r, l->o.seed, (uint64_t)epoch, (uint64_t)pos, 1);
        if (ve_augment_sample(&l->o.set->s[l->order[pos]], &l->o.aug, &r,
                              l->images + (size_t)b * l->image_floats,
                              l->labels + (size_t)b * l->label_floats) != VE_OK)
            return ve_fail_context("batch %lld of epoch %lld: ", (long long)index,
                                   (long long)epoch);
    }
    return VE_OK;
}

static void *worker(void *arg) {
    ve_loader *l = arg;
    pthread_mutex_lock(&l->mu);
    for (;;) {
        while (l->state != REQUESTED && !l->quit)
            pthread_cond_wait(&l->cv, &l->mu);
        if (l->quit) break;
        int64_t e = l->epoch, i = l->index;
        pthread_mutex_unlock(&l->mu);
        int rc = prepare(l, e, i);
        pthread_mutex_lock(&l->mu);
        l->rc = rc;
        snprintf(l->msg, sizeof l->msg, "%s", rc == VE_OK ? "" : ve_error());
        l->state = READY;
        pthread_cond_broadcast(&l->cv);
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

/* With the lock held: waits until the worker is not preparing. */
static void wait_not_requested(ve_loader *l) {
    while (l->state == REQUESTED)
        pthread_cond_wait(&l->cv, &l->mu);
}

static void request(ve_loader *l, int64_t epoch, int64_t index) {
    l->epoch = epoch;
    l->index = index;
    l->state = REQUESTED;
    pthread_cond_broadcast(&l->cv);
}

static int check_opts(const ve_loader_opts *o) {
    if (!o || !o->set || o->set->n < 1) return ve_fail("loader: no samples");
    const int shards = o->shards > 1 ? o->shards : 1;
    if (o->batch < 1 || (int64_t)o->batch * shards > o->set->n)
        return ve_fail("loader: batch %d x %d shards with %d samples (1 <= global batch <= "
                       "samples expected)",
                       o->batch, shards, o->set->n);
    if (shards > 1 && (o->shard < 0 || o->shard >= shards))
        return ve_fail("loader: shard %d of %d", o->shard, shards);
    if (o->aug.size < 1 || o->aug.low < 1 || o->aug.low > o->aug.size || o->aug.size > 8192)
        return ve_fail("loader: sizes S=%d, low=%d (1 <= low <= S <= 8192 expected)", o->aug.size,
                       o->aug.low);
    return VE_OK;
}

/* Frees the buffers and the loader (the thread and its sync objects are gone or never were). */
static void free_loader(ve_loader *l) {
    free(l->images);
    free(l->labels);
    free(l->order);
    free(l);
}

ve_loader *ve_loader_create(const ve_loader_opts *o) {
    if (check_opts(o) != VE_OK) return NULL;
    ve_loader *l = calloc(1, sizeof *l);
    if (!l) {
        ve_fail("loader: out of memory");
        return NULL;
    }
    l->o = *o;
    if (l->o.shards < 1) l->o.shards = 1, l->o.shard = 0;
    l->per_epoch = o->set->n / (o->batch * l->o.shards);
    l->image_floats = (size_t)3 * o->aug.size * o->aug.size;
    l->label_floats = (size_t)o->aug.low * o->aug.low;
    l->images = malloc(l->image_floats * (size_t)o->batch * sizeof *l->images);
    l->labels = malloc(l->label_floats * (size_t)o->batch * sizeof *l->labels);
    l->order = malloc((size_t)o->set->n * sizeof *l->order);
    l->order_epoch = -1;
    if (!l->images || !l->labels || !l->order) {
        ve_fail("loader: out of memory for a batch of %d at S=%d", o->batch, o->aug.size);
        free_loader(l);
        return NULL;
    }
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv, NULL);
    request(l, 0, 0);
    int err = pthread_create(&l->thread, NULL, worker, l);
    if (err) {
        ve_fail("loader: cannot start the prefetch thread: %s", strerror(err));
        pthread_cond_destroy(&l->cv);
        pthread_mutex_destroy(&l->mu);
        free_loader(l);
        return NULL;
    }
    return l;
}

void ve_loader_destroy(ve_loader *l) {
    if (!l) return;
    pthread_mutex_lock(&l->mu);
    l->quit = 1;
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
    pthread_join(l->thread, NULL);
    pthread_cond_destroy(&l->cv);
    pthread_mutex_destroy(&l->mu);
    free_loader(l);
}

int ve_loader_batches_per_epoch(const ve_loader *l) {
    return l ? l->per_epoch : 0;
}

int ve_loader_seek(ve_loader *l, int64_t epoch, int64_t index) {
    if (!l) return ve_fail("loader seek: no loader");
    if (epoch < 0 || index < 0 || index >= l->per_epoch)
        return ve_fail("loader seek: epoch %lld, batch %lld (0..%d per epoch)", (long long)epoch,
                       (long long)index, l->per_epoch - 1);
    pthread_mutex_lock(&l->mu);
    wait_not_requested(l);
    request(l, epoch, index);
    pthread_mutex_unlock(&l->mu);
    return VE_OK;
}

int ve_loader_next(ve_loader *l, float *images, float *labels, int64_t *epoch, int64_t *index) {
    if (!l || !images || !labels) return ve_fail("loader next: missing argument");
    pthread_mutex_lock(&l->mu);
    wait_not_requested(l);
    int64_t e = l->epoch, i = l->index;
    int rc = l->rc;
    char msg[sizeof l->msg];
    memcpy(msg, l->msg, sizeof msg);
    if (rc == VE_OK) {
        memcpy(images, l->images, l->image_floats * (size_t)l->o.batch * sizeof *images);
        memcpy(labels, l->labels, l->label_floats * (size_t)l->o.batch * sizeof *labels);
    }
    if (i + 1 < l->per_epoch)
        request(l, e, i + 1);
    else
        request(l, e + 1, 0);
    pthread_mutex_unlock(&l->mu);
    if (epoch) *epoch = e;
    if (index) *index = i;
    return rc == VE_OK ? VE_OK : ve_fail("%s", msg);
}
