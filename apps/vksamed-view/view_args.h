/* vksamed-view: command-line options. */
#ifndef VIEW_ARGS_H
#define VIEW_ARGS_H

#include "view_worker.h"

typedef struct {
    const char *image;  /* PNG / JPEG, a folder of them, or a NIfTI volume */
    const char *script; /* --script FILE: synthetic input, then exit */
    const char *save;   /* prefix of the files `s` writes */
    view_model_opts model;
    int axis;
    long slice; /* -1: the source's default */
    int win_w, win_h;
    float opacity;
} view_args;

/* Returns -1 when parsed, else the exit code (0 after --help, 2 on a usage error, with the
 * message printed). */
int view_args_parse(int argc, char **argv, view_args *a);

#endif
