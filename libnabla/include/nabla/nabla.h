/* nabla/nabla.h — the user's whole API in one include: the core (tensors, autograd,
 * operators by name, plugin loading) and the user library (typed op wrappers, modules,
 * optimizers, schedules, clipping, serialization, data loading, the training
 * utilities: evaluation, progress, metrics, plots, checkpoints, Ctrl-C handling, and
 * communication between processes with data-parallel training).
 * Link with `pkg-config --cflags --libs nabla`. Plugin authors include <nabla/sdk.h>.
 */
#ifndef NABLA_NABLA_H
#define NABLA_NABLA_H

#include <nabla/core.h>
#include <nabla/tensor.h>
#include <nabla/autograd.h>
#include <nabla/schema.h>
#include <nabla/registry.h>
#include <nabla/op.h>
#include <nabla/loader.h>
#include <nabla/text.h>
#include <nabla/functional.h>
#include <nabla/module.h>
#include <nabla/optim.h>
#include <nabla/clip.h>
#include <nabla/schedule.h>
#include <nabla/safetensors.h>
#include <nabla/data.h>
#include <nabla/evaluate.h>
#include <nabla/progress.h>
#include <nabla/metrics.h>
#include <nabla/plot.h>
#include <nabla/checkpoint.h>
#include <nabla/interrupt.h>
#include <nabla/comm.h>
#include <nabla/ddp.h>

#endif
