/* tests/transformer/test_layers.c — Embedding, LayerNorm, GELU, MultiheadAttention and the
 * pre-LN block: PyTorch's names, shapes and printouts, forward and every gradient against
 * PyTorch in float64 (gen_reference.py), nb_module_to_dtype with gradients, buffers and
 * an optimizer built before the conversion, and constructor errors. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static nb_safetensors *open_ref(const char *name) {
  const char *root = getenv("NABLA_SOURCE_ROOT");
  char path[1024];
  snprintf(path, sizeof path, "%s/tests/transformer/%s", root ? root : ".", name);
  nb_safetensors *f = nb_safetensors_load(path);
  ck_assert_msg(f != NULL, "%s: %s", path, nb_last_error());
  return f;
}

START_TEST(test_print_like_pytorch) {
  nb_safetensors *f = open_ref("golden.safetensors");
  nb_module *blk = nb_transformer_block_new(128, 4, 512, true, NULL);
  char *s = nb_module_to_string(blk);
  ck_assert_str_eq(s, nb_safetensors_metadata(f, "repr_block"));
  free(s);
  nb_module *mha = nb_multihead_attention_new(128, 4, true, NULL);
  s = nb_module_to_string(mha);
  ck_assert_str_eq(s, nb_safetensors_metadata(f, "repr_mha"));
  free(s);
  nb_module_free(blk);
  nb_module_free(mha);
  nb_safetensors_free(f);
  struct {
    nb_module *m;
    const char *want;
  } cases[] = {
      {nb_embedding_new(65, 128, NB_NO_PADDING, NULL), "Embedding(65, 128)"},
      {nb_embedding_new(65, 128, -65, NULL), "Embedding(65, 128, padding_idx=0)"},
      {nb_layer_norm_new(2, (int64_t[]){3, 4}, 1e-6, false), "LayerNorm((3, 4), eps=1e-06, elementwise_affine=False)"},
      {nb_gelu_new("tanh"), "GELU(approximate='tanh')"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    ck_assert_msg(cases[i].m != NULL, "%s", nb_last_error());
    s = nb_module_to_string(cases[i].m);
    ck_assert_str_eq(s, cases[i].want);
    free(s);
    nb_module_free(cases[i].m);
  }
}
END_TEST

START_TEST(test_block_parameters) {
  nb_module *blk = nb_transformer_block_new(8, 2, 32, true, NULL);
  nb_named_tensors *ps = nb_module_named_parameters(blk);
  static const char *const names[] = {
      "ln_1.weight", "ln_1.bias", "attn.in_proj_weight", "attn.in_proj_bias", "attn.out_proj.weight",
      "attn.out_proj.bias", "ln_2.weight", "ln_2.bias", "mlp.0.weight", "mlp.0.bias", "mlp.2.weight", "mlp.2.bias"};
  ck_assert_int_eq(ps->n, 12);
  for (int i = 0; i < 12; i++) ck_assert_str_eq(ps->names[i], names[i]);
  nb_test_assert_shape(ps->tensors[2], 2, (int64_t[]){24, 8});
  /* PyTorch's init: zero in_proj and out_proj biases, LayerNorm 1 and 0 */
  ck_assert_double_eq(nb_item(nb_sum(nb_abs(ps->tensors[3]))), 0);
  ck_assert_double_eq(nb_item(nb_sum(nb_abs(ps->tensors[5]))), 0);
  ck_assert_double_eq(nb_item(nb_sum(ps->tensors[0])), 8);
  ck_assert_int_eq(nb_module_num_parameters(blk, false), 4 * 8 + 24 * 8 + 24 + 8 * 8 + 8 + 32 * 8 + 32 + 8 * 32 + 8);
  nb_named_tensors_free(ps);
  /* an Embedding's padding row starts at zero */
  nb_module *emb = nb_embedding_new(5, 3, 2, NULL);
  const float *w = nb_data(nb_module_get(emb, "weight"));
  for (int j = 0; j < 3; j++) ck_assert(w[2 * 3 + j] == 0 && w[j] != 0);
  nb_module_free(emb);
  nb_module_free(blk);
}
END_TEST

/* Load a state file into the module converted to dt, run forward and backward of
 * sum(w * out), and compare the output and every gradient with PyTorch's float64 ones
 * (float32: within 1e-4 relative, the GPT golden test's bar). */
