/* tests/gradcheck/hostile_reference.c — nabla-gradcheck --reference DIR reads files from
 * outside; a hostile one must make it report a failure, never read out of bounds.
 * Writes variants of DIR/relu.safetensors and checks how nabla-gradcheck takes each:
 *  - "grad_inputs" listing input 0 forty times (overflowed arrays of 16 on the stack);
 *  - "grad_inputs": ["a"] or [1.5] (were taken as input 0 and 1).
 * Usage: hostile_reference GRADCHECK REF_DIR
 */
#include <cjson/cJSON.h>
#include <nabla/nabla.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int failures;

static void expect(bool ok, const char *what, const char *out) {
  if (!ok) {
    fprintf(stderr, "FAIL: %s\n---- output:\n%s\n----\n", what, out ? out : "");
    failures++;
  }
}

/* Run argv with stdout+stderr captured; returns the wait status. */
static int run(char *const argv[], char **out) {
  char tmpl[] = "/tmp/nabla-hostile-ref-out.XXXXXX";
  int fd = mkstemp(tmpl);
  if (fd < 0) return -1;
  unlink(tmpl);
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(fd, 1);
    dup2(fd, 2);
    execv(argv[0], argv);
    _exit(127);
  }
  int status = -1;
  waitpid(pid, &status, 0);
  off_t size = lseek(fd, 0, SEEK_END);
  *out = calloc((size_t)size + 1, 1);
  if (*out && size > 0 && pread(fd, *out, (size_t)size, 0) < 0) (*out)[0] = '\0';
  close(fd);
  return status;
}

/* Save relu's reference with sample 0's "grad_inputs" replaced by `gi` (JSON) and, if
 * given, tensor s0.grad0 replaced; run the harness on it; check the failure named. */
static void variant(const char *gc, const char *op, nb_safetensors *f, const char *gi, nb_tensor *grad0,
                    const char *needle) {
  char dir[] = "/tmp/nabla-hostile-ref.XXXXXX", path[64];
  if (!mkdtemp(dir)) exit(2);
  snprintf(path, sizeof path, "%s/%s.safetensors", dir, op);
  cJSON *ref = cJSON_Parse(nb_safetensors_metadata(f, "reference"));
  cJSON *s0 = cJSON_GetArrayItem(cJSON_GetObjectItem(ref, "samples"), 0);
  if (gi) cJSON_ReplaceItemInObject(s0, "grad_inputs", cJSON_Parse(gi));
  char *json = cJSON_PrintUnformatted(ref);
  const char *meta[64];
  int nm = 0;
  for (int i = 0; i < nb_safetensors_metadata_count(f) && nm < 62; i++) {
    const char *k = nb_safetensors_metadata_key(f, i);
    meta[nm++] = k;
    meta[nm++] = strcmp(k, "reference") ? nb_safetensors_metadata(f, k) : json;
  }
  meta[nm] = NULL;
  int n = nb_safetensors_count(f);
  const char **names = calloc((size_t)n, sizeof *names);
  nb_tensor **ts = calloc((size_t)n, sizeof *ts);
  for (int i = 0; i < n; i++) {
    names[i] = nb_safetensors_name(f, i);
    ts[i] = grad0 && !strcmp(names[i], "s0.grad0") ? grad0 : nb_safetensors_get(f, names[i]);
  }
  if (nb_safetensors_save(path, n, names, ts, meta) < 0) {
    fprintf(stderr, "cannot write %s: %s\n", path, nb_last_error());
    exit(2);
  }
  char *argv[] = {(char *)gc, "--op", (char *)op, "--no-gradcheck", "--reference", dir, NULL}, *out = NULL;
  int st = run(argv, &out);
  char what[256];
  snprintf(what, sizeof what, "exit 1 naming \"%s\" (status %d)", needle, st);
  expect(WIFEXITED(st) && WEXITSTATUS(st) == 1, what, out);
  expect(out && strstr(out, needle) != NULL, what, out);
  expect(out && !strstr(out, "CRASHED"), "no crash", out);
  free(out);
  free(names);
  free(ts);
  free(json);
  cJSON_Delete(ref);
  unlink(path);
  rmdir(dir);
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: hostile_reference GRADCHECK REF_DIR\n");
    return 2;
  }
  nb_scope_begin();
  char src[4096];
  snprintf(src, sizeof src, "%s/relu.safetensors", argv[2]);
  nb_safetensors *f = nb_safetensors_load(src);
  if (!f) {
    fprintf(stderr, "%s\n", nb_last_error());
    return 2;
  }
  char many[256] = "[0";
  for (int i = 1; i < 40; i++) strcat(many, ",0");
  strcat(many, "]");
  variant(argv[1], "relu", f, many, NULL, "reference metadata: \"grad_inputs\" lists 0 twice");
  variant(argv[1], "relu", f, "[\"a\"]", NULL, "reference metadata: \"grad_inputs\" is not a list of indices in [0, 1)");
  variant(argv[1], "relu", f, "[1.5]", NULL, "reference metadata: \"grad_inputs\" is not a list of indices in [0, 1)");
  nb_safetensors_free(f);
  nb_scope_end();
  if (!failures) printf("ok: hostile reference files reported, not crashed on\n");
  return failures ? 1 : 0;
}
