/* tests/train/test_training.c — the training utilities of the user library: progress
 * output (lines and bar), the metrics log (JSON Lines written, read back, resumed),
 * SVG plots, checkpoints (round trip, all-or-nothing load, generators), classifier
 * evaluation and Ctrl-C handling.
 */
#include <regex.h>
#include <signal.h>
#include <sys/wait.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"


static const char *tpath(const char *name) {
  static char p[2][400];
  static int k;
  k ^= 1;
  snprintf(p[k], sizeof p[k], "%s/%s", nb_test_tmpdir, name);
  return p[k];
}

/* The whole content of a stream written so far. */
static char *slurp(FILE *f) {
  fflush(f);
  long n = ftell(f);
  char *s = calloc((size_t)n + 1, 1);
  rewind(f);
  ck_assert_int_eq(fread(s, 1, (size_t)n, f), n);
  return s;
}

static void assert_matches(const char *text, const char *pattern) {
  regex_t re;
  ck_assert_int_eq(regcomp(&re, pattern, REG_EXTENDED | REG_NEWLINE | REG_NOSUB), 0);
  ck_assert_msg(regexec(&re, text, 0, NULL, 0) == 0, "\"%s\" does not match /%s/", text, pattern);
  regfree(&re);
}

/* ---- progress ------------------------------------------------------------------------ */

START_TEST(progress_lines) {
  FILE *f = tmpfile();
  nb_progress *p = nb_progress_new(f, 3, 4, NB_PROGRESS_AUTO); /* a file: not a terminal */
  ck_assert_ptr_nonnull(p);
  ck_assert(!nb_progress_is_bar(p));
  ck_assert_int_eq(nb_progress_epoch_begin(p, 1, 0), 0);
  for (int b = 0; b < 4; b++) ck_assert_int_eq(nb_progress_update(p, 8, 0.5 + b), 0);
  ck_assert_double_eq(nb_progress_loss(p), 2.0);
  ck_assert_int_eq(nb_progress_batches(p), 4);
  ck_assert_int_eq(nb_progress_epoch_end(p, "test acc %.2f%%", 87.5), 0);
  ck_assert_int_eq(nb_progress_epoch_begin(p, 2, 1), 0); /* resumed after one batch */
  for (int b = 0; b < 3; b++) nb_progress_update(p, 8, 1.0);
  ck_assert_int_eq(nb_progress_batches(p), 4);
  ck_assert_int_eq(nb_progress_epoch_end(p, NULL), 0);
  nb_progress_message(p, "a note");
  nb_progress_free(p);
  char *s = slurp(f);
  /* exactly three lines, no carriage returns or escape sequences */
  ck_assert_ptr_null(strchr(s, '\r'));
  ck_assert_ptr_null(strchr(s, '\033'));
  assert_matches(s, "^epoch 1/3  4 batches  loss 2\\.0000  [0-9]+ img/s  [0-9]+\\.[0-9] s  \\| test acc "
                    "87\\.50%\nepoch 2/3  4 batches  loss 1\\.0000  [0-9]+ img/s  [0-9]+\\.[0-9] s\n"
                    "a note\n$");
  free(s);
  fclose(f);
}
END_TEST

