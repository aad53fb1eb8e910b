/* libnabla/testing.h — test-only hooks of the user library (not installed). They make
 * failures that cannot be provoked from outside, so tests can check what a failure
 * leaves behind. Off unless a test turns them on.
 */
#ifndef NABLA_TESTING_H
#define NABLA_TESTING_H

#include <nabla/core.h>

#ifdef __cplusplus
extern "C" {
#endif

/* nb_module_load*: reading the k-th tensor to load fails as if out of memory (k >= 0);
 * -1 turns it off. */
NB_EXPORT void nb__module_load_fail_at(int k);

#ifdef __cplusplus
}
#endif
#endif