static void check_golden(nb_module *m, const char *state, const char *prefix, bool block, nb_dtype dt) {
  double tol = dt == NB_F64 ? 1e-11 : 1e-4;
  ck_assert_int_eq(nb_module_to_dtype(m, dt), 0);
  ck_assert_int_ge(nb_module_load(m, state, true), 0);
  nb_safetensors *f = open_ref("golden.safetensors");
  nb_tensor *x = nb_detach(nb_convert(nb_test_golden(f, "%s.x", prefix), dt));
  ck_assert_int_eq(nb_set_requires_grad(x, true), 0);
  nb_tensor *y = nb_module_forward(m, x);
  nb_test_assert_close_tensors(y, nb_test_golden(f, "%s.out", prefix), tol, "out");
  nb_tensor *w = nb_convert(nb_test_golden(f, "%s.w", prefix), dt);
  ck_assert_int_eq(nb_backward(nb_sum(nb_mul(y, w)), NULL, 0), 0);
  nb_test_assert_close_tensors(nb_grad(x), nb_test_golden(f, "%s.grad.x", prefix), tol, "grad x");
  nb_named_tensors *ps = nb_module_named_parameters(m);
  for (int i = 0; i < ps->n; i++) {
    char key[256];
    snprintf(key, sizeof key, "%s.grad.%s", prefix, ps->names[i]);
    ck_assert_int_eq(nb_dtype_of(nb_grad(ps->tensors[i])), dt);
    nb_test_assert_close_tensors(nb_grad(ps->tensors[i]), nb_safetensors_get(f, key), tol, key);
  }
  ck_assert_int_eq(ps->n, block ? 12 : 4);
  nb_named_tensors_free(ps);
  nb_safetensors_free(f);
}

static char *ref_path(const char *name) {
  static char path[1024];
  const char *root = getenv("NABLA_SOURCE_ROOT");
  snprintf(path, sizeof path, "%s/tests/transformer/%s", root ? root : ".", name);
  return path;
}

START_TEST(test_block_matches_pytorch) {
  for (int k = 0; k < 2; k++) {
    nb_module *blk = nb_transformer_block_new(8, 2, 32, true, NULL);
    check_golden(blk, ref_path("block_state.safetensors"), "block", true, k ? NB_F32 : NB_F64);
    nb_module_free(blk);
  }
}
END_TEST

START_TEST(test_mha_matches_pytorch) {
  for (int k = 0; k < 2; k++) {
    nb_module *mha = nb_multihead_attention_new(8, 2, true, NULL);
    check_golden(mha, ref_path("mha_state.safetensors"), "mha", false, k ? NB_F32 : NB_F64);
    nb_module_free(mha);
  }
}
END_TEST

/* Self-attention takes q, k and v from one product with the whole in_proj_weight; three
 * distinct inputs take them block by block. Equal values must give equal outputs and
 * gradients either way (causal and not). */
START_TEST(test_mha_self_and_separate_agree) {
  nb_scope_begin();
  nb_generator *g = nb_generator_new(3);
  nb_module *mha = nb_multihead_attention_new(8, 2, true, g);
  nb_tensor *bias = nb_module_get(mha, "in_proj_bias");
  nb_tensor *rb = nb_rand_range(1, (int64_t[]){24}, -1, 1, NB_F32, g);
  ck_assert_int_eq(nb_set_data(bias, rb), 0); /* a bias that is not zero */
  nb_tensor *x = nb_rand_range(3, (int64_t[]){2, 5, 8}, -1, 1, NB_F32, g);
  for (int causal = 0; causal < 2; causal++) {
    nb_tensor *w = nb_module_get(mha, "in_proj_weight");
    ck_assert_int_eq(nb_module_zero_grad(mha, true), 0);
    nb_tensor *a = nb_multihead_attention(mha, x, x, x, causal);
    ck_assert_msg(a && nb_backward(nb_sum(nb_mul(a, a)), NULL, 0) == 0, "%s", nb_last_error());
    nb_tensor *gw = nb_clone(nb_grad(w)), *gb = nb_clone(nb_grad(bias));
    ck_assert_int_eq(nb_module_zero_grad(mha, true), 0);
    nb_tensor *b = nb_multihead_attention(mha, x, nb_clone(x), nb_clone(x), causal);
    ck_assert_msg(b && nb_backward(nb_sum(nb_mul(b, b)), NULL, 0) == 0, "%s", nb_last_error());
    nb_test_assert_close_tensors(b, a, 1e-6, "output");
    nb_test_assert_close_tensors(nb_grad(w), gw, 1e-5, "in_proj_weight.grad");
    nb_test_assert_close_tensors(nb_grad(bias), gb, 1e-5, "in_proj_bias.grad");
  }
  nb_module_free(mha);
  nb_generator_free(g);
  nb_scope_end();
}
END_TEST