START_TEST(progress_bar_and_quiet) {
  FILE *f = tmpfile();
  nb_progress *p = nb_progress_new(f, 2, 10, NB_PROGRESS_BAR);
  ck_assert(nb_progress_is_bar(p));
  nb_progress_epoch_begin(p, 1, 0);
  for (int b = 0; b < 10; b++) nb_progress_update(p, 4, 0.25);
  nb_progress_epoch_end(p, "done");
  nb_progress_free(p);
  char *s = slurp(f);
  /* the first update draws at once, the last always; the summary replaces the bar */
  assert_matches(s, "^\repoch 1/2 \\[#*\\.+\\]  1/10  loss 0\\.2500  [0-9]+ img/s  [0-9:?]+ left");
  assert_matches(s, "\\[#+\\]  10/10  loss 0\\.2500");
  assert_matches(s, "\r\033\\[Kepoch 1/2  10 batches  loss 0\\.2500  [0-9]+ img/s  [0-9.]+ s  \\| done\n$");
  free(s);
  fclose(f);

  /* other names for the period and the unit (a language model's rounds of tokens) */
  f = tmpfile();
  p = nb_progress_new(f, 3, 2, NB_PROGRESS_BAR);
  ck_assert_int_eq(nb_progress_set_names(p, "round", "tok"), 0);
  ck_assert_int_eq(nb_progress_set_names(p, "a-name-far-too-long", "tok"), NB_EINVAL);
  ck_assert_int_eq(nb_progress_set_names(p, "round", ""), NB_EINVAL);
  nb_progress_epoch_begin(p, 1, 0);
  for (int b = 0; b < 2; b++) nb_progress_update(p, 1024, 4.0);
  nb_progress_epoch_end(p, NULL);
  nb_progress_free(p);
  s = slurp(f);
  assert_matches(s, "^\rround 1/3 \\[[#.]+\\]  1/2  loss 4\\.0000  [0-9]+ tok/s  ");
  assert_matches(s, "\r\033\\[Kround 1/3  2 batches  loss 4\\.0000  [0-9]+ tok/s  [0-9.]+ s\n$");
  free(s);
  fclose(f);

  f = tmpfile();
  p = nb_progress_new(f, 1, 1, NB_PROGRESS_QUIET);
  nb_progress_epoch_begin(p, 1, 0);
  nb_progress_update(p, 1, 3.0);
  nb_progress_epoch_end(p, "x");
  ck_assert_double_eq(nb_progress_loss(p), 3.0);
  nb_progress_free(p);
  ck_assert_int_eq(ftell(f), 0);
  fclose(f);

  ck_assert_ptr_null(nb_progress_new(stdout, 0, 5, NB_PROGRESS_AUTO));
  ck_assert_error_contains("epochs >= 1");
  ck_assert_ptr_null(nb_progress_new(NULL, 1, 5, NB_PROGRESS_AUTO));
}
END_TEST

/* ---- metrics ------------------------------------------------------------------------- */

