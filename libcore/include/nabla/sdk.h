/* nabla/sdk.h — the plugin SDK: everything an operator, optimizer or communication
 * backend plugin includes.
 *
 * Plugins build against the core alone (`pkg-config --cflags --libs nabla-core`): the
 * core's tensors, scopes and errors, the schema vocabulary, the op, optimizer and
 * communication backend descriptors, the kernel services (iteration, parallel loops, GEMM, scratch) and the
 * entry-point macro. The user library (<nabla/nabla.h>: modules, optimizer objects,
 * serialization, data) is not part of it.
 */
#ifndef NABLA_SDK_H
#define NABLA_SDK_H

#include "core.h"
#include "tensor.h"
#include "autograd.h"
#include "schema.h"
#include "op.h"
#include "sdk/op.h"
#include "sdk/optim.h"
#include "sdk/comm.h"
#include "sdk/kernel.h"
#include "sdk/plugin.h"

#endif
