/* vksamed-view: the shortcut table (see view_help.h). */
#include "view_help.h"

const view_shortcut VIEW_SHORTCUTS[] = {
    {"left click", "add a foreground point"},
    {"right click", "add a background point"},
    {"left drag", "draw the box (replaces the previous box)"},
    {"wheel, PgUp / PgDn", "previous / next slice (folder or volume)"},
    {"Home / End", "first / last slice"},
    {"Left / Right", "narrower / wider window (contrast)"},
    {"Up / Down", "level up / down (brightness)"},
    {"r", "reset window / level"},
    {"z, Ctrl+Z, Backspace", "undo the last prompt change"},
    {"c", "clear the prompts"},
    {"m", "next multimask candidate (predicted IoU shown)"},
    {"+ / -", "mask opacity up / down"},
    {"1 .. 9", "show / hide class N (semantic mode)"},
    {"0", "show every class"},
    {"s", "save the mask (PNG label map) and the overlay"},
    {"h, F1", "show / hide this help"},
    {"q, Esc", "quit (Esc closes the help first)"},
};
const int VIEW_N_SHORTCUTS = (int)(sizeof VIEW_SHORTCUTS / sizeof VIEW_SHORTCUTS[0]);

void view_help_print(FILE *f) {
    fputs("shortcuts:\n", f);
    for (int i = 0; i < VIEW_N_SHORTCUTS; i++)
        fprintf(f, "  %-22s %s\n", VIEW_SHORTCUTS[i].keys, VIEW_SHORTCUTS[i].what);
}