START_TEST(metrics_log_and_resume) {
  const char *path = tpath("m.jsonl");
  nb_metrics *m = nb_metrics_open(path, -1);
  ck_assert_ptr_nonnull(m);
  for (int s = 1; s <= 6; s++)
    ck_assert_int_eq(nb_metrics_log(m, "batch", 1 + (s > 3), s, 2,
                                     (nb_metric[]){{"loss", 1.0 / s}, {"acc", s == 2 ? NAN : 0.1f * s}}), 0);
  ck_assert_int_eq(nb_metrics_log(m, "epoch", 1, 3, 1, (nb_metric[]){{"test_acc", 0.875}}), 0);
  ck_assert_int_eq(nb_metrics_count(m), 7);
  /* bad names are refused and nothing is logged */
  ck_assert_int_lt(nb_metrics_log(m, "ba tch", 1, 1, 0, NULL), 0);
  ck_assert_int_lt(nb_metrics_log(m, "batch", 1, 1, 1, (nb_metric[]){{"step", 1}}), 0);
  ck_assert_int_lt(nb_metrics_log(m, "batch", 1, 1, 2, (nb_metric[]){{"a", 1}, {"a", 2}}), 0);
  ck_assert_int_eq(nb_metrics_count(m), 7);
  double x[8], y[8];
  ck_assert_int_eq(nb_metrics_series(m, "batch", "loss", x, y, 8), 6);
  ck_assert_double_eq(x[5], 6);
  ck_assert_double_eq(y[5], 1.0 / 6);
  ck_assert_int_eq(nb_metrics_series(m, "epoch", "loss", x, y, 8), 0);
  nb_metrics_close(m);

  /* the file: one JSON object per line, shortest round-trip numbers, null for NaN */
  FILE *f = fopen(path, "r");
  char line[512];
  ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
  ck_assert_str_eq(line, "{\"kind\":\"batch\",\"epoch\":1,\"step\":1,\"loss\":1,\"acc\":0.1}\n");
  ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
  ck_assert_str_eq(line, "{\"kind\":\"batch\",\"epoch\":1,\"step\":2,\"loss\":0.5,\"acc\":null}\n");
  ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
  ck_assert_str_eq(line, "{\"kind\":\"batch\",\"epoch\":1,\"step\":3,\"loss\":0.3333333333333333,"
                         "\"acc\":0.3}\n");
  fclose(f);

  /* resuming at step 3 keeps steps <= 3 (read back), drops the rest, appends after */
  m = nb_metrics_open(path, 3);
  ck_assert_ptr_nonnull(m);
  ck_assert_int_eq(nb_metrics_count(m), 4);
  ck_assert_int_eq(nb_metrics_series(m, "batch", "acc", x, y, 8), 3);
  ck_assert(isnan(y[1]));
  ck_assert_int_eq(nb_metrics_series(m, "epoch", "test_acc", x, y, 8), 1);
  ck_assert_double_eq(y[0], 0.875);
  ck_assert_int_eq(nb_metrics_log(m, "batch", 2, 4, 1, (nb_metric[]){{"loss", 0.25}}), 0);
  nb_metrics_close(m);
  f = fopen(path, "r");
  int lines = 0;
  while (fgets(line, sizeof line, f)) lines++;
  fclose(f);
  ck_assert_int_eq(lines, 5);

  /* a missing file resumes as empty; a file that is not a metrics log is refused */
  m = nb_metrics_open(tpath("none.jsonl"), 10);
  ck_assert_int_eq(nb_metrics_count(m), 0);
  nb_metrics_close(m);
  f = fopen(tpath("bad.jsonl"), "w");
  fputs("{\"kind\":\"batch\",\"epoch\":1,\"step\":1}\nnot json\n", f);
  fclose(f);
  ck_assert_ptr_null(nb_metrics_open(tpath("bad.jsonl"), 5));
  ck_assert_error_contains("bad.jsonl:2");
  /* in memory only */
  m = nb_metrics_open(NULL, -1);
  ck_assert_int_eq(nb_metrics_log(m, "epoch", 1, 1, 1, (nb_metric[]){{"loss", 2}}), 0);
  ck_assert_int_eq(nb_metrics_count(m), 1);
  nb_metrics_close(m);
}
END_TEST

/* ---- plots --------------------------------------------------------------------------- */

static char *read_file(const char *path) {
  FILE *f = fopen(path, "rb");
  ck_assert_ptr_nonnull(f);
  fseek(f, 0, SEEK_END);
  char *s = slurp(f);
  fclose(f);
  return s;
}

