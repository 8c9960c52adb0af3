/* vksamed train CONFIG.yaml [key=value ...] [--resume] [--device SEL]: SAMed training (issue #4)
 * as the config says. The run folder (config `output`) receives:
 *   config.yaml         the effective configuration (every key, defaults filled)
 *   log.csv             one row per step (train_log.h)
 *   loss.png            the loss curve, redrawn after every epoch
 *   model.safetensors   the trained weights (LoRA: SAMed's layout; full: the whole state dict)
 *   model.pth           the same written as torch.save would (SAMed's loaders accept it)
 *   state.safetensors   the full training state for --resume (weights, AdamW moments, position)
 * Every file is written atomically, so a run killed at any moment leaves the last complete
 * checkpoint. The next batch is read and augmented on a CPU thread while the device runs the
 * current step (engine/data/batch_loader.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_util.h"
#include "commands.h"
#include "dist.h"
#include "data/batch_loader.h"
#include "io/checkpoint.h"
#include "loss_plot.h"
#include "run_data.h"
#include "sam/preset_detect.h"
#include "sam/samed_train.h"
#include "status.h"
#include "train_log.h"

static int usage(void) {
    fprintf(stderr, "usage: vksamed train CONFIG.yaml [section.key=value ...] [--resume] "
                    "[--device SEL] [--checkpoint SAM.pth] [--lora SAMED_LORA.pth]\n"
                    "  trains as CONFIG says (keys: docs/config.md); key=value overrides a key,\n"
                    "  e.g. train.epochs=2 output=/tmp/run; --resume continues the run in the\n"
                    "  output folder from its last checkpoint (state.safetensors)\n");
    return 2;
}

static const char *in_run(const train_config *c, const char *name, char *buf, size_t n) {
    snprintf(buf, n, "%s/%s", c->output, name);
    return buf;
}

static int save_checkpoint(sam_trainer *t, const train_config *c, int ranks, int64_t step,
                           int64_t updates, int64_t epoch, int64_t index, int final) {
    char p[TC_PATH + 64], s[5][32];
    snprintf(s[0], sizeof s[0], "%lld", (long long)step);
    snprintf(s[1], sizeof s[1], "%lld", (long long)epoch);
    snprintf(s[2], sizeof s[2], "%lld", (long long)index);
    snprintf(s[3], sizeof s[3], "%lld", (long long)updates);
    snprintf(s[4], sizeof s[4], "%lld", (long long)c->batch * ranks);
    const char *keys[5] = {"step", "next_epoch", "next_index", "adamw_step", "global_batch"};
    const char *vals[5] = {s[0], s[1], s[2], s[3], s[4]};
    if (sam_trainer_save_state(t, in_run(c, "state.safetensors", p, sizeof p), 5, keys, vals) !=
            VE_OK ||
        sam_trainer_save_model(t, in_run(c, "model.safetensors", p, sizeof p)) != VE_OK)
        return VE_FAIL;
    /* The .pth export (SAMed-compatible) at the end and with every checkpoint of a LoRA run. */
    if (final || c->finetune != TC_FINETUNE_FULL)
        return sam_trainer_save_model(t, in_run(c, "model.pth", p, sizeof p));
    return VE_OK;
}

/* The base checkpoint must hold a SAM image encoder of the config's preset: a vit_b config with
 * a tiny checkpoint would otherwise train mostly fresh weights without a word. */
static int check_base(const ve_checkpoint *base, const sam_preset *p) {
    sam_ckpt_info in;
    const char *path = ve_checkpoint_path(base);
    if (sam_detect_preset(base, &in) != VE_OK) return ve_fail_context("%s: ", path);
    if (!in.has_image_encoder)
        return ve_fail("%s: no image_encoder.* tensors: not a SAM checkpoint (model.checkpoint)",
                       path);
    if (in.embed_dim != p->embed_dim || in.depth != p->depth)
        return ve_fail("%s holds an image encoder of width %d and depth %d, but model.preset %s "
                       "has width %d and depth %d: a checkpoint of another preset",
                       path, in.embed_dim, in.depth, p->name, p->embed_dim, p->depth);
    return VE_OK;
}

