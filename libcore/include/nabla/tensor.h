/* nabla/tensor.h — creating, inspecting, converting and printing tensors.
 *
 * A tensor is a strided view of a refcounted storage. Constructors return a new
 * tensor registered in the innermost open scope (see core.h), or owned by the
 * caller when no scope is open. Shapes are given as (ndim, const int64_t *shape);
 * ndim 0 is a scalar tensor.
 */
#ifndef NABLA_TENSOR_H
#define NABLA_TENSOR_H

#include <stdio.h>

#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- creation ----------------------------------------------------------- */

/* Uninitialised contiguous tensor. */
nb_tensor *nb_empty(int ndim, const int64_t *shape, nb_dtype dt);
/* The one rule for storing a double in a tensor of dtype dt, used by every constructor,
 * nb_set, nb_fill and scalar operands: int64 takes a finite value inside its range,
 * truncated toward zero; float32, float64 and bool take any value (bool: v != 0).
 * Returns 0, or NB_EINVAL with "<what>: value <v> does not fit int64". */
int nb_value_check(const char *what, double v, nb_dtype dt);
/* Tensor of zeros / ones / `value`. */
nb_tensor *nb_zeros(int ndim, const int64_t *shape, nb_dtype dt);
nb_tensor *nb_ones(int ndim, const int64_t *shape, nb_dtype dt);
nb_tensor *nb_full(int ndim, const int64_t *shape, double value, nb_dtype dt);
/* Same shape and dtype as `like`, contiguous. */
nb_tensor *nb_empty_like(const nb_tensor *like);
nb_tensor *nb_zeros_like(const nb_tensor *like);
nb_tensor *nb_ones_like(const nb_tensor *like);
/* 1-D tensor start, start+step, ... < end (PyTorch's arange). step != 0. */
nb_tensor *nb_arange(double start, double end, double step, nb_dtype dt);
/* Copy `data` (C array of elements of `dt`, row-major) into a new tensor. */
nb_tensor *nb_from_data(const void *data, int ndim, const int64_t *shape, nb_dtype dt);
/* Convenience: 1-D tensors from C arrays of doubles, converted to `dt`. */
nb_tensor *nb_from_doubles(const double *values, int64_t n, nb_dtype dt);
/* An N-D tensor in one call: row-major doubles (numel of shape of them) converted to
 * `dt`, e.g. nb_from_array((double[]){1, 2, 3, 4}, 2, (int64_t[]){2, 2}, NB_F32). */
nb_tensor *nb_from_array(const double *values, int ndim, const int64_t *shape, nb_dtype dt);
/* 0-d tensor holding `value` converted to `dt`. */
nb_tensor *nb_scalar(double value, nb_dtype dt);

/* ---- random numbers ------------------------------------------------------ */

/* A seeded generator. The same seed gives the same numbers on every machine
 * (counter-based Philox-style integer stream; normals by Box-Muller in double). */
typedef struct nb_generator nb_generator;
nb_generator *nb_generator_new(uint64_t seed);
void nb_generator_free(nb_generator *g);
/* Reseed; NULL means the process-wide default generator. */
void nb_manual_seed(nb_generator *g, uint64_t seed);
/* Next raw 64-bit value / uniform double in [0, 1) (NULL: default generator). */
uint64_t nb_generator_u64(nb_generator *g);
double nb_generator_uniform(nb_generator *g);
/* The generator's whole state, two words: state[0] is the seed (the Philox key) and
 * state[1] the position in the stream (32-bit words drawn so far). Setting a state read
 * earlier makes the generator continue exactly where it was (training checkpoints save
 * it so a resumed run draws the same numbers). NULL: the default generator. */
void nb_generator_get_state(nb_generator *g, uint64_t state[2]);
void nb_generator_set_state(nb_generator *g, const uint64_t state[2]);
/* Uniform in [low, high) / normal(mean, std); NULL generator means the default. */
nb_tensor *nb_rand(int ndim, const int64_t *shape, nb_dtype dt, nb_generator *g);
nb_tensor *nb_rand_range(int ndim, const int64_t *shape, double low, double high, nb_dtype dt,
                         nb_generator *g);
nb_tensor *nb_randn(int ndim, const int64_t *shape, nb_dtype dt, nb_generator *g);
/* Integers uniform in [low, high) as int64. */
nb_tensor *nb_randint(int ndim, const int64_t *shape, int64_t low, int64_t high, nb_generator *g);