START_TEST(plot_svg) {
  double x[5] = {1, 2, 3, 4, 5}, y[5] = {2.3, 1.1, NAN, 0.6, 0.5};
  nb_plot_series s[2] = {{"loss <train> & \"test\"", 5, x, y, NULL, false, true},
                         {"epochs", 2, (double[]){2, 4}, (double[]){1.5, 0.7}, "#d62728", true, false}};
  nb_plot_panel p = {"loss", "step", "value", 2, s};
  ck_assert_int_eq(nb_plot_svg(tpath("p.svg"), "A & B", 1, &p), 0);
  char *svg = read_file(tpath("p.svg"));
  ck_assert_ptr_nonnull(strstr(svg, "<svg xmlns=\"http://www.w3.org/2000/svg\""));
  ck_assert_ptr_nonnull(strstr(svg, "A &amp; B"));
  ck_assert_ptr_nonnull(strstr(svg, "loss &lt;train&gt; &amp; &quot;test&quot;"));
  ck_assert_ptr_null(strstr(svg, "nan"));
  /* the NaN breaks the faint line into two polylines; the markers are circles */
  ck_assert_ptr_nonnull(strstr(strstr(strstr(svg, "<polyline") + 1, "<polyline") + 1, "<polyline"));
  ck_assert_ptr_nonnull(strstr(svg, "<circle"));
  ck_assert_str_eq(svg + strlen(svg) - 7, "</svg>\n");
  free(svg);
  /* empty panels and a constant series still give finite axes */
  nb_plot_series c = {"flat", 3, (double[]){0, 1, 2}, (double[]){1, 1, 1}, NULL, false, false};
  nb_plot_panel two[2] = {{NULL, NULL, NULL, 0, NULL}, {"c", NULL, NULL, 1, &c}};
  ck_assert_int_eq(nb_plot_svg(tpath("q.svg"), NULL, 2, two), 0);
  svg = read_file(tpath("q.svg"));
  ck_assert_ptr_null(strstr(svg, "nan"));
  ck_assert_ptr_null(strstr(svg, "inf"));
  free(svg);
  ck_assert_int_lt(nb_plot_svg(tpath("r.svg"), NULL, 0, NULL), 0);
  ck_assert_int_lt(nb_plot_svg(tpath("no/such/dir.svg"), NULL, 1, &p), 0);
  ck_assert_error_contains("no/such/dir.svg");

  /* the training figure from a metrics log */
  nb_metrics *m = nb_metrics_open(NULL, -1);
  for (int k = 1; k <= 3000; k++) /* more points than are drawn: averaged down */
    nb_metrics_log(m, "batch", 1 + k / 1000, k, 2, (nb_metric[]){{"loss", 2.0 / k}, {"acc", k / 3000.0}});
  for (int e = 1; e <= 3; e++)
    nb_metrics_log(m, "epoch", e, 1000 * e, 4, (nb_metric[]){{"loss", 1.0 / e}, {"acc", 0.3 * e},
                   {"test_loss", 1.1 / e}, {"test_acc", 0.29 * e}});
  ck_assert_int_eq(nb_plot_training_svg(m, tpath("t.svg"), "training"), 0);
  nb_metrics_close(m);
  svg = read_file(tpath("t.svg"));
  ck_assert_ptr_nonnull(strstr(svg, ">accuracy</text>"));
  ck_assert_ptr_nonnull(strstr(svg, ">train (epoch mean)</text>"));
  ck_assert_ptr_nonnull(strstr(svg, ">test</text>"));
  ck_assert_uint_lt(strlen(svg), 200000);
  free(svg);
  /* a language model's log has losses only: one panel, no empty accuracy axes */
  nb_metrics *lm = nb_metrics_open(NULL, -1);
  ck_assert_ptr_nonnull(lm);
  for (int k = 1; k <= 20; k++) nb_metrics_log(lm, "batch", 1, k, 1, (nb_metric[]){{"loss", 4.0 / k}});
  nb_metrics_log(lm, "epoch", 1, 20, 2, (nb_metric[]){{"loss", 0.5}, {"test_loss", 0.6}});
  ck_assert_int_eq(nb_plot_training_svg(lm, tpath("lm.svg"), "language model"), 0);
  nb_metrics_close(lm);
  svg = read_file(tpath("lm.svg"));
  ck_assert_ptr_nonnull(strstr(svg, ">loss</text>"));
  ck_assert_ptr_null(strstr(svg, ">accuracy</text>"));
  free(svg);
}
END_TEST

/* ---- checkpoints ------------------------------------------------------------------------ */

static nb_module *small_net(nb_generator *g) {
  return nb_sequential_new(3, (nb_module *[]){nb_linear_new(4, 3, true, g), nb_batch_norm2d_new(3, 1e-5, 0.1),
                                              nb_linear_new(3, 2, true, g)});
}

/* One Adam step on random data, so the optimizer has state. */
static void train_step(nb_module *net, nb_optimizer *o, nb_generator *g) {
  nb_scope_begin();
  nb_tensor *x = nb_randn(2, (int64_t[]){5, 4}, NB_F32, g);
  nb_module *l0 = nb_module_child(net, "0"), *l2 = nb_module_child(net, "2");
  nb_tensor *h = nb_module_forward(l2, nb_relu(nb_module_forward(l0, x)));
  ck_assert_int_eq(nb_optimizer_zero_grad(o, true), 0);
  ck_assert_int_eq(nb_backward(nb_sum(nb_mul(h, h)), NULL, 0), 0);
  ck_assert_int_eq(nb_optimizer_step(o), 0);
  nb_scope_end();
}

