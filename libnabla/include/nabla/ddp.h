/* nabla/ddp.h — distributed data parallel (PyTorch's DistributedDataParallel): every
 * process holds the whole model, trains on its own shard of each global batch, and
 * gradients are averaged across processes during backward, so every process applies the
 * same update and the parameters stay identical.
 *
 *   nb_comm *c = nb_comm_open(NULL);                 // mpi under mpirun, else single
 *   nb_ddp *ddp = nb_ddp_new(net, c, NULL);          // rank 0's weights everywhere
 *   for (each step) {                                 // loader sharded by rank
 *     nb_optimizer_zero_grad(opt, true);
 *     nb_backward(loss, NULL, 0);                     // buckets sent as grads get ready
 *     if (nb_ddp_finish(ddp) < 0) ...                 // wait: .grad is the average
 *     nb_optimizer_step(opt);
 *   }
 *   nb_ddp_free(ddp);
 *
 * How: at wrap time rank 0's parameters and buffers are broadcast to every rank, after a
 * signature of every parameter and buffer (name, dtype, shape, frozen or not) was
 * compared: a model that differs is refused on every rank with an error naming the rank
 * and the parameter. Trainable parameters are packed, in reverse registration order
 * (roughly the order backward produces their gradients), into buckets of one dtype of
 * about bucket_mb each. A post-accumulate-grad hook on each parameter copies its final
 * .grad into its bucket; when a bucket is complete it is sent (a non-blocking average)
 * at once, in bucket order on every rank, so communication overlaps the rest of backward.
 * nb_ddp_finish waits for every bucket and writes the averages back into .grad.
 *
 * A parameter that got no gradient in a step (unused by this rank's forward) contributes
 * zeros to the average, so its .grad is the average over the ranks that used it counted
 * with zeros for the others, which is what one process on the whole batch computes; one
 * no rank used keeps .grad untouched (NULL stays NULL). Such a parameter's bucket is sent
 * from nb_ddp_finish instead of during backward (correct, but without overlap).
 * Frozen parameters (requires_grad false when wrapped) are left out; freezing or
 * unfreezing after wrapping is refused at nb_ddp_finish (wrap again).
 */
#ifndef NABLA_DDP_H
#define NABLA_DDP_H

#include <nabla/comm.h>
#include <nabla/core.h>
#include <nabla/module.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nb_ddp nb_ddp;

typedef struct nb_ddp_opts {
  double bucket_mb;       /* bucket capacity in MiB; default 25 */
  double first_bucket_mb; /* the first bucket (the last layers' gradients, ready first, so
                             communication starts early); default 1 */
  bool broadcast_buffers; /* after each synchronised step, copy rank 0's buffers (batch-norm
                             running statistics) to every rank, as PyTorch does before
                             each forward; default true */
  bool no_initial_broadcast; /* keep each rank's own initial values (they must already be
                                equal); default false: rank 0's are broadcast */
} nb_ddp_opts;

/* The defaults above. */
nb_ddp_opts nb_ddp_defaults(void);
/* Wrap module m (borrowed: it must outlive the wrapper) for training over communicator c
 * (borrowed). Collective: every rank calls it with the same model. Compares signatures,
 * broadcasts rank 0's parameters and buffers, builds the buckets and registers the hooks.
 * NULL with an error (the same on every rank for a mismatch) on failure. */
nb_ddp *nb_ddp_new(nb_module *m, nb_comm *c, const nb_ddp_opts *opts);
/* Remove the hooks and free the buckets (waiting for buckets still in flight). NULL-safe. */
void nb_ddp_free(nb_ddp *d);

/* After backward, before the optimizer step: send the buckets backward did not complete,
 * wait for all of them (within the communicator's timeout) and write each average into
 * its parameter's .grad; then broadcast buffers if asked. Collective. Returns 0, or a
 * negative status (NB_ECOMM when the transport failed: stop training then). Without sync
 * (nb_ddp_set_sync false) it does nothing. */
int nb_ddp_finish(nb_ddp *d);
/* Turn gradient averaging off (false) to accumulate gradients locally over several
 * micro-batches (PyTorch's no_sync), then on again (true) for the last one, whose
 * backward averages the accumulated .grad. Refused between a backward and its finish.
 * Returns the previous setting (0 or 1) or a negative status. */
int nb_ddp_set_sync(nb_ddp *d, bool sync);

/* Copy rank 0's buffers to every rank now. Collective. */
int nb_ddp_broadcast_buffers(nb_ddp *d);

/* What the last synchronised step did, bucket by bucket (bucket 0 is sent first). Times
 * are CLOCK_MONOTONIC seconds. */
typedef struct nb_ddp_bucket_info {
  int n_params;
  int64_t numel;           /* gradient elements */
  nb_dtype dtype;
  const char *first_param; /* name of its first parameter (the last registered) */
  bool sent_in_backward;   /* sent from a hook during backward (false: from finish) */
  double sent_at;          /* when its allreduce started */
  double done_at;          /* when it was seen finished (a poll during backward, or finish) */
} nb_ddp_bucket_info;
int nb_ddp_num_buckets(const nb_ddp *d);
int nb_ddp_get_bucket(const nb_ddp *d, int i, nb_ddp_bucket_info *out);

#ifdef __cplusplus
}
#endif
#endif
