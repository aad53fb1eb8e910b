/* nabla/checkpoint.h — training checkpoints: what a run needs to continue exactly where
 * it stopped (model, optimizer, position, random streams), in one file.
 *
 * Design: one safetensors file, so a checkpoint is written like every nabla file — to a
 * temporary file in the same directory, fsync'ed and renamed over the old one. A crash
 * or a full disk at any moment leaves either the previous checkpoint or the new one,
 * never a mix of a new model with an old optimizer (which a directory of separate files
 * could). Any safetensors reader can open it:
 *
 *   model.<key>         the model's state_dict (parameters and buffers, PyTorch's keys)
 *   optimizer.<key>     the optimizer's state as nb_optimizer_save writes it (step counts
 *                       and buffers); its metadata under the same prefix (kind,
 *                       hyperparameters of every group, including a scheduled lr)
 *   __metadata__        "nabla.checkpoint": "1" (format version), "epoch", "batch",
 *                       "step" (decimal integers), "rng.<i>": "<seed> <position>"
 *
 * The model part is an ordinary state_dict under a prefix: load it alone with
 * nb_safetensors_select(f, "model.") and nb_module_load_safetensors, or in PyTorch with
 * {k[6:]: v for k, v in safetensors.torch.load_file(path).items() if k.startswith("model.")}.
 *
 * A resumed run is bit-identical to an uninterrupted one when everything random comes
 * from the saved generators or from (seed, epoch)-determined streams (the data loader's
 * shuffling and augmentation are), and the arithmetic is deterministic (one thread:
 * nb_set_num_threads(1)).
 */
#ifndef NABLA_CHECKPOINT_H
#define NABLA_CHECKPOINT_H

#include <nabla/core.h>
#include <nabla/module.h>
#include <nabla/optim.h>
#include <nabla/tensor.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What a checkpoint holds. The pointers are borrowed. */
typedef struct nb_checkpoint {
  nb_module *model;                 /* required */
  nb_optimizer *optimizer;          /* NULL: none saved / none expected */
  int n_generators;                 /* generators whose state is saved and restored, */
  nb_generator *const *generators;  /*   in order; a NULL entry is the default generator */
  int64_t epoch;                    /* epochs completed */
  int64_t batch;                    /* batches done of the next epoch (0 at an epoch's end) */
  int64_t step;                     /* optimizer steps so far */
} nb_checkpoint;

/* Write a checkpoint of c to `path` atomically. epoch, batch and step must be >= 0.
 * Returns 0 or a negative status; on failure the previous file at path is intact. */
int nb_checkpoint_save(const nb_checkpoint *c, const char *path);

/* Restore a checkpoint into c's model (strict: every key and shape must match), its
 * optimizer (same kind and parameter layout; its hyperparameters, such as the lr, are
 * restored too) and its generators (as many as saved), and set c->epoch, c->batch and
 * c->step. The file must hold an optimizer exactly when c->optimizer is set. Everything
 * is checked before anything is kept: on error c, the model, the optimizer and the
 * generators are as they were, and the message names what did not match. Returns 0 or
 * a negative status (NB_ENOTFOUND when the file does not exist). */
int nb_checkpoint_load(nb_checkpoint *c, const char *path);

#ifdef __cplusplus
}
#endif
#endif