static bool same_state(nb_module *a, nb_module *b) {
  nb_named_tensors *la = nb_module_state_dict(a), *lb = nb_module_state_dict(b);
  bool same = la->n == lb->n;
  for (int i = 0; same && i < la->n; i++)
    same = !strcmp(la->names[i], lb->names[i]) &&
           !memcmp(nb_data(la->tensors[i]), nb_data(lb->tensors[i]),
                   (size_t)nb_numel(la->tensors[i]) * nb_dtype_size(nb_dtype_of(la->tensors[i])));
  nb_named_tensors_free(la);
  nb_named_tensors_free(lb);
  return same;
}

START_TEST(checkpoint_roundtrip) {
  nb_generator *g = nb_generator_new(3), *g2 = nb_generator_new(77);
  nb_module *a = small_net(g), *b = small_net(g2);
  nb_named_tensors *pa = nb_module_named_parameters(a), *pb = nb_module_named_parameters(b);
  nb_optimizer *oa = nb_optimizer_new("adam", pa->n, pa->tensors, 1, (nb_attr[]){NB_A_FLOAT("lr", 0.01)});
  nb_optimizer *ob = nb_optimizer_new("adam", pb->n, pb->tensors, 1, (nb_attr[]){NB_A_FLOAT("lr", 0.5)});
  for (int i = 0; i < 3; i++) train_step(a, oa, g);
  nb_checkpoint ca = {a, oa, 2, (nb_generator *[]){g, NULL}, 2, 7, 31};
  ck_assert_int_eq(nb_checkpoint_save(&ca, tpath("c.ckpt")), 0);
  /* the same future from the checkpoint: restore into b, step both, compare */
  nb_checkpoint cb = {b, ob, 1, (nb_generator *[]){g2}, 0, 0, 0};
  ck_assert_int_eq(nb_checkpoint_load(&cb, tpath("c.ckpt")), 0);
  ck_assert_int_eq(cb.epoch, 2);
  ck_assert_int_eq(cb.batch, 7);
  ck_assert_int_eq(cb.step, 31);
  ck_assert_double_eq(nb_optimizer_get_lr(ob, 0), 0.01);
  ck_assert_uint_eq(nb_generator_u64(g2), nb_generator_u64(g)); /* same stream position */
  ck_assert(same_state(a, b));
  train_step(a, oa, g);
  train_step(b, ob, g2);
  ck_assert(same_state(a, b));
  /* the model part is a plain state_dict under "model." */
  nb_safetensors *f = nb_safetensors_load(tpath("c.ckpt"));
  nb_safetensors *mf = nb_safetensors_select(f, "model.");
  ck_assert_int_eq(nb_safetensors_count(mf), 9); /* 2 Linears x 2 + BatchNorm2d: 2 + 3 buffers */
  ck_assert_ptr_nonnull(nb_safetensors_get(mf, "1.running_mean"));
  nb_safetensors_free(mf);
  nb_safetensors_free(f);
  nb_optimizer_free(oa);
  nb_optimizer_free(ob);
  nb_named_tensors_free(pa);
  nb_named_tensors_free(pb);
  nb_module_free(a);
  nb_module_free(b);
  nb_generator_free(g);
  nb_generator_free(g2);
}
END_TEST

