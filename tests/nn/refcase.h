/* tests/nn/refcase.h — reader and runner for the PyTorch reference files written by
 * tests/nn/gen_reference.py (format documented there). Shared by the nn and loss suites. */
#ifndef NABLA_TESTS_REFCASE_H
#define NABLA_TESTS_REFCASE_H

#include <check.h>
#include <nabla/nabla.h>
#include <nabla/harness.h>
#include <nabla/sdk.h> /* descriptors and kernel services, read by the harness and the tests */

#define REF_MAX 8

typedef struct ref_tensor {
  bool present, is_int;
  int nd;
  int64_t shape[NB_MAX_DIMS];
  int64_t n;
  double *v;
} ref_tensor;

typedef struct ref_case {
  char name[64], op[64];
  int n_in, n_attr;
  ref_tensor in[REF_MAX];
  nb_attr attr[REF_MAX];
  char attr_str[REF_MAX][32];
  char attr_name[REF_MAX][32];
  ref_tensor out, gout;
  ref_tensor grad[REF_MAX];  /* present when the input is differentiated */
  ref_tensor after[REF_MAX]; /* present when the input is updated in place */
} ref_case;

/* Parse a reference file. Returns the number of cases (>= 0) or -1 (message on stderr). */
int ref_load(const char *path, ref_case **cases);
void ref_free(ref_case *cases, int n);
/* Run one case in dtype dt: forward, compare the output, backward with gout, compare
 * gradients and in-place updates within |a - e| <= atol + rtol |e|. Returns 0, or -1 with
 * a description of the first mismatch in msg. */
int ref_run(const ref_case *c, nb_dtype dt, double atol, double rtol, char *msg, size_t msz);
/* Path of a reference file: $NABLA_SOURCE_ROOT/rel, else the compiled-in source root. */
const char *ref_path(const char *rel);

/* Load the reference file rel (found with ref_path) for ref_tcase. Returns the number of
 * cases; <= 0 is a failure (message on stderr). */
int ref_suite_load(const char *rel);
/* TCase "pytorch reference" running every loaded case in float64 (atol 1e-10, rtol 1e-9)
 * and float32 (atol 2e-5, rtol 2e-4). */
TCase *ref_tcase(void);
/* Free what ref_suite_load loaded. */
void ref_suite_free(void);

#endif
