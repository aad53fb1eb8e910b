/* autograd_basics.c — PyTorch's autograd walkthrough, in C.
 *
 * Each section mirrors a few lines of the Python tutorial (shown in the comments) and
 * prints what PyTorch prints. Build: `meson compile -C build`, run:
 * `meson devenv -C build examples/autograd_basics`.
 *
 * Ownership: everything created between nb_scope_begin() and nb_scope_end() is released
 * at nb_scope_end(), so nested expressions like nb_sub(nb_mul(...), nb_pow(...)) never
 * leak. Errors: every call returns NULL or a negative status, and nb_last_error() says why.
 */
#include <nabla/nabla.h>
#include <stdio.h>
#include <stdlib.h>

/* Stop the example on the first failure, printing nabla's message. */
#define CHECK(x)                                                                       \
  do {                                                                                 \
    if (!(x)) {                                                                        \
      fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, #x, nb_last_error()); \
      exit(1);                                                                         \
    }                                                                                  \
  } while (0)

static nb_tensor *vec(double x, double y) {
  double v[2] = {x, y};
  return nb_from_doubles(v, 2, NB_F32);
}

/* print(name, t) */
static void show(const char *name, const nb_tensor *t) {
  char *s = t ? nb_to_string(t) : NULL;
  printf("%s = %s\n", name, s ? s : "None");
  free(s);
}

/* The attributes the tutorial prints for a tensor. */
static void attrs(const char *name, nb_tensor *t) {
  char *data = nb_to_string(nb_detach(t));
  char *grad = nb_grad(t) ? nb_to_string(nb_grad(t)) : NULL;
  printf("%s: data=%s requires_grad=%s grad=%s grad_fn=%s is_leaf=%s\n", name, data,
         nb_requires_grad(t) ? "True" : "False", grad ? grad : "None",
         nb_grad_fn(t) ? nb_node_name(nb_grad_fn(t)) : "None", nb_is_leaf(t) ? "True" : "False");
  free(data);
  free(grad);
}

/* A tensor hook: return grad + 2 (replaces the gradient downstream). */
static int add_two(nb_tensor *grad, nb_tensor **replace, void *user) {
  (void)user;
  *replace = nb_add_scalar(grad, 2.0);
  return *replace ? 0 : nb_last_status();
}

