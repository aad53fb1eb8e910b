/* hessian.c — higher-order gradients in nabla, in three steps.
 *
 *   1. d/dx, d²/dx², d³/dx³ of x³ at x = 3 (27, 18, 6): NB_CREATE_GRAPH makes a gradient
 *      that is itself differentiable.
 *   2. A WGAN-GP gradient penalty: the critic's gradient with respect to its input,
 *      penalised towards norm 1, backpropagated into the critic's weights.
 *   3. The Hessian of a small function with nb_hessian (torch.autograd.functional.hessian).
 *
 * Run: `meson devenv -C build examples/hessian`. Every op used here declares a double
 * backward (README: "Higher-order gradients"); one that does not would make backward fail
 * with an error naming it.
 */
#include <nabla/nabla.h>
#include <stdio.h>
#include <stdlib.h>

#define CHECK(x)                                                                          \
  do {                                                                                    \
    if (!(x)) {                                                                           \
      fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, #x, nb_last_error()); \
      exit(1);                                                                            \
    }                                                                                     \
  } while (0)

/* A rows x cols float64 matrix from row-major values. */
static nb_tensor *mat(int rows, int cols, const double *v) {
  nb_tensor *t = nb_from_doubles(v, (int64_t)rows * cols, NB_F64);
  return t ? nb_reshape(t, 2, (int64_t[]){rows, cols}) : NULL;
}

static void show(const char *name, nb_tensor *t) {
  char *s = nb_to_string(nb_detach(t));
  printf("%s = %s\n", name, s ? s : "?");
  free(s);
}

/* 1. ---------------------------------------------------------------------------------- */
static void derivatives_of_a_cube(void) {
  printf("-- x^3 at x = 3\n");
  nb_tensor *x = nb_requires_grad_(nb_from_doubles((double[]){3}, 1, NB_F64));
  nb_tensor *y = nb_mul(nb_mul(x, x), x), *d1, *d2, *d3;
  /* create_graph: d1 = 3x² = 27 comes with a grad_fn, so it can be differentiated */
  CHECK(nb_autograd_grad(&y, NULL, 1, &x, 1, &d1, NB_CREATE_GRAPH, false) == 0);
  CHECK(nb_autograd_grad(&d1, NULL, 1, &x, 1, &d2, NB_CREATE_GRAPH, false) == 0);
  CHECK(nb_autograd_grad(&d2, NULL, 1, &x, 1, &d3, 0, false) == 0); /* the last one: plain */
  printf("dy/dx = %g (grad_fn %s), d2y/dx2 = %g, d3y/dx3 = %g\n", nb_item(d1),
         nb_node_name(nb_grad_fn(d1)), nb_item(d2), nb_item(d3));
}

/* 2. ---------------------------------------------------------------------------------- */
static void gradient_penalty(void) {
  printf("-- WGAN-GP gradient penalty\n");
  /* critic D(x) = W2 tanh(W1 x + b1) + b2 on 2-D points */
  nb_tensor *W1 = nb_requires_grad_(mat(3, 2, (double[]){0.5, -0.3, 0.8, 0.1, -0.6, 0.4}));
  nb_tensor *b1 = nb_requires_grad_(nb_from_doubles((double[]){0.1, -0.2, 0.05}, 3, NB_F64));
  nb_tensor *W2 = nb_requires_grad_(mat(1, 3, (double[]){1.2, -0.7, 0.9}));
  nb_tensor *b2 = nb_requires_grad_(nb_from_doubles((double[]){0.3}, 1, NB_F64));
  /* points between real and generated samples, where WGAN-GP evaluates the penalty */
  nb_tensor *x = nb_requires_grad_(mat(4, 2, (double[]){0.2, 1.0, -0.5, 0.3, 1.5, -1.0, 0.0, 0.7}));
  nb_tensor *d = nb_linear(nb_tanh(nb_linear(x, W1, b1)), W2, b2);
  /* ∇x D(x): one row per point; the sum's gradient is each point's own gradient */
  nb_tensor *s = nb_sum(d), *g;
  CHECK(nb_autograd_grad(&s, NULL, 1, &x, 1, &g, NB_CREATE_GRAPH, false) == 0);
  show("grad_x D", g);
  nb_tensor *norm = nb_sqrt(nb_sum_dims(nb_mul(g, g), 1, (int64_t[]){1}, false));
  nb_tensor *gp = nb_mul_scalar(nb_mean(nb_pow_scalar(nb_sub_scalar(norm, 1), 2)), 10);
  printf("penalty = 10 * mean((|grad| - 1)^2) = %.6f\n", nb_item(gp));
  /* second order: the penalty's gradient with respect to the critic's weights */
  CHECK(nb_backward(gp, NULL, 0) == 0);
  show("d penalty / d W1", nb_grad(W1));
  show("d penalty / d W2", nb_grad(W2));
  printf("b2 moves nothing: %s\n", nb_grad(b2) ? "has a grad" : "no grad");
}

/* 3. ---------------------------------------------------------------------------------- */
/* f(x) = x0³ + x0 x1 + 2 x1²: Hessian [[6 x0, 1], [1, 4]] */
static nb_tensor *f(nb_tensor *const *in, void *user) {
  (void)user;
  nb_tensor *x = in[0];
  nb_tensor *x0 = nb_sum_dims(nb_mul(x, nb_from_doubles((double[]){1, 0}, 2, NB_F64)), 0, NULL, false);
  nb_tensor *x1 = nb_sum_dims(nb_mul(x, nb_from_doubles((double[]){0, 1}, 2, NB_F64)), 0, NULL, false);
  return nb_add(nb_add(nb_pow_scalar(x0, 3), nb_mul(x0, x1)), nb_mul_scalar(nb_mul(x1, x1), 2));
}

static void hessian_of_a_function(void) {
  printf("-- Hessian of x0^3 + x0 x1 + 2 x1^2 at (1, 2)\n");
  nb_tensor *x = nb_from_doubles((double[]){1, 2}, 2, NB_F64), *H;
  CHECK(nb_hessian(f, NULL, 1, &x, &H) == 0);
  show("H", H);
  nb_tensor *v = nb_from_doubles((double[]){1, -1}, 2, NB_F64), *Hv, *out;
  CHECK(nb_hvp(f, NULL, 1, &x, &v, 0, &out, &Hv) == 0);
  show("H (1, -1)", Hv);
}

int main(void) {
  nb_scope_begin();
  derivatives_of_a_cube();
  gradient_penalty();
  hessian_of_a_function();
  nb_scope_end();
  return 0;
}
