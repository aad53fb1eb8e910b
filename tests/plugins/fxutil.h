/* tests/plugins/fxutil.h — helpers for the plugin loader tests: temporary plugin
 * directories made of symlinks or copies of the fixtures, and running a command. */
#ifndef FXUTIL_H
#define FXUTIL_H

#include <stddef.h>

/* Path of fixture `name` ("fx_good") in the build tree; static buffer ring. */
const char *fx_path(const char *name);
/* A new empty temporary directory (removed by fx_cleanup at exit). */
const char *fx_tmpdir(void);
/* dir/file as a symlink to / a copy of fixture `name`. Return 0 or -1. */
int fx_link(const char *dir, const char *file, const char *name);
int fx_copy(const char *dir, const char *file, const char *name);
/* Write `text` to dir/file. */
int fx_write(const char *dir, const char *file, const char *text);
/* Use only `dirs` (colon-separated, may be "") as NABLA_PLUGIN_PATH and an empty system
 * path, so a test sees nothing else. */
void fx_isolate(const char *dirs);
/* Index of the load-report entry whose path ends with `suffix`, or -1. */
int fx_report_find(const char *suffix);
/* Run argv (NULL-terminated) with stdout+stderr captured into a malloc'ed string
 * (*out); returns the exit status, 128+signal if killed, -1 if it could not run. */
int fx_run(char *const argv[], char **out);

#endif