START_TEST(test_to_dtype) {
  nb_module *seq = nb_sequential_new(2, (nb_module *[]){nb_linear_new(3, 2, true, NULL),
                                                        nb_batch_norm2d_new(2, 1e-5, 0.1)});
  nb_tensor *w = nb_module_get(seq, "0.weight");
  nb_tensor *x = nb_ones(2, (int64_t[]){4, 3}, NB_F32);
  ck_assert_int_eq(nb_backward(nb_sum(nb_module_forward(nb_module_child(seq, "0"), x)), NULL, 0), 0);
  double before[6];
  nb_to_doubles(w, before, 6);
  ck_assert_int_eq(nb_module_to_dtype(seq, NB_F64), 0);
  ck_assert_ptr_eq(nb_module_get(seq, "0.weight"), w); /* same tensor object */
  ck_assert_int_eq(nb_dtype_of(w), NB_F64);
  ck_assert(nb_requires_grad(w) && nb_is_leaf(w));
  ck_assert_int_eq(nb_dtype_of(nb_grad(w)), NB_F64);
  ck_assert_tensor_values(w, before, 6, 0);
  ck_assert_int_eq(nb_dtype_of(nb_module_get(seq, "1.running_var")), NB_F64);
  ck_assert_int_eq(nb_dtype_of(nb_module_get(seq, "1.num_batches_tracked")), NB_I64);
  ck_assert_int_eq(nb_module_to_dtype(seq, NB_F32), 0);
  ck_assert_int_eq(nb_dtype_of(w), NB_F32);
  ck_assert_int_eq(nb_module_to_dtype(seq, NB_I64), NB_EDTYPE);
  ck_assert_error_contains("nb_module_to_dtype: dtype must be float32 or float64 (got int64)");
  nb_module_free(seq);
}
END_TEST

/* An optimizer built before model.double() keeps working: its state follows at the next
 * step, and the result equals an optimizer built after the conversion. */
START_TEST(test_to_dtype_with_optimizer) {
  nb_module *m[2];
  nb_optimizer *o[2];
  nb_generator *g = nb_generator_new(5);
  for (int k = 0; k < 2; k++) {
    nb_manual_seed(g, 5);
    m[k] = nb_linear_new(3, 2, true, g);
    nb_named_tensors *ps = nb_module_named_parameters(m[k]);
    if (k == 1) ck_assert_int_eq(nb_module_to_dtype(m[k], NB_F64), 0);
    o[k] = nb_optimizer_new("adamw", ps->n, ps->tensors, 1, &NB_A_FLOAT("lr", 0.1));
    ck_assert_ptr_nonnull(o[k]);
    nb_named_tensors_free(ps);
  }
  const double xv[6] = {1, -2, 3, 0.5, 0.25, -1};
  for (int step = 0; step < 3; step++) {
    if (step == 1) ck_assert_int_eq(nb_module_to_dtype(m[0], NB_F64), 0); /* after one f32 step */
    for (int k = 0; k < 2; k++) {
      nb_tensor *x = nb_reshape(nb_from_doubles(xv, 6, NB_F64), 2, (int64_t[]){2, 3});
      if (step == 0 && k == 0) x = nb_to_dtype(x, NB_F32);
      ck_assert_int_eq(nb_optimizer_zero_grad(o[k], true), 0);
      ck_assert_int_eq(nb_backward(nb_sum(nb_pow_scalar(nb_module_forward(m[k], x), 2)), NULL, 0), 0);
      ck_assert_int_eq(nb_optimizer_step(o[k]), 0);
    }
  }
  nb_tensor *st = nb_optimizer_param_state(o[0], 0, 0, "exp_avg");
  ck_assert_int_eq(nb_dtype_of(st), NB_F64);
  /* model 0 took one step in float32, so agreement is to float32 rounding */
  nb_test_assert_close_tensors(nb_module_get(m[0], "weight"), nb_module_get(m[1], "weight"), 1e-6, "weight");
  nb_test_assert_close_tensors(nb_module_get(m[0], "bias"), nb_module_get(m[1], "bias"), 1e-6, "bias");
  for (int k = 0; k < 2; k++) {
    nb_optimizer_free(o[k]);
    nb_module_free(m[k]);
  }
  nb_generator_free(g);
}
END_TEST

