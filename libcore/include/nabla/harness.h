/* nabla/harness.h — for conformance harnesses (nabla-gradcheck): collect an op's sample
 * inputs, as its plugin declared them with nb_sample_add(), and read them back.
 */
#ifndef NABLA_HARNESS_H
#define NABLA_HARNESS_H

#include "core.h"
#include "schema.h"
#include "registry.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nb_sample_sink nb_sample_sink;

/* For harnesses: collect an op's samples into a new sink (its generator seeded with
 * `seed`), read them back, free the sink. nb_sample_get's pointers stay valid until
 * nb_sample_sink_free. */
nb_sample_sink *nb_sample_sink_new(uint64_t seed);
void nb_sample_sink_free(nb_sample_sink *sink);
/* Run op's samples function into sink. NB_ENOTFOUND when the op has none. */
int nb_op_collect_samples(const nb_op *op, nb_sample_sink *sink);
int nb_sample_count(const nb_sample_sink *sink);
typedef struct nb_sample {
  const char *desc;
  int n_in;
  nb_tensor *const *in; /* NULL entries for absent optional inputs */
  int n_attrs;
  const nb_attr *attrs;
  unsigned flags;
} nb_sample;
int nb_sample_get(const nb_sample_sink *sink, int i, nb_sample *out);

#ifdef __cplusplus
}
#endif
#endif