START_TEST(checkpoint_errors_change_nothing) {
  nb_generator *g = nb_generator_new(5);
  nb_module *a = small_net(g);
  nb_named_tensors *pa = nb_module_named_parameters(a);
  nb_optimizer *adam = nb_optimizer_new("adam", pa->n, pa->tensors, 0, NULL);
  train_step(a, adam, g);
  nb_checkpoint c = {a, adam, 1, &g, 1, 0, 1};
  ck_assert_int_eq(nb_checkpoint_save(&c, tpath("c.ckpt")), 0);
  ck_assert_int_eq(nb_module_save(a, tpath("plain.safetensors")), 0);

  nb_module *b = small_net(g);
  nb_module *before = small_net(NULL);
  nb_named_tensors *pb = nb_module_named_parameters(b);
  nb_optimizer *sgd = nb_optimizer_new("sgd", pb->n, pb->tensors, 1, (nb_attr[]){NB_A_FLOAT("lr", 0.1)});
  /* copy b's values into `before` to compare after the failed loads */
  nb_named_tensors *sb = nb_module_state_dict(b), *s0 = nb_module_state_dict(before);
  for (int i = 0; i < sb->n; i++) nb_copy_into(s0->tensors[i], sb->tensors[i]);
  uint64_t st0[2], st1[2];
  nb_generator_get_state(g, st0);

  nb_checkpoint cb = {b, sgd, 1, &g, 9, 9, 9};
  /* an optimizer of another kind: the model was loaded first and is put back */
  ck_assert_int_lt(nb_checkpoint_load(&cb, tpath("c.ckpt")), 0);
  ck_assert_error_contains("optimizer");
  ck_assert(same_state(b, before));
  ck_assert_int_eq(cb.epoch, 9);
  nb_generator_get_state(g, st1);
  ck_assert(st0[1] == st1[1]);
  /* not a checkpoint; a missing file; a model of another shape */
  ck_assert_int_lt(nb_checkpoint_load(&cb, tpath("plain.safetensors")), 0);
  ck_assert_error_contains("not a nabla training checkpoint");
  ck_assert_int_eq(nb_checkpoint_load(&cb, tpath("missing.ckpt")), NB_ENOTFOUND);
  nb_module *other = nb_sequential_new(1, (nb_module *[]){nb_linear_new(4, 5, true, g)});
  nb_checkpoint co = {other, NULL, 0, NULL, 0, 0, 0};
  ck_assert_int_lt(nb_checkpoint_load(&co, tpath("c.ckpt")), 0);
  ck_assert_error_contains("optimizer state but no optimizer");
  /* more generators asked for than saved */
  nb_checkpoint cg = {b, adam, 2, (nb_generator *[]){g, g}, 0, 0, 0};
  ck_assert_int_lt(nb_checkpoint_load(&cg, tpath("c.ckpt")), 0);
  ck_assert_error_contains("generator 1");
  ck_assert(same_state(b, before));
  /* bad arguments */
  nb_checkpoint neg = {a, NULL, 0, NULL, -1, 0, 0};
  ck_assert_int_eq(nb_checkpoint_save(&neg, tpath("x.ckpt")), NB_EINVAL);
  ck_assert_int_lt(nb_checkpoint_save(&c, tpath("no/such/dir.ckpt")), 0);

  nb_named_tensors_free(sb);
  nb_named_tensors_free(s0);
  nb_optimizer_free(adam);
  nb_optimizer_free(sgd);
  nb_named_tensors_free(pa);
  nb_named_tensors_free(pb);
  nb_module_free(a);
  nb_module_free(b);
  nb_module_free(before);
  nb_module_free(other);
  nb_generator_free(g);
}
END_TEST

/* ---- evaluation ------------------------------------------------------------------------ */

