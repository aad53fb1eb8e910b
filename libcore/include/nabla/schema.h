/* nabla/schema.h — the vocabulary shared by operator and optimizer schemas: attribute
 * types, values and specs (name, type, default, range, choices), attributes given at a
 * call site (NB_A_INT & co.), and the input/output specs of an op.
 *
 * Plugins use it to declare schemas (sdk/op.h, sdk/optim.h); users and tools use it to
 * pass attributes and to read a registered schema (registry.h).
 */
#ifndef NABLA_SCHEMA_H
#define NABLA_SCHEMA_H

#include "core.h"
#include "text.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- attributes ---------------------------------------------------------- */

typedef enum nb_attr_type {
  NB_ATTR_INT = 0,   /* int64 */
  NB_ATTR_FLOAT = 1, /* double */
  NB_ATTR_BOOL = 2,  /* stored in .i as 0/1 */
  NB_ATTR_INTS = 3,  /* up to NB_MAX_DIMS int64 values */
  NB_ATTR_STRING = 4 /* with choices: .i is the index of the choice */
} nb_attr_type;

typedef struct nb_ints {
  int n;
  int64_t v[NB_MAX_DIMS];
} nb_ints;

typedef struct nb_attr_value {
  int64_t i;
  double f;
  const char *s;
  nb_ints ints;
} nb_attr_value;

enum {
  NB_ATTR_REQUIRED = 1u << 0, /* no default: the caller must give it */
  NB_ATTR_HAS_MIN = 1u << 1,  /* value (each element for INTS) >= min */
  NB_ATTR_HAS_MAX = 1u << 2,  /* value (each element for INTS) <= max */
  NB_ATTR_OPTIONAL = 1u << 3  /* may be absent; then nb_attr_value.i == 0 and .ints.n == 0
                                 (e.g. "dim" of sum: absent means all dims). For a FLOAT
                                 that may be absent use a NaN default instead (clamp's
                                 min/max): an absent optional FLOAT reads as 0. */
};

/* One attribute of an op's (or optimizer's) schema. */
typedef struct nb_attr_spec {
  const char *name;
  nb_attr_type type;
  unsigned flags;
  nb_attr_value def; /* default when not given */
  double min, max;   /* with NB_ATTR_HAS_MIN / NB_ATTR_HAS_MAX */
  const char *choices; /* STRING: comma-separated accepted values ("none,mean,sum") */
  const char *doc;
} nb_attr_spec;

/* An attribute given by name at a call site. */
typedef struct nb_attr {
  const char *name;
  nb_attr_type type;
  nb_attr_value v;
} nb_attr;

#define NB_A_INT(nm, val) ((nb_attr){.name = (nm), .type = NB_ATTR_INT, .v = {.i = (val)}})
#define NB_A_FLOAT(nm, val) ((nb_attr){.name = (nm), .type = NB_ATTR_FLOAT, .v = {.f = (val)}})
#define NB_A_BOOL(nm, val) ((nb_attr){.name = (nm), .type = NB_ATTR_BOOL, .v = {.i = !!(val)}})
#define NB_A_STR(nm, val) ((nb_attr){.name = (nm), .type = NB_ATTR_STRING, .v = {.s = (val)}})
#define NB_A_INTS(nm, ...)                                                                      \
  ((nb_attr){.name = (nm),                                                                    \
             .type = NB_ATTR_INTS,                                                            \
             .v = {.ints = {.n = (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)),   \
                            .v = {__VA_ARGS__}}}})

/* ---- schema --------------------------------------------------------------- */

enum {
  NB_IN_NONDIFF = 1u << 0,  /* never differentiated (class-index targets, masks) */
  NB_IN_OPTIONAL = 1u << 1  /* may be NULL (e.g. bias) */
};
typedef struct nb_input_spec {
  const char *name;
  unsigned dtypes; /* mask of NB_DT_* accepted */
  unsigned flags;
  const char *doc;
} nb_input_spec;

enum { NB_OUT_NONDIFF = 1u << 0 /* e.g. argmax indices: never requires grad */ };
typedef struct nb_output_spec {
  const char *name;
  unsigned flags;
  const char *doc;
} nb_output_spec;

/* The type as schemas and messages spell it: "int", "float", "bool", "int[]", "string". */
const char *nb_attr_type_name(nb_attr_type t);
/* Append one spec as messages and tools show it, e.g. `lr (float, default 0.001, >= 0)`
 * or `reduction (string, default "mean", one of none,mean,sum)`. */
void nb_attr_spec_text(const nb_attr_spec *s, nb_text *out);

/* Resolve attributes given by name against a schema of n_specs specs into
 * values[n_specs], in schema order: defaults filled in, INT given for FLOAT converted,
 * types, ranges and choices checked. `what` prefixes error messages ("conv2d", "adam").
 * Returns 0, or a negative status naming the attribute and what is accepted. */
int nb_schema_resolve(const char *what, int n_specs, const nb_attr_spec *specs, int n_attrs,
                      const nb_attr *attrs, nb_attr_value *values);

#ifdef __cplusplus
}
#endif
#endif
