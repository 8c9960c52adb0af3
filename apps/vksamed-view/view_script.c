/* vksamed-view: the script player (see view_script.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "view_script.h"

#define MAX_LINES 4096
#define WAIT_LIMIT_S 600.0 /* a command still waiting after this fails the script */

typedef struct {
    int line;
    char verb[24];
    char arg[1024]; /* the rest of the line */
} command;

struct view_script {
    char path[1024];
    command *cmd;
    int n, next;
    double not_before, wait_start;
};

static int parse_line(const char *path, int line, char *text, command *c) {
    char *hash = strchr(text, '#');
    if (hash) *hash = '\0';
    char *p = text + strspn(text, " \t\r\n");
    size_t n = strlen(p);
    while (n && strchr(" \t\r\n", p[n - 1]))
        p[--n] = '\0';
    if (!n) return 0;
    size_t v = strcspn(p, " \t");
    if (v >= sizeof c->verb) return ve_fail("%s:%d: unknown command \"%s\"", path, line, p);
    memcpy(c->verb, p, v);
    c->verb[v] = '\0';
    snprintf(c->arg, sizeof c->arg, "%s", p + v + strspn(p + v, " \t"));
    c->line = line;
    static const char *const verbs[] = {"wait-embedding", "click", "drag",  "key", "wheel",
                                        "screenshot",     "save",  "sleep", "quit"};
    for (size_t k = 0; k < sizeof verbs / sizeof verbs[0]; k++)
        if (!strcmp(c->verb, verbs[k])) return 1;
    return ve_fail("%s:%d: unknown command \"%s\"", path, line, c->verb);
}

view_script *view_script_open(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) {
        ve_fail("cannot open script %s", path);
        return NULL;
    }
    view_script *s = calloc(1, sizeof *s);
    command *cmd = s ? calloc(MAX_LINES, sizeof *cmd) : NULL;
    if (!cmd) {
        free(s);
        fclose(f);
        ve_fail("out of host memory");
        return NULL;
    }
    s->cmd = cmd;
    snprintf(s->path, sizeof s->path, "%s", path);
    char text[1100];
    int line = 0, rc = 0;
    while (rc >= 0 && fgets(text, sizeof text, f)) {
        line++;
        if (s->n == MAX_LINES) rc = ve_fail("%s: more than %d commands", path, MAX_LINES);
        if (rc >= 0 && (rc = parse_line(path, line, text, &s->cmd[s->n])) > 0) s->n++;
    }
    fclose(f);
    if (rc < 0) {
        view_script_close(s);
        return NULL;
    }
    return s;
}

void view_script_close(view_script *s) {
    if (!s) return;
    free(s->cmd);
    free(s);
}

static int fail(view_app *a, const command *c, const char *why) {
    view_notice(a, 1, "%s:%d: %s %s: %s", a->script->path, c->line, c->verb, c->arg, why);
    a->exit_code = 1;
    a->quit = 1;
    return VE_FAIL;
}

/* Image pixel (x, y) to the window pixel that shows its centre. */
static int to_window(view_app *a, const command *c, double x, double y, int *wx, int *wy) {
    if (x < 0 || y < 0 || x >= a->img.w || y >= a->img.h) {
        char why[96];
        snprintf(why, sizeof why, "outside the %dx%d image", a->img.w, a->img.h);
        return fail(a, c, why);
    }
    const view_layout l = view_get_layout(a);
    *wx = (int)(l.ox + (x + 0.5) * l.scale);
    *wy = (int)(l.oy + (y + 0.5) * l.scale);
    return VE_OK;
}

static void push_button(view_app *a, Uint32 type, int button, int x, int y) {
    SDL_Event e;
    memset(&e, 0, sizeof e);
    e.type = type;
    e.button.windowID = SDL_GetWindowID(a->win);
    e.button.button = (Uint8)button;
    e.button.state = type == SDL_MOUSEBUTTONDOWN ? SDL_PRESSED : SDL_RELEASED;
    e.button.clicks = 1;
    e.button.x = x;
    e.button.y = y;
    SDL_PushEvent(&e);
}

static int cmd_click(view_app *a, const command *c) {
    double x, y;
    char which[16], tail;
    if (sscanf(c->arg, "%lf %lf %15s %c", &x, &y, which, &tail) != 3 ||
        (strcmp(which, "left") && strcmp(which, "right")))
        return fail(a, c, "expected: click X Y left|right");
    int wx, wy;
    if (to_window(a, c, x, y, &wx, &wy) != VE_OK) return VE_FAIL;
    const int b = strcmp(which, "left") ? SDL_BUTTON_RIGHT : SDL_BUTTON_LEFT;
    push_button(a, SDL_MOUSEBUTTONDOWN, b, wx, wy);
    push_button(a, SDL_MOUSEBUTTONUP, b, wx, wy);
    return VE_OK;
}