int main(void) {
  nb_scope_begin();

  /* a = torch.tensor([2., 3.], requires_grad=True); b = torch.tensor([6., 4.], requires_grad=True)
   * Q = 3*a**3 - b**2 */
  puts("# Q = 3*a**3 - b**2");
  nb_tensor *a = nb_requires_grad_(vec(2, 3));
  nb_tensor *b = nb_requires_grad_(vec(6, 4));
  CHECK(a && b);
  nb_tensor *Q = nb_sub(nb_mul_scalar(nb_pow_scalar(a, 3), 3), nb_pow_scalar(b, 2));
  CHECK(Q);
  show("a", a);
  show("b", b);
  show("Q", Q);
  /* Q.backward(gradient=torch.tensor([1., 1.])) */
  CHECK(nb_backward(Q, vec(1, 1), 0) == 0);
  /* print(9*a**2 == a.grad); print(-2*b == b.grad) */
  show("9*a**2 == a.grad", nb_eq(nb_mul_scalar(nb_pow_scalar(a, 2), 9), nb_grad(a)));
  show("-2*b == b.grad", nb_eq(nb_mul_scalar(b, -2), nb_grad(b)));
  if (getenv("NABLA_DOT")) { /* the seed's graph picture: dot -Tsvg */
    FILE *f = fopen(getenv("NABLA_DOT"), "w");
    CHECK(f && nb_graph_dot(Q, f) == 0);
    fclose(f);
  }

  /* a = torch.tensor(2.0, requires_grad=True); b = torch.tensor(3.0); c = a * b */
  puts("\n# c = a * b, only a requires grad");
  nb_tensor *s = nb_requires_grad_(nb_scalar(2.0, NB_F32));
  nb_tensor *t = nb_scalar(3.0, NB_F32);
  nb_tensor *c = nb_mul(s, t);
  CHECK(s && t && c);
  puts("before c.backward():");
  attrs("a", s);
  attrs("b", t);
  attrs("c", c);
  CHECK(nb_backward(c, NULL, 0) == 0);
  puts("after c.backward():");
  attrs("a", s);
  attrs("b", t);
  attrs("c", c);

  /* x = torch.tensor(1.0, requires_grad=True); z = x ** 3; z.backward() */
  puts("\n# z = x**3 at x = 1");
  nb_tensor *x = nb_requires_grad_(nb_scalar(1.0, NB_F32));
  nb_tensor *z = nb_pow_scalar(x, 3);
  CHECK(x && z && nb_backward(z, NULL, 0) == 0);
  show("x.grad", nb_grad(x));

  /* x = torch.tensor([0., 2., 8.], requires_grad=True); y = torch.tensor([5., 1., 7.])
   * z = x * y; z.backward(torch.tensor([1., 1., 1.])) */
  puts("\n# z = x * y with an external gradient");
  double xv[3] = {0, 2, 8}, yv[3] = {5, 1, 7}, ones[3] = {1, 1, 1};
  nb_tensor *x3 = nb_requires_grad_(nb_from_doubles(xv, 3, NB_F32));
  nb_tensor *y3 = nb_from_doubles(yv, 3, NB_F32);
  nb_tensor *z3 = nb_mul(x3, y3);
  CHECK(x3 && y3 && z3 && nb_backward(z3, nb_from_doubles(ones, 3, NB_F32), NB_RETAIN_GRAPH) == 0);
  show("x.grad", nb_grad(x3));
  /* z.backward() on a non-scalar output fails */
  if (nb_backward(z3, NULL, 0) < 0) printf("z.backward(): error: %s\n", nb_last_error());

  /* x = torch.rand(5, 5); y = torch.rand(5, 5); z = torch.rand((5, 5), requires_grad=True) */
  puts("\n# the requires-grad rule");
  int64_t sh[2] = {5, 5};
  nb_manual_seed(NULL, 0);
  nb_tensor *rx = nb_rand(2, sh, NB_F32, NULL), *ry = nb_rand(2, sh, NB_F32, NULL);
  nb_tensor *rz = nb_requires_grad_(nb_rand(2, sh, NB_F32, NULL));
  CHECK(rx && ry && rz);
  printf("Does `a` require gradients?: %s\n", nb_requires_grad(nb_add(rx, ry)) ? "True" : "False");
  printf("Does `b` require gradients?: %s\n", nb_requires_grad(nb_add(rx, rz)) ? "True" : "False");

  /* with torch.no_grad(): y = x * 2 */
  puts("\n# no_grad");
  nb_tensor *xn = nb_requires_grad_(vec(1, 2));
  nb_no_grad_begin();
  nb_tensor *yn = nb_mul_scalar(xn, 2);
  nb_no_grad_end();
  CHECK(xn && yn);
  printf("y.requires_grad: %s\n", nb_requires_grad(yn) ? "True" : "False");

  /* h = x.register_hook(lambda grad: grad + 2); y = x * 3; y.retain_grad(); y.sum().backward() */
  puts("\n# a hook returning grad + 2, and retain_grad on an intermediate");
  nb_tensor *xh = nb_requires_grad_(vec(1, 2));
  CHECK(xh && nb_register_hook(xh, add_two, NULL) > 0);
  nb_tensor *yh = nb_mul_scalar(xh, 3);
  CHECK(yh && nb_retain_grad(yh) == 0);
  CHECK(nb_backward(nb_sum(yh), NULL, 0) == 0);
  show("y.grad", nb_grad(yh));
  show("x.grad", nb_grad(xh));

  nb_scope_end();
  return 0;
}
