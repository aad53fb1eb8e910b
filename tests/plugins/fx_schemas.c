/* Fixture: registers one schema chosen by $PLUGTEST_SCHEMA_CASE (a case of the switch
 * in init), so a loop test can check every validation rule with one plugin. Case 0
 * registers valid ops whose node names are derived or given. */
#include <stdlib.h>

#include "fx_common.h"

static const nb_input_spec in_noname[] = {{NULL, NB_DT_ANY, 0, NULL}};
static const nb_input_spec in_badmask[] = {{"x", 1u << 7, 0, NULL}};
static const nb_input_spec in_twice[] = {{"x", NB_DT_ANY, 0, NULL}, {"x", NB_DT_ANY, 0, NULL}};
static const nb_output_spec out_noname[] = {{NULL, 0, NULL}};
static const nb_attr_spec at_twice[] = {{.name = "a", .type = NB_ATTR_INT},
                                        {.name = "a", .type = NB_ATTR_FLOAT}};
static const nb_attr_spec at_choice[] = {
    {.name = "reduction", .type = NB_ATTR_STRING, .def = {.s = "max"}, .choices = "none,mean,sum"}};
static const nb_attr_spec at_range[] = {
    {.name = "k", .type = NB_ATTR_INT, .flags = NB_ATTR_HAS_MIN, .def = {.i = 0}, .min = 1}};
static const nb_attr_spec at_ints[] = {{.name = "size", .type = NB_ATTR_INTS, .def = {.ints = {9, {0}}}}};
static const nb_attr_spec hp_max[] = {
    {.name = "lr", .type = NB_ATTR_FLOAT, .flags = NB_ATTR_HAS_MAX, .def = {.f = 2}, .max = 1}};

/* A valid single-input op named `name`; init then breaks one field per case. */
static nb_op_desc op_named(const char *name) {
  nb_op_desc d = {.struct_size = NB_OP_DESC_SIZE, .name = name, .n_inputs = 1,
                  .inputs = fx_inputs, .n_outputs = 1, .forward = fx_forward};
  return d;
}
static const nb_optim_desc no_step = {.struct_size = NB_OPTIM_DESC_SIZE, .name = "opt_nostep"};
static int dummy_step(const nb_attr_value *hp, int64_t s, nb_tensor *p, nb_tensor *g, nb_tensor **st) {
  return 0;
}
static const nb_optim_desc bad_hp = {.struct_size = NB_OPTIM_DESC_SIZE, .name = "opt_badhp",
                                     .n_hparams = 1, .hparams = hp_max, .step = dummy_step};

static int init(nb_registrar *r) {
  const char *c = getenv("PLUGTEST_SCHEMA_CASE");
  int k = c ? atoi(c) : 0;
  nb_op_desc d = op_named("x");
  switch (k) {
  case 0: { /* valid ops: derived and explicit node names */
    const char *names[] = {"max_pool2d", "binary_cross_entropy", "mul", "named"};
    for (int i = 0; i < 4; i++) {
      d = op_named(names[i]);
      if (i == 3) d.node_name = "CustomNode";
      if (nb_register_op(r, &d) < 0) return -1;
    }
    return 0;
  }
  case 1: d.name = "BadName"; break;
  case 2: d.name = ""; break;
  case 3: d = op_named("no_forward"), d.forward = NULL; break;
  case 4: d = op_named("many_inputs"), d.n_inputs = 17; break;
  case 5: d = op_named("no_outputs"), d.n_outputs = 0; break;
  case 6: d = op_named("input_noname"), d.inputs = in_noname; break;
  case 7: d = op_named("bad_mask"), d.inputs = in_badmask; break;
  case 8: d = op_named("attr_twice"), d.n_attrs = 2, d.attrs = at_twice; break;
  case 9: d = op_named("bad_choice"), d.n_attrs = 1, d.attrs = at_choice; break;
  case 10: d = op_named("bad_range"), d.n_attrs = 1, d.attrs = at_range; break;
  case 11: d = op_named("long_ints"), d.n_attrs = 1, d.attrs = at_ints; break;
  case 12: d = op_named("small_struct"), d.struct_size = 8; break;
  case 13: d = op_named("input_twice"), d.n_inputs = 2, d.inputs = in_twice; break;
  case 14: d = op_named("output_noname"), d.outputs = out_noname; break;
  case 15: return nb_register_optimizer(r, &no_step);
  case 16: return nb_register_optimizer(r, &bad_hp);
  case 17: return nb_register_op(r, NULL);
  case 18: /* the same name twice in one plugin */
    d = op_named("mul");
    nb_register_op(r, &d);
    break;
  default: return 0;
  }
  return nb_register_op(r, &d);
}
NB_PLUGIN_DEFINE("plugtest_schemas", "0.0.1", "one schema per test case", "MIT", init)