static int cmd_drag(view_app *a, const command *c) {
    double v[4];
    char tail;
    if (sscanf(c->arg, "%lf %lf %lf %lf %c", &v[0], &v[1], &v[2], &v[3], &tail) != 4)
        return fail(a, c, "expected: drag X0 Y0 X1 Y1");
    int x0, y0, x1, y1;
    if (to_window(a, c, v[0], v[1], &x0, &y0) != VE_OK) return VE_FAIL;
    if (to_window(a, c, v[2], v[3], &x1, &y1) != VE_OK) return VE_FAIL;
    push_button(a, SDL_MOUSEBUTTONDOWN, SDL_BUTTON_LEFT, x0, y0);
    SDL_Event e;
    memset(&e, 0, sizeof e);
    e.type = SDL_MOUSEMOTION;
    e.motion.windowID = SDL_GetWindowID(a->win);
    e.motion.state = SDL_BUTTON_LMASK;
    e.motion.x = x1;
    e.motion.y = y1;
    e.motion.xrel = x1 - x0;
    e.motion.yrel = y1 - y0;
    SDL_PushEvent(&e);
    push_button(a, SDL_MOUSEBUTTONUP, SDL_BUTTON_LEFT, x1, y1);
    return VE_OK;
}

static int cmd_key(view_app *a, const command *c) {
    const char *name = c->arg;
    Uint16 mod = KMOD_NONE;
    if (!strncasecmp(name, "ctrl+", 5)) {
        mod = KMOD_LCTRL;
        name += 5;
    }
    const SDL_Keycode k = SDL_GetKeyFromName(name);
    if (k == SDLK_UNKNOWN) return fail(a, c, "not an SDL key name");
    SDL_Event e;
    memset(&e, 0, sizeof e);
    e.type = SDL_KEYDOWN;
    e.key.windowID = SDL_GetWindowID(a->win);
    e.key.state = SDL_PRESSED;
    e.key.keysym.sym = k;
    e.key.keysym.scancode = SDL_GetScancodeFromKey(k);
    e.key.keysym.mod = mod;
    SDL_PushEvent(&e);
    e.type = SDL_KEYUP;
    e.key.state = SDL_RELEASED;
    SDL_PushEvent(&e);
    return VE_OK;
}

static int run(view_app *a, const command *c) {
    view_script *s = a->script;
    if (!strcmp(c->verb, "click")) return cmd_click(a, c);
    if (!strcmp(c->verb, "drag")) return cmd_drag(a, c);
    if (!strcmp(c->verb, "key")) return cmd_key(a, c);
    if (!strcmp(c->verb, "quit")) {
        a->quit = 1;
        return VE_OK;
    }
    if (!strcmp(c->verb, "wait-embedding"))
        return a->embedded ? VE_OK : fail(a, c, "the slice has no embedding (see above)");
    if (!strcmp(c->verb, "screenshot")) {
        if (!*c->arg) return fail(a, c, "expected: screenshot FILE.png");
        return view_screenshot(a, c->arg) == VE_OK ? VE_OK : fail(a, c, ve_error());
    }
    if (!strcmp(c->verb, "save")) {
        if (!*c->arg) return fail(a, c, "expected: save PREFIX");
        return view_save(a, c->arg) == VE_OK ? VE_OK : fail(a, c, "cannot save (see above)");
    }
    long n;
    char tail;
    if (sscanf(c->arg, "%ld %c", &n, &tail) != 1) return fail(a, c, "expected a whole number");
    if (!strcmp(c->verb, "sleep")) {
        s->not_before = view_now() + (double)n / 1000.0;
        return VE_OK;
    }
    SDL_Event e; /* wheel */
    memset(&e, 0, sizeof e);
    e.type = SDL_MOUSEWHEEL;
    e.wheel.windowID = SDL_GetWindowID(a->win);
    e.wheel.y = (Sint32)n;
    e.wheel.direction = SDL_MOUSEWHEEL_NORMAL;
    SDL_PushEvent(&e);
    return VE_OK;
}

void view_script_step(view_app *a) {
    view_script *s = a->script;
    const double now = view_now();
    if (!view_idle(a) || now < s->not_before) {
        if (!s->wait_start) s->wait_start = now;
        if (now - s->wait_start > WAIT_LIMIT_S && s->next < s->n)
            fail(a, &s->cmd[s->next], "still waiting after 600 s");
        return;
    }
    s->wait_start = 0;
    if (s->next == s->n) {
        a->quit = 1;
        return;
    }
    run(a, &s->cmd[s->next++]);
}