START_TEST(test_set_data) {
  /* PyTorch's t.data = src: same object, src's dtype, shape and values */
  nb_tensor *t = nb_zeros(1, (int64_t[]){3}, NB_F32);
  const double v[4] = {1, 2, 3, 4};
  ck_assert_int_eq(nb_set_requires_grad(t, true), 0);
  ck_assert_int_eq(nb_set_data(t, nb_reshape(nb_from_doubles(v, 4, NB_F64), 2, (int64_t[]){2, 2})), 0);
  nb_test_assert_shape(t, 2, (int64_t[]){2, 2});
  ck_assert_int_eq(nb_dtype_of(t), NB_F64);
  ck_assert_tensor_values(t, v, 4, 0);
  ck_assert(nb_requires_grad(t) && nb_is_leaf(t));
  ck_assert_int_eq(nb_set_data(nb_mul_scalar(t, 2), t), NB_EINVAL);
  ck_assert_error_contains("nb_set_data: only a leaf's data can be replaced (the tensor was produced by MulBackward)");
  nb_tensor *plain = nb_zeros(2, (int64_t[]){2, 2}, NB_F32);
  ck_assert_int_eq(nb_set_data(nb_transpose(plain, 0, 1), plain), NB_EINVAL);
  ck_assert_error_contains("is a view");
  ck_assert_int_eq(nb_set_data(t, nb_zeros(1, (int64_t[]){2}, NB_I64)), NB_EDTYPE);
  ck_assert_error_contains("a tensor that requires grad can't take int64 data");
}
END_TEST

START_TEST(test_layer_errors) {
  ck_assert_ptr_null(nb_multihead_attention_new(10, 3, true, NULL));
  ck_assert_error_contains("MultiheadAttention: embed_dim 10 must be positive and divisible by num_heads 3");
  ck_assert_ptr_null(nb_embedding_new(4, 2, 4, NULL));
  ck_assert_error_contains("Embedding: need num_embeddings > 0");
  ck_assert_ptr_null(nb_layer_norm_new(0, NULL, 1e-5, true));
  ck_assert_error_contains("LayerNorm: need 1 to");
  ck_assert_ptr_null(nb_gelu_new("erf"));
  ck_assert_error_contains("GELU: approximate must be \"none\" or \"tanh\" (got \"erf\")");
  nb_module *mha = nb_multihead_attention_new(8, 2, true, NULL);
  ck_assert_ptr_null(nb_module_forward(mha, nb_zeros(2, (int64_t[]){5, 8}, NB_F32)));
  ck_assert_error_contains("MultiheadAttention: query [5,8], key and value must be (batch, seq, 8)");
  nb_module *ln = nb_layer_norm_new(1, (int64_t[]){8}, 1e-5, true);
  ck_assert_ptr_null(nb_multihead_attention(ln, NULL, NULL, NULL, false));
  ck_assert_error_contains("nb_multihead_attention: needs a MultiheadAttention module");
  nb_module_free(ln);
  nb_module_free(mha);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("transformer_layers");
  TCase *tc = tcase_create("layers");
  tcase_add_checked_fixture(tc, nb_test_scope_setup, nb_test_scope_teardown);
  tcase_add_test(tc, test_print_like_pytorch);
  tcase_add_test(tc, test_block_parameters);
  tcase_add_test(tc, test_block_matches_pytorch);
  tcase_add_test(tc, test_mha_self_and_separate_agree);
  tcase_add_test(tc, test_mha_matches_pytorch);
  tcase_add_test(tc, test_set_data);
  tcase_add_test(tc, test_to_dtype);
  tcase_add_test(tc, test_to_dtype_with_optimizer);
  tcase_add_test(tc, test_layer_errors);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return nb_test_run(suite()); }