/* ---- inspection ---------------------------------------------------------- */

int nb_ndim(const nb_tensor *t);
/* Pointer to ndim sizes (valid while t lives). */
const int64_t *nb_shape(const nb_tensor *t);
/* Size of dimension `dim` (negative counts from the end); -1 and an error if out of range. */
int64_t nb_size(const nb_tensor *t, int dim);
/* Strides in elements (valid while t lives). */
const int64_t *nb_strides(const nb_tensor *t);
int64_t nb_numel(const nb_tensor *t);
nb_dtype nb_dtype_of(const nb_tensor *t);
/* Pointer to the first element (storage offset applied). */
void *nb_data(const nb_tensor *t);
/* True when strides are row-major contiguous for the shape. */
bool nb_is_contiguous(const nb_tensor *t);
/* For flat kernel loops, in one call: sets *data (as nb_data), *numel and *elem_size
 * (bytes per element; any pointer may be NULL) and returns nb_is_contiguous(t). For a
 * NULL tensor returns false and writes nothing. */
bool nb_flat_info(const nb_tensor *t, void **data, int64_t *numel, size_t *elem_size);
/* True when a and b have the same ndim and sizes. */
bool nb_same_shape(const nb_tensor *a, const nb_tensor *b);
/* Render a shape as "[2,3]" into buf (always NUL-terminated); returns buf. */
char *nb_shape_str(int ndim, const int64_t *shape, char *buf, size_t size);
/* Shape of t as "[2,3]" in a thread-local ring of buffers (for messages). */
const char *nb_shape_of(const nb_tensor *t);
/* The version counter (bumped by every in-place op; shared by views and detach). */
uint32_t nb_version(const nb_tensor *t);
/* Bump the version counter (kernels that write into an existing tensor use it). */
void nb_bump_version(nb_tensor *t);
/* True when a and b share the same storage. */
bool nb_shares_storage(const nb_tensor *a, const nb_tensor *b);

/* ---- element access ------------------------------------------------------- */

/* Value of a one-element tensor as double. On error returns NaN and sets the error
 * (use nb_item_checked to tell errors from a NaN value). */
double nb_item(const nb_tensor *t);
int nb_item_checked(const nb_tensor *t, double *out);
/* Element at index idx[0..ndim-1] (negative indices count from the end). */
int nb_get(const nb_tensor *t, const int64_t *idx, double *out);
/* Write an element (no autograd recording; bumps the version). */
int nb_set(nb_tensor *t, const int64_t *idx, double value);
/* Copy all elements, in row-major order, converted to double into out[numel]. */
int nb_to_doubles(const nb_tensor *t, double *out, int64_t n);

/* ---- copies and views (no autograd; see functional.h for recorded versions) --- */

/* New contiguous tensor with the same values (and dtype). Not recorded. */
nb_tensor *nb_copy_data(const nb_tensor *t);
/* Contiguous tensor converted to dt (not recorded). */
nb_tensor *nb_convert(const nb_tensor *t, nb_dtype dt);
/* A tensor viewing t's storage with a new shape/strides/offset (no checks beyond
 * bounds; no autograd). Kernels use it to build views. */
nb_tensor *nb_as_strided(nb_tensor *t, int ndim, const int64_t *shape, const int64_t *strides,
                         int64_t offset);
/* Copy src's values into dst (same shape, or src broadcastable to dst); converts
 * dtype. Bumps dst's version. Not recorded. */
int nb_copy_into(nb_tensor *dst, const nb_tensor *src);
/* PyTorch's `t.data = src`: leaf t (not a view) now shares src's storage, dtype, shape
 * and strides, staying the same object (its grad, requires_grad and hooks are kept).
 * Used by nb_module_to_dtype so modules and optimizers keep their tensors. 0 or a status. */
int nb_set_data(nb_tensor *t, nb_tensor *src);
/* Fill every element with value. Bumps the version. Not recorded. */
int nb_fill(nb_tensor *t, double value);

/* ---- printing -------------------------------------------------------------- */

/* Print like PyTorch: "tensor([-12., 65.], grad_fn=<SubBackward>)", with
 * "requires_grad=True" on leaves that require grad, and a newline. */
int nb_print(const nb_tensor *t);
int nb_fprint(FILE *f, const nb_tensor *t);
/* The same text into a malloc'ed string the caller frees (no trailing newline). */
char *nb_to_string(const nb_tensor *t);

#ifdef __cplusplus
}
#endif
#endif
