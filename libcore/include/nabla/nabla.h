/* nabla/nabla.h — the whole public API of nabla in one include.
 * Link with `pkg-config --cflags --libs nabla`. */
#ifndef NABLA_NABLA_H
#define NABLA_NABLA_H

#include "core.h"
#include "tensor.h"
#include "autograd.h"
#include "op.h"
#include "kernel.h"
#include "optim.h"
#include "plugin.h"
#include "functional.h"
#include "safetensors.h"
#include "schedule.h"
#include "module.h"

#endif
