/* nabla/optim.h — optimizers. Each optimizer kind is a plugin (its descriptor:
 * sdk/optim.h; the kinds registered: registry.h); an nb_optimizer created by name holds
 * parameter groups with hyperparameters checked against the kind's schema, and every
 * parameter's state, which saves to and loads from a file.
 */
#ifndef NABLA_OPTIM_H
#define NABLA_OPTIM_H

#include <stdio.h>

#include <nabla/core.h>
#include <nabla/tensor.h>
#include <nabla/schema.h>
#include <nabla/registry.h>
#include <nabla/safetensors.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- using optimizers (optim.c) ------------------------------------------------------ */

/* An optimizer instance: parameter groups, each with its own hyperparameters, and
 * per-parameter state (step count and the plugin's state tensors). Opaque. */
typedef struct nb_optimizer nb_optimizer;

/* Create optimizer `name` ("sgd", "adam", "adamw", "rmsprop", ...) over one group of
 * `n_params` floating leaf parameters (retained; duplicates are an error) with
 * hyperparameters given by name (others take the schema defaults; Adam's betas are
 * "beta1" and "beta2"). These values become the optimizer's defaults for later groups.
 * An unknown name or hyperparameter, or a value out of range, fails with a message
 * listing what is accepted. Caller frees with nb_optimizer_free(). Parameters converted
 * later by nb_module_to_dtype stay the same tensors, and their state follows the new dtype
 * at the next step (PyTorch asks for the optimizer to be built after .double(); here
 * either order works). */
nb_optimizer *nb_optimizer_new(const char *name, int n_params, nb_tensor *const *params,
                               int n_hp, const nb_attr *hp);
/* Release the parameters and all state (NULL-safe). */
void nb_optimizer_free(nb_optimizer *o);
/* Add a parameter group with its own hyperparameters; unnamed ones take the values given
 * to nb_optimizer_new (PyTorch's defaults). Returns the group index or a negative status. */
int nb_optimizer_add_group(nb_optimizer *o, int n_params, nb_tensor *const *params, int n_hp,
                           const nb_attr *hp);
/* One step over every group under no-grad: parameters that do not require grad (frozen)
 * or have no .grad are skipped (spec items 28-29); each updated parameter's version is
 * bumped. Returns 0 or a negative status. */
int nb_optimizer_step(nb_optimizer *o);
/* Clear the gradients of every parameter: set_to_none drops them (the PyTorch 2.x
 * default), otherwise they are filled with zeros. Returns 0 or a negative status. */
int nb_optimizer_zero_grad(nb_optimizer *o, bool set_to_none);
/* Name of the optimizer kind ("adam"), number of groups, and parameters in a group. */
const char *nb_optimizer_name(const nb_optimizer *o);
int nb_optimizer_num_groups(const nb_optimizer *o);
int nb_optimizer_group_size(const nb_optimizer *o, int group);
/* Read a group's hyperparameter by name (FLOAT/INT/BOOL as a double). NaN with an error
 * when the group or name does not exist. */
double nb_optimizer_get_hparam(const nb_optimizer *o, int group, const char *name);
/* Change a group's hyperparameter (checked against the schema range and the plugin's
 * cross-field rules, like at creation). Returns 0 or a negative status. */
int nb_optimizer_set_hparam(nb_optimizer *o, int group, const char *name, double value);
/* Shorthands for the "lr" hyperparameter (used by the schedules in schedule.h). */
double nb_optimizer_get_lr(const nb_optimizer *o, int group);
int nb_optimizer_set_lr(nb_optimizer *o, int group, double lr);
/* Step count of parameter `index` of `group` (0 before its first update). -1 on error. */
int64_t nb_optimizer_param_step(const nb_optimizer *o, int group, int index);
/* State tensor `state_name` ("momentum_buffer", "exp_avg", ...) of a parameter
 * (borrowed; NULL with no error set when not created yet, NULL with an error when the
 * name is unknown). */
nb_tensor *nb_optimizer_param_state(const nb_optimizer *o, int group, int index,
                                    const char *state_name);

/* What print(optimizer) shows in PyTorch 2.x (2.7 and later): the class name ("SGD",
 * "Adam", "AdamW", "RMSprop"; other kinds their own name), then per group
 * "Parameter Group <i>" and every hyperparameter as "    <key>: <value>" in sorted key
 * order, values as Python writes them (0.01, 1e-08, False, Adam's betas as one tuple),
 * with the keys PyTorch adds that nabla has no hyperparameter for at their defaults
 * ("foreach: None", "differentiable: False", ...). Malloc'ed, the caller frees. */
char *nb_optimizer_to_string(const nb_optimizer *o);
/* Print it with a trailing newline. Returns 0 or a negative status. */
int nb_optimizer_print(const nb_optimizer *o, FILE *out);

/* Save the optimizer's state (every group's hyperparameters, every parameter's step and
 * state tensors under "state.<k>.<name>", k counting parameters across groups in order)
 * to a safetensors file, so that a resumed run follows the same trajectory bit for bit. */
int nb_optimizer_save(const nb_optimizer *o, const char *path);
/* Load state saved by nb_optimizer_save into an optimizer of the same kind built over
 * parameters of the same shapes and group layout; mismatches are errors naming the key.
 * Nothing is changed on error. */
int nb_optimizer_load(nb_optimizer *o, const char *path);

/* The same state in memory, to embed in a larger file (training checkpoints,
 * checkpoint.h): n tensors (references the struct holds) under names, and metadata as a
 * NULL-terminated key/value list (k0, v0, k1, v1, ..., NULL), exactly what
 * nb_optimizer_save writes. NULL with an error. Free with nb_optimizer_state_free. */
typedef struct nb_optimizer_state {
  int n;
  char **names;
  nb_tensor **tensors;
  char **metadata;
} nb_optimizer_state;
nb_optimizer_state *nb_optimizer_state_get(const nb_optimizer *o);
void nb_optimizer_state_free(nb_optimizer_state *s); /* NULL-safe */
/* nb_optimizer_load from an already loaded file (e.g. nb_safetensors_select(f,
 * "optimizer.") of a checkpoint). Nothing is changed on error. */
int nb_optimizer_load_safetensors(nb_optimizer *o, const nb_safetensors *f);

#ifdef __cplusplus
}
#endif
#endif
