/* nabla/core.h — basic types, status codes, errors, logging, scopes, threads.
 *
 * Every public nabla function either returns a status (0 on success, a negative
 * nb_status on failure) or a pointer (NULL on failure). On failure a thread-local
 * message naming what was wrong is available from nb_last_error().
 */
#ifndef NABLA_CORE_H
#define NABLA_CORE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NB_VERSION_MAJOR 0
#define NB_VERSION_MINOR 1
#define NB_VERSION_PATCH 0

/* Most dimensions a tensor may have; creating a tensor with more is an error. */
#define NB_MAX_DIMS 8

#if defined(__GNUC__)
#define NB_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define NB_EXPORT __attribute__((visibility("default")))
#else
#define NB_PRINTF(f, a)
#define NB_EXPORT
#endif

/* Element types. Only floating tensors may require grad. NB_BOOL holds 0/1 bytes
 * (results of comparisons). */
typedef enum nb_dtype { NB_F32 = 0, NB_F64 = 1, NB_I64 = 2, NB_BOOL = 3 } nb_dtype;
#define NB_NUM_DTYPES 4

/* dtype masks used by schemas */
#define NB_DT_F32 (1u << NB_F32)
#define NB_DT_F64 (1u << NB_F64)
#define NB_DT_I64 (1u << NB_I64)
#define NB_DT_BOOL (1u << NB_BOOL)
#define NB_DT_FLOAT (NB_DT_F32 | NB_DT_F64)
#define NB_DT_ANY (NB_DT_F32 | NB_DT_F64 | NB_DT_I64 | NB_DT_BOOL)

typedef enum nb_status {
  NB_OK = 0,
  NB_EINVAL = -1,    /* bad argument (NULL, out of range, unknown name) */
  NB_ENOMEM = -2,    /* allocation failed */
  NB_ESHAPE = -3,    /* shapes do not fit */
  NB_EDTYPE = -4,    /* dtype not accepted */
  NB_ESTATE = -5,    /* wrong state (graph freed, version mismatch, leaf rule) */
  NB_ENOTFOUND = -6, /* op, optimizer, plugin, file or key not found */
  NB_EIO = -7,       /* reading or writing a file failed */
  NB_EPLUGIN = -8,   /* a plugin failed to load or misbehaved */
  NB_EUNSUPPORTED = -9, /* valid request that nabla does not implement */
  NB_ECOMM = -10        /* communication between processes failed (peer gone, timeout) */
} nb_status;

typedef struct nb_tensor nb_tensor; /* opaque, refcounted */
typedef struct nb_node nb_node;     /* opaque autograd graph node */

/* ---- errors ------------------------------------------------------------ */

/* Message of the last failure on this thread ("" if none). Valid until the next
 * failing call on this thread. */
const char *nb_last_error(void);
/* Status of the last failure on this thread (NB_OK if none or cleared). */
int nb_last_status(void);
/* Forget the last error on this thread. */
void nb_clear_error(void);
/* Record an error (printf-style message) for this thread and return `status`, so
 * code can write `return nb_set_error(NB_EINVAL, "mul: ...")`. For plugins too. */
int nb_set_error(int status, const char *fmt, ...) NB_PRINTF(2, 3);
/* Report a NULL tensor argument with the formatted message ("sub: input ... is NULL"). When an
 * error is already pending on this thread (the NULL most likely came from a failed call
 * nested in this one), the message goes on with ", after an earlier failure: " and that
 * first error, whose status is kept; otherwise the status is NB_EINVAL. */
int nb_set_null_error(const char *fmt, ...) NB_PRINTF(1, 2);
/* Prefix the current error message with "prefix: " (adds context while unwinding). */
void nb_error_prefix(const char *fmt, ...) NB_PRINTF(1, 2);
/* Name of a status code ("NB_EINVAL"). */
const char *nb_status_name(int status);

/* ---- logging ----------------------------------------------------------- */

typedef enum nb_log_level { NB_LOG_ERROR = 0, NB_LOG_WARN = 1, NB_LOG_INFO = 2, NB_LOG_DEBUG = 3 } nb_log_level;
typedef void (*nb_log_fn)(int level, const char *msg, void *user);
/* Route warnings and info to `fn` (NULL restores the default: WARN and ERROR to
 * stderr, unless NABLA_QUIET is set in the environment). */
void nb_set_log_callback(nb_log_fn fn, void *user);
/* Emit a log message through the current callback. (Named nb_log_message because
 * nb_log is the natural-logarithm op in functional.h.) */
void nb_log_message(int level, const char *fmt, ...) NB_PRINTF(2, 3);

/* ---- dtypes ------------------------------------------------------------ */

/* Size in bytes of one element. */
size_t nb_dtype_size(nb_dtype dt);
/* "float32", "float64", "int64", "bool"; "?" for an invalid value. */
const char *nb_dtype_name(nb_dtype dt);
/* True for NB_F32 and NB_F64. */
bool nb_dtype_is_floating(nb_dtype dt);

/* ---- ownership: refcounts and scopes ------------------------------------ */

/* Add a reference; returns t (NULL-safe). */
nb_tensor *nb_retain(nb_tensor *t);
/* Drop a reference; frees at zero (NULL-safe). Releasing more references than were
 * taken, or using a tensor after the scope that held its last reference ended, is
 * undefined behaviour that nabla cannot detect cheaply: freed tensor structs are
 * recycled, so a stale pointer may silently alias a new tensor. AddressSanitizer builds
 * bypass the recycling and report it. */
void nb_release(nb_tensor *t);
/* Keep a scoped tensor beyond its scope: adds a reference the caller owns and
 * must nb_release(). Returns t. */
nb_tensor *nb_keep(nb_tensor *t);

/* Open a scope on this thread. Every tensor an API call returns while it is the
 * innermost open scope is registered in it; nb_scope_end() drops those
 * references. Scopes nest. Returns the new depth (>= 1) or a negative status. */
int nb_scope_begin(void);
/* Close the innermost scope, releasing what it holds. Returns 0, or NB_ESTATE when no
 * scope is open or the innermost one is not the caller's (a hook ending a scope of the
 * backward that runs it). */
int nb_scope_end(void);
/* Close the innermost scope but move `t` into the enclosing scope (or hand it
 * to the caller when there is none). Returns t, or NULL on error. */
nb_tensor *nb_scope_end_return(nb_tensor *t);
/* Depth of open scopes on this thread (0 when none). */
int nb_scope_depth(void);
/* Register a reference the caller owns into the innermost scope (used by code
 * that creates tensors outside the usual constructors). Returns t. */
nb_tensor *nb_scope_adopt(nb_tensor *t);
/* Number of tensors currently alive in the process (for leak tests). */
int64_t nb_live_tensors(void);

/* ---- threads ------------------------------------------------------------ */

/* Most threads nb_set_num_threads and NABLA_NUM_THREADS accept. */
#define NB_MAX_THREADS 1024
/* Threads used by BLIS and by the core's parallel loops, 1..NB_MAX_THREADS; more than the
 * machine's cores is accepted with a warning (threads then wait for each other). Returns
 * 0 or NB_EINVAL. With 1 thread results are bit-identical run to run. */
int nb_set_num_threads(int n);
/* Current thread count (default: NABLA_NUM_THREADS, else the number of cores, at most
 * NB_MAX_THREADS). */
int nb_get_num_threads(void);

#ifdef __cplusplus
}
#endif
#endif
