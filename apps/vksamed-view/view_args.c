/* vksamed-view: command-line options (see view_args.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "view_args.h"
#include "view_help.h"

static const char USAGE[] =
    "usage: vksamed-view --checkpoint FILE [options] IMAGE | FOLDER | VOLUME.nii[.gz]\n"
    "  --checkpoint FILE    SAM checkpoint (.pth / .safetensors)\n"
    "  --classes N          SAMed semantic mode: N classes + background, all shown at once\n"
    "  --lora FILE          SAMed LoRA file merged into the checkpoint (with --classes)\n"
    "  --axis A --slice N   NIfTI: slicing axis 0|1|2 (default 2) and first slice (middle)\n"
    "  --size S             model input side (default: the preset's; 512 with --classes)\n"
    "  --device SEL         Vulkan device (index or name substring)\n"
    "  --window WxH         window size (default 1024x768)\n"
    "  --opacity F          mask opacity 0..1 (default 0.5)\n"
    "  --save PREFIX        files the s key writes: PREFIX[-sliceN].mask.png / .overlay.png\n"
    "                       (default ./vksamed-view)\n"
    "  --script FILE        drive the program from FILE (one command a line), then exit:\n"
    "                       wait-embedding | click X Y left|right | drag X0 Y0 X1 Y1 |\n"
    "                       key NAME (SDL key name, ctrl+ prefix) | wheel N |\n"
    "                       screenshot FILE.png | save PREFIX | sleep MS | quit\n"
    "                       (X, Y: image pixels; each command waits until the previous one's\n"
    "                       result is on screen)\n";

static int usage_error(const char *what, const char *arg) {
    fprintf(stderr, "vksamed-view: %s%s%s\n%s", what, arg ? " " : "", arg ? arg : "", USAGE);
    return 2;
}

static int parse_long(const char *s, long lo, long hi, long *out) {
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

int view_args_parse(int argc, char **argv, view_args *a) {
    memset(a, 0, sizeof *a);
    a->axis = 2;
    a->slice = -1;
    a->win_w = 1024;
    a->win_h = 768;
    a->opacity = 0.5f;
    a->save = "vksamed-view";
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        if (!strcmp(o, "-h") || !strcmp(o, "--help")) {
            fputs(USAGE, stdout);
            view_help_print(stdout);
            return 0;
        }
        if (o[0] != '-') {
            if (a->image) return usage_error("more than one image given:", o);
            a->image = o;
            continue;
        }
        static const char *const valued[] = {"--checkpoint", "--classes", "--lora",   "--axis",
                                             "--slice",      "--size",    "--device", "--window",
                                             "--opacity",    "--save",    "--script", "--image"};
        int known = 0;
        for (size_t k = 0; k < sizeof valued / sizeof valued[0]; k++)
            known |= !strcmp(o, valued[k]);
        if (!known) return usage_error("unknown option", o);
        if (i + 1 >= argc) return usage_error("a value is missing after", o);
        const char *v = argv[++i];
        long n;
        if (!strcmp(o, "--checkpoint")) {
            a->model.checkpoint = v;
        } else if (!strcmp(o, "--lora")) {
            a->model.lora = v;
        } else if (!strcmp(o, "--device")) {
            a->model.device = v;
        } else if (!strcmp(o, "--save")) {
            a->save = v;
        } else if (!strcmp(o, "--script")) {
            a->script = v;
        } else if (!strcmp(o, "--image")) {
            if (a->image) return usage_error("more than one image given:", v);
            a->image = v;
        } else if (!strcmp(o, "--classes")) {
            if (parse_long(v, 1, 254, &n)) return usage_error("bad --classes (1 to 254):", v);
            a->model.classes = (int)n;
        } else if (!strcmp(o, "--axis")) {
            if (parse_long(v, 0, 2, &n)) return usage_error("bad --axis (0, 1 or 2):", v);
            a->axis = (int)n;
        } else if (!strcmp(o, "--slice")) {
            if (parse_long(v, 0, 1L << 30, &n)) return usage_error("bad --slice:", v);
            a->slice = n;
        } else if (!strcmp(o, "--size")) {
            if (parse_long(v, 16, 8192, &n) || n % 16)
                return usage_error("bad --size (a multiple of 16):", v);
            a->model.size = (int)n;
        } else if (!strcmp(o, "--window")) {
            int w = 0, h = 0;
            char tail;
            if (sscanf(v, "%dx%d%c", &w, &h, &tail) != 2 || w < 320 || h < 240 || w > 8192 ||
                h > 8192)
                return usage_error("bad --window (WxH, at least 320x240):", v);
            a->win_w = w;
            a->win_h = h;
        } else if (!strcmp(o, "--opacity")) {
            char *end;
            float f = strtof(v, &end);
            if (end == v || *end || !(f >= 0 && f <= 1))
                return usage_error("bad --opacity (0 to 1):", v);
            a->opacity = f;
        }
    }
    if (!a->model.checkpoint) return usage_error("--checkpoint is required", NULL);
    if (!a->image) return usage_error("an image, folder or NIfTI volume is required", NULL);
    if (a->model.lora && !a->model.classes) return usage_error("--lora needs --classes", NULL);
    return -1;
}
