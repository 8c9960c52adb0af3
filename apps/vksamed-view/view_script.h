/* vksamed-view --script FILE: synthetic input for tests and demos. Each command becomes real
 * SDL events (SDL_PushEvent), handled by the same code as a person's input; a command runs only
 * when the previous one's result is on screen (the app is idle), so runs are deterministic.
 * Commands, one a line ('#' starts a comment; X, Y are image pixels):
 *   wait-embedding            wait until the slice's embedding (and any prompt) is done
 *   click X Y left|right      a click at the pixel (foreground / background point)
 *   drag X0 Y0 X1 Y1          a left-button drag (a box)
 *   key NAME                  an SDL key name ("m", "PageDown", "F1"); "ctrl+z" adds Ctrl
 *   wheel N                   mouse wheel by N notches (positive: next slices)
 *   screenshot FILE.png       the window as presented
 *   save PREFIX               PREFIX.mask.png and PREFIX.overlay.png
 *   sleep MS                  wait
 *   quit                      exit (the end of the file exits too) */
#ifndef VIEW_SCRIPT_H
#define VIEW_SCRIPT_H

#include "view_app.h"

/* Reads and checks the whole file: a bad line fails here, naming the file and line. */
view_script *view_script_open(const char *path);
void view_script_close(view_script *s);
/* Runs the next command if the app is ready for it. Sets a->quit at the end; on a failing
 * command, a->exit_code = 1 too. */
void view_script_step(view_app *a);

#endif
