/* vksamed-view: the keyboard and mouse shortcuts, one table for the help overlay, --help and
 * the README. */
#ifndef VIEW_HELP_H
#define VIEW_HELP_H

#include <stdio.h>

typedef struct {
    const char *keys, *what;
} view_shortcut;

extern const view_shortcut VIEW_SHORTCUTS[];
extern const int VIEW_N_SHORTCUTS;

void view_help_print(FILE *f);

#endif
