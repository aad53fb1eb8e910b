/* nabla/interrupt.h — stopping a training loop cleanly with Ctrl-C.
 *
 * After nb_interrupt_install(), the first Ctrl-C (SIGINT) only sets a flag: the loop
 * polls nb_interrupted() after each batch, then saves a checkpoint and returns. The
 * handler is installed with SA_RESETHAND, so a second Ctrl-C finds SIGINT's default
 * action again and ends the process at once (the way out of a step that hangs).
 *
 *   nb_interrupt_install("\nstopping after this batch (Ctrl-C again to quit now)\n");
 *   for (...) { train one batch; if (nb_interrupted()) { save a checkpoint; break; } }
 */
#ifndef NABLA_INTERRUPT_H
#define NABLA_INTERRUPT_H

#include <nabla/core.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Install the SIGINT handler and clear the flag. `message` (may be NULL; kept, not
 * copied) is written to stderr when the first Ctrl-C arrives. Returns 0 or a status. */
int nb_interrupt_install(const char *message);
/* True once a Ctrl-C arrived since nb_interrupt_install. */
bool nb_interrupted(void);
/* Put back the SIGINT handler that was there before nb_interrupt_install. */
int nb_interrupt_uninstall(void);

#ifdef __cplusplus
}
#endif
#endif