START_TEST(evaluate_classifier) {
  /* A Linear(2,3) with identity-like weights over 6 points whose label is known. */
  nb_module *net = nb_linear_new(2, 3, true, NULL);
  float w[6] = {1, 0, 0, 1, -1, -1}, bias[3] = {0, 0, 0};
  memcpy(nb_data(nb_module_get(net, "weight")), w, sizeof w);
  memcpy(nb_data(nb_module_get(net, "bias")), bias, sizeof bias);
  float xv[12] = {2, 0, 3, 1, 0, 2, 1, 4, -1, -1, -2, -3};
  int64_t yv[6] = {0, 0, 1, 1, 2, 0}; /* the last one is predicted 2: wrong */
  nb_tensor *x = nb_from_data(xv, 2, (int64_t[]){6, 2}, NB_F32);
  nb_tensor *y = nb_from_data(yv, 1, (int64_t[]){6}, NB_I64);
  nb_dataset *ds = nb_tensor_dataset_new(x, y);
  nb_dataloader_opts o = nb_dataloader_defaults();
  o.batch_size = 4;
  nb_dataloader *dl = nb_dataloader_new(ds, &o);
  nb_class_eval e = {0};
  ck_assert_int_eq(nb_evaluate_classifier(net, dl, 3, &e), 0);
  ck_assert_int_eq(e.n, 6);
  ck_assert_double_eq_tol(e.accuracy, 5.0 / 6, 1e-12);
  ck_assert_int_eq(e.total[0], 3);
  ck_assert_int_eq(e.correct[0], 2);
  ck_assert_int_eq(e.correct[1], 2);
  ck_assert_int_eq(e.correct[2], 1);
  ck_assert(nb_module_is_training(net)); /* restored */
  nb_tensor *logits = nb_linear(x, nb_module_get(net, "weight"), nb_module_get(net, "bias"));
  ck_assert_double_eq_tol(e.loss, nb_item(nb_cross_entropy(logits, y, NULL, "mean", -100, 0)), 1e-6);
  ck_assert_int_eq(nb_count_correct(logits, y), 5);
  ck_assert_int_lt(nb_count_correct(logits, x), 0);
  ck_assert_int_lt(nb_evaluate_classifier(net, dl, 2, &e), 0); /* 3 logits, not 2 */
  ck_assert_error_contains("[N,2]");
  ck_assert_ptr_null(e.correct);
  nb_class_eval_clear(&e);
  nb_dataloader_free(dl);
  nb_dataset_free(ds);
  nb_module_free(net);
}
END_TEST

/* ---- Ctrl-C ------------------------------------------------------------------------------ */

START_TEST(interrupt_once_then_default) {
  struct sigaction before, now;
  sigaction(SIGINT, NULL, &before);
  ck_assert_int_eq(nb_interrupt_install(NULL), 0);
  ck_assert(!nb_interrupted());
  ck_assert_int_eq(raise(SIGINT), 0);
  ck_assert(nb_interrupted());
  sigaction(SIGINT, NULL, &now);
  ck_assert_ptr_eq((void *)now.sa_handler, (void *)SIG_DFL); /* a second Ctrl-C kills */
  ck_assert_int_eq(nb_interrupt_install(NULL), 0); /* installing again clears the flag */
  ck_assert(!nb_interrupted());
  ck_assert_int_eq(nb_interrupt_uninstall(), 0); /* the handler from before comes back */
  sigaction(SIGINT, NULL, &now);
  ck_assert_ptr_eq((void *)now.sa_handler, (void *)before.sa_handler);
  /* in a process of its own: the first Ctrl-C is handled, the second ends it */
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    nb_interrupt_install("first\n");
    raise(SIGINT);
    if (!nb_interrupted()) _exit(3);
    raise(SIGINT);
    _exit(4); /* not reached */
  }
  int status;
  ck_assert_int_eq(waitpid(pid, &status, 0), pid);
  ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGINT, "status %#x", status);
}
END_TEST

static Suite *make(void) {
  Suite *s = suite_create("train");
  TCase *tc = tcase_create("train");
  tcase_add_checked_fixture(tc, nb_test_tmpdir_setup, nb_test_tmpdir_teardown);
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, progress_lines);
  tcase_add_test(tc, progress_bar_and_quiet);
  tcase_add_test(tc, metrics_log_and_resume);
  tcase_add_test(tc, plot_svg);
  tcase_add_test(tc, checkpoint_roundtrip);
  tcase_add_test(tc, checkpoint_errors_change_nothing);
  tcase_add_test(tc, evaluate_classifier);
  tcase_add_test(tc, interrupt_once_then_default);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return nb_test_run(make()); }