static int64_t meta_int(ve_checkpoint *ck, const char *key, int *ok) {
    const char *v = ve_checkpoint_meta(ck, key);
    char *end;
    long long x = v ? strtoll(v, &end, 10) : 0;
    if (!v || *end || x < 0) *ok = 0;
    return x;
}

int cmd_train(int argc, char **argv) {
    const char *cfg_path = NULL, *dev_sel = NULL, *ckpt = NULL, *lora_file = NULL;
    int resume = 0;
    train_config c;
    memset(&c, 0, sizeof c);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--resume"))
            resume = 1;
        else if (!strcmp(argv[i], "--device") && i + 1 < argc)
            dev_sel = argv[++i];
        else if (!strcmp(argv[i], "--checkpoint") && i + 1 < argc)
            ckpt = argv[++i];
        else if (!strcmp(argv[i], "--lora") && i + 1 < argc)
            lora_file = argv[++i];
        else if (argv[i][0] == '-')
            return usage();
        else if (!cfg_path)
            cfg_path = argv[i];
        else if (!strchr(argv[i], '='))
            return usage();
    }
    if (!cfg_path) return usage();
    /* --checkpoint / --lora are model.checkpoint= / model.lora= (a SAMed LoRA .pth to start
     * from); key=value arguments follow in order. */
    char sets[2][TC_PATH + 32];
    snprintf(sets[0], sizeof sets[0], "model.checkpoint=%s", ckpt ? ckpt : "");
    snprintf(sets[1], sizeof sets[1], "model.lora=%s", lora_file ? lora_file : "");
    const char *pre[2] = {ckpt ? sets[0] : NULL, lora_file ? sets[1] : NULL};
    static const char *const value_flags[] = {"--device", "--checkpoint", "--lora", NULL};
    if (run_config_load(cfg_path, 2, pre, argc, argv, value_flags, &c) != VE_OK) {
        fprintf(stderr, "vksamed train: %s\n", ve_error());
        train_config_free(&c);
        return 2;
    }
    if (!dev_sel && c.device[0]) dev_sel = c.device;
    /* Under mpirun: one rank per process, rank 0 alone writes (dist.h). */
    dist_info dd;
    if (dist_init(&dd) != VE_OK) {
        fprintf(stderr, "vksamed train: %s\n", ve_error());
        train_config_free(&c);
        return 2;
    }
    const int lead = dd.rank == 0, ranks = dd.size;
    char dev_auto[16];
    if (!dev_sel && ranks > 1) {
        /* Ranks on one machine take distinct devices while there are enough. */
        ve_device_info infos[16];
        const int nd = ve_device_list(infos, 16);
        snprintf(dev_auto, sizeof dev_auto, "%d", nd > 0 ? dd.local_rank % nd : 0);
        dev_sel = dev_auto;
    }

    int rc = 1;
    char p[TC_PATH + 64];
    ve_slice_set train = {0};
    ve_device *dev = NULL;
    sam_trainer *t = NULL;
    ve_loader *ld = NULL;
    ve_checkpoint *base = NULL, *lora = NULL, *state = NULL;
    train_csv *csv = NULL;
    train_progress *bar = NULL;
    float *images = NULL, *labels = NULL;
    sam_preset preset;
    sam_train_opts o;
    /* Everything that can fail on bad input is checked before the run folder is touched. */
    if (run_preset(&c, &preset) != VE_OK) goto fail;
    if (resume && !(state = ve_checkpoint_open(in_run(&c, "state.safetensors", p, sizeof p)))) {
        ve_fail_context("--resume: ");
        goto fail;
    }
    if (c.checkpoint[0] && !(base = ve_checkpoint_open(c.checkpoint))) goto fail;
    if (c.lora[0] && !(lora = ve_checkpoint_open(c.lora))) goto fail;
    if (base && check_base(base, &preset) != VE_OK) goto fail;
    if (run_load_split(&c, &c.train, "train", &train) != VE_OK) goto fail;
    /* A fresh run never overwrites an earlier run's checkpoints and log. */
    if (!resume && (access(in_run(&c, "state.safetensors", p, sizeof p), F_OK) == 0 ||
                    access(in_run(&c, "model.safetensors", p, sizeof p), F_OK) == 0)) {
        ve_fail("%s already holds a training run (%s): --resume continues it; choose another "
                "output=FOLDER for a new one (or remove that folder)",
                c.output, p);
        goto fail;
    }
    dev = ve_device_open(dev_sel);
    if (!dev) goto fail;

    sam_train_opts_default(&o, &preset, c.image_size, c.batch);
    o.finetune = c.finetune == TC_FINETUNE_FULL           ? SAM_FT_FULL
                 : c.finetune == TC_FINETUNE_LORA_DECODER ? SAM_FT_LORA_DECODER
                                                          : SAM_FT_LORA;
    o.lora_rank = c.lora_rank;
    if (c.n_lora_blocks >= 0) {
        memset(o.lora_blocks, 0, sizeof o.lora_blocks);
        for (int i = 0; i < c.n_lora_blocks; i++)
            o.lora_blocks[c.lora_blocks[i]] = 1;
    }
    o.loss = (ve_seg_loss_opts){(float)c.ce_weight, (float)c.dice_weight};
    o.adamw = (ve_adamw_opts){(float)c.beta1, (float)c.beta2, (float)c.eps, (float)c.weight_decay};
    o.world = ranks;
    o.allreduce = dist_allreduce_sum;
    t = sam_trainer_create(dev, &o);
    if (!t) goto fail;

    /* step: batches taken; updates: those AdamW applied (a skipped NaN batch applies none). */
    int64_t step = 0, updates = 0, epoch = 0, index = 0;
    /* A resumed run starts like a new one (the base checkpoint, the LoRA file, the same seeded
     * fresh init: frozen tensors are not in the state), then takes the state's trainables,
     * moments and position. */
    sam_init_report rep;
    if (sam_trainer_init_weights(t, base, lora, c.seed, &rep) != VE_OK) goto fail;
    if (state) {
        int ok = 1;
        step = meta_int(state, "step", &ok);
        epoch = meta_int(state, "next_epoch", &ok);
        index = meta_int(state, "next_index", &ok);
        updates =
            ve_checkpoint_meta(state, "adamw_step") ? meta_int(state, "adamw_step", &ok) : step;
        if (!ok) {
            ve_fail("%s: no step / next_epoch / next_index metadata: not a vksamed training "
                    "state",
                    ve_checkpoint_path(state));
            goto fail;
        }
        if (sam_trainer_load_state(t, state) != VE_OK) goto fail;
        /* Saved by another number of ranks: the same sample position in this global batch. */
        const int64_t gb = (int64_t)c.batch * ranks;
        int gok = 1;
        const int64_t saved_gb =
            ve_checkpoint_meta(state, "global_batch") ? meta_int(state, "global_batch", &gok) : gb;
        if (gok && saved_gb > 0 && saved_gb != gb) {
            index = index * saved_gb / gb;
            if (lead)
                fprintf(stderr,
                        "the state was saved with a global batch of %lld, this run's is %lld: "
                        "continuing at sample %lld of epoch %lld (the learning-rate schedule "
                        "follows this run's steps per epoch)\n",
                        (long long)saved_gb, (long long)gb, (long long)(index * gb),
                        (long long)epoch);
        }
        if (lead)
            fprintf(stderr, "resuming at step %lld (epoch %lld, batch %lld)\n", (long long)step,
                    (long long)epoch, (long long)index);
    } else if (lead) {
        fprintf(stderr, "weights: %d tensors from %s, %d from %s, %d freshly initialised\n",
                rep.from_base, base ? c.checkpoint : "(no checkpoint)", rep.from_lora,
                lora ? c.lora : "(no LoRA file)", rep.fresh);
    }
    /* Only now, with the graph built and the weights in, is the run folder touched. */
    if (lead &&
        (run_make_dir(c.output) != VE_OK ||
         (!resume && train_config_write(&c, in_run(&c, "config.yaml", p, sizeof p)) != VE_OK)))
        goto fail;
    ve_loader_opts lo = {
        &train, c.batch, {c.image_size, sam_trainer_label_side(t), c.augment, !c.rot90_flip},
        c.seed, dd.rank, ranks};
    ld = ve_loader_create(&lo);
    if (!ld) goto fail;
    const int64_t bpe = ve_loader_batches_per_epoch(ld);
    if (index >= bpe) epoch++, index = 0; /* a resumed position past this run's last batch */
    if (ve_loader_seek(ld, epoch, index) != VE_OK) goto fail;
    const int64_t total = (int64_t)c.stop_epoch * bpe, max_it = (int64_t)c.epochs * bpe;
    const size_t ni = (size_t)c.batch * 3 * (size_t)c.image_size * (size_t)c.image_size;
    const size_t nl =
        (size_t)c.batch * (size_t)sam_trainer_label_side(t) * (size_t)sam_trainer_label_side(t);
    images = malloc(sizeof(float) * ni);
    labels = malloc(sizeof(float) * nl);
    if (!images || !labels) {
        ve_fail("out of host memory for a batch");
        goto fail;
    }
    if (lead && ranks > 1)
        fprintf(stderr, "data parallel: %d ranks (%s), batch %d each, global batch %d\n", ranks,
                dist_backend(), c.batch, c.batch * ranks);
    if (lead)
        fprintf(stderr,
                "training %s at %d, %d classes, %s; %d samples, batch %d: %lld steps per epoch, "
                "epochs %d of %d (%lld steps); device memory %.1f MiB; run folder %s\n",
                preset.name, c.image_size, c.classes,
                o.finetune == SAM_FT_FULL           ? "full fine-tuning"
                : o.finetune == SAM_FT_LORA_DECODER ? "LoRA on qkv and the decoder's q, v (SAMed_s)"
                                                    : "LoRA on qkv",
                train.n, c.batch * ranks, (long long)bpe, c.stop_epoch, c.epochs, (long long)total,
                (double)sam_trainer_device_bytes(t) / (1024.0 * 1024.0), c.output);
    if (step >= total) {
        if (lead)
            fprintf(stderr, "nothing to do: the run already finished (step %lld of %lld)\n",
                    (long long)step, (long long)total);
        rc = 0;
        goto done;
    }
    if (lead) {
        csv = train_csv_open(in_run(&c, "log.csv", p, sizeof p), step);
        bar = train_progress_create(total, step, stderr, bpe > 0 ? bpe : 1);
        if (!csv || !bar) goto fail;
    }
    const double t_start = bench_now_s();
    double t_prev = t_start;
    int stopped_by_clock = 0;
    /* Test hook (tests/cli/train_test.sh): a NaN pixel in the batch of this step. */
    const char *nan_env = getenv("VKSAMED_TEST_NAN_STEP");
    const long long nan_step = nan_env ? atoll(nan_env) : -1;
    while (step < total) {
        int64_t e, idx;
        if (ve_loader_next(ld, images, labels, &e, &idx) != VE_OK) goto fail;
        const double lr = sam_samed_lr(c.base_lr, c.warmup, max_it, step + 1);
        sam_train_losses L;
        if (step + 1 == nan_step) images[0] = NAN;
        if (sam_trainer_step(t, images, labels, lr, updates + 1, &L) != VE_OK) {
            if (access(in_run(&c, "state.safetensors", p, sizeof p), F_OK) == 0) {
                char msg[1024];
                snprintf(msg, sizeof msg, "%s", ve_error());
                ve_fail("%s; the last checkpoint in %s is intact (--resume continues from it)", msg,
                        c.output);
            }
            goto fail;
        }
        step++;
        if (!isfinite(L.loss)) {
            /* The device skipped the update: the weights are those before this batch. */
            if (c.nan_policy == 0) {
                ve_fail("step %lld (epoch %lld, batch %lld): the loss is %g (CE %g, Dice %g); "
                        "stopped (train.nan: stop; skip would skip such batches); the last "
                        "checkpoint in %s is intact",
                        (long long)step, (long long)e, (long long)idx, L.loss, L.ce, L.dice,
                        c.output);
                goto fail;
            }
            train_progress_note(bar,
                                "step %lld (epoch %lld, batch %lld): the loss is %g: batch "
                                "skipped, weights unchanged (train.nan: skip)",
                                (long long)step, (long long)e, (long long)idx, L.loss);
        } else {
            updates++;
        }
        const double now = bench_now_s();
        const int gbatch = c.batch * ranks;
        if (lead && train_csv_row(csv, step, (int)e, lr, L.loss, L.ce, L.dice,
                                  gbatch / (now - t_prev), now - t_start) != VE_OK)
            goto fail;
        t_prev = now;
        train_progress_update(bar, step, (int)e, L.loss, L.ce, L.dice, lr, gbatch);
        const int epoch_end = idx == bpe - 1;
        /* Every rank stops at the same step (their clocks differ). */
        stopped_by_clock = dist_any(&dd, c.max_minutes > 0 && now - t_start > c.max_minutes * 60.0);
        if ((epoch_end && ((e + 1) % c.save_every == 0)) || step == total || stopped_by_clock) {
            const int64_t ne = epoch_end ? e + 1 : e, ni_ = epoch_end ? 0 : idx + 1;
            if (lead && save_checkpoint(t, &c, ranks, step, updates, ne, ni_,
                                        step == total || stopped_by_clock) != VE_OK)
                goto fail;
        }
        if (lead && (epoch_end || step == total || stopped_by_clock)) {
            char title[160], csvp[TC_PATH + 64];
            snprintf(title, sizeof title, "%s: loss (0.2 CE + 0.8 Dice)", preset.name);
            if (loss_plot_from_csv(in_run(&c, "loss.png", p, sizeof p), title,
                                   in_run(&c, "log.csv", csvp, sizeof csvp), NULL) != VE_OK)
                train_progress_note(bar, "loss curve not drawn: %s", ve_error());
        }
        if (stopped_by_clock) {
            train_progress_note(bar, "stopping after %.1f minutes (train.max_minutes) at step %lld",
                                (now - t_start) / 60.0, (long long)step);
            break;
        }
    }
    train_progress_finish(bar);
    bar = NULL;
    if (lead && ranks > 1) {
        const double all = bench_now_s() - t_start, ar = sam_trainer_allreduce_seconds(t);
        fprintf(stderr, "all-reduce: %.2f s of %.2f s training (%.1f%%, rank 0)\n", ar, all,
                all > 0 ? 100.0 * ar / all : 0.0);
    }
    if (lead)
        fprintf(stderr, "done: %lld steps; model in %s/model.safetensors and model.pth\n",
                (long long)step, c.output);
    rc = 0;
    goto done;
fail:
    if (bar) train_progress_finish(bar);
    bar = NULL;
    if (ranks > 1)
        fprintf(stderr, "vksamed train (rank %d of %d): %s\n", dd.rank, ranks, ve_error());
    else
        fprintf(stderr, "vksamed train: %s\n", ve_error());
    rc = 1;
    dist_abort(&dd, 1); /* the other ranks would wait in the next all-reduce forever */
done:
    if (bar) train_progress_finish(bar);
    train_csv_close(csv);
    ve_loader_destroy(ld);
    sam_trainer_destroy(t);
    if (base) ve_checkpoint_close(base);
    if (lora) ve_checkpoint_close(lora);
    if (state) ve_checkpoint_close(state);
    ve_slice_set_free(&train);
    free(images), free(labels);
    if (dev && ve_device_close(dev) != 0 && rc == 0) rc = 1;
    train_config_free(&c);
    dist_finalize(&dd);
    return rc;
}
