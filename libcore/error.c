/* error.c — thread-local error state and the log callback.
 *
 * Every failing call records a status and a message for its thread; callers read
 * them with nb_last_error()/nb_last_status(). Warnings go through one process-wide
 * log callback (default: WARN and ERROR to stderr unless NABLA_QUIET is set).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define NB_ERRMSG_SIZE 1024

static _Thread_local char tl_msg[NB_ERRMSG_SIZE];
static NB_TLS int tl_status;

const char *nb_last_error(void) { return tl_msg; }

int nb_last_status(void) { return tl_status; }

void nb_clear_error(void) {
  tl_msg[0] = '\0';
  tl_status = NB_OK;
}

int nb_set_error(int status, const char *fmt, ...) {
  /* Format into a local buffer first: the arguments may point at tl_msg itself. */
  char buf[NB_ERRMSG_SIZE];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt ? fmt : "", ap);
  va_end(ap);
  memcpy(tl_msg, buf, sizeof buf);
  tl_status = status;
  return status;
}

int nb_set_null_error(const char *fmt, ...) {
  static const char mark[] = ", after an earlier failure: ";
  char buf[NB_ERRMSG_SIZE];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt ? fmt : "", ap);
  va_end(ap);
  if (tl_status == NB_OK || !tl_msg[0])
    return nb_set_error(NB_EINVAL, "%s", buf);
  /* Nested calls: nb_sub(nb_mul(a, c), a) with a failed nb_mul hands sub a NULL. Keep
   * the first failure as the cause (and its status); a chain of NULLs collapses to the
   * outermost call and that cause. */
  const char *cause = strstr(tl_msg, mark);
  cause = cause ? cause + sizeof mark - 1 : tl_msg;
  return nb_set_error(tl_status, "%s%s%s", buf, mark, cause);
}

void nb_error_prefix(const char *fmt, ...) {
  char prefix[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(prefix, sizeof prefix, fmt ? fmt : "", ap);
  va_end(ap);
  char buf[NB_ERRMSG_SIZE];
  size_t pl = strlen(prefix); /* < 256 */
  memcpy(buf, prefix, pl);
  memcpy(buf + pl, ": ", 2);
  size_t ml = strnlen(tl_msg, sizeof buf - pl - 3);
  memcpy(buf + pl + 2, tl_msg, ml);
  buf[pl + 2 + ml] = '\0';
  memcpy(tl_msg, buf, sizeof buf);
}

const char *nb_status_name(int status) {
  switch (status) {
  case NB_OK: return "NB_OK";
  case NB_EINVAL: return "NB_EINVAL";
  case NB_ENOMEM: return "NB_ENOMEM";
  case NB_ESHAPE: return "NB_ESHAPE";
  case NB_EDTYPE: return "NB_EDTYPE";
  case NB_ESTATE: return "NB_ESTATE";
  case NB_ENOTFOUND: return "NB_ENOTFOUND";
  case NB_EIO: return "NB_EIO";
  case NB_EPLUGIN: return "NB_EPLUGIN";
  case NB_EUNSUPPORTED: return "NB_EUNSUPPORTED";
  case NB_ECOMM: return "NB_ECOMM";
  default: return "NB_E?";
  }
}

/* ---- logging --------------------------------------------------------------- */

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static nb_log_fn log_fn;
static void *log_user;

static void default_log(int level, const char *msg, void *user) {
  (void)user;
  if (level > NB_LOG_WARN)
    return;
  const char *quiet = getenv("NABLA_QUIET");
  if (quiet && quiet[0])
    return;
  fprintf(stderr, "nabla: %s: %s\n", level == NB_LOG_ERROR ? "error" : "warning", msg);
}

void nb_set_log_callback(nb_log_fn fn, void *user) {
  pthread_mutex_lock(&log_lock);
  log_fn = fn;
  log_user = user;
  pthread_mutex_unlock(&log_lock);
}

void nb_log_message(int level, const char *fmt, ...) {
  char buf[NB_ERRMSG_SIZE];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt ? fmt : "", ap);
  va_end(ap);
  pthread_mutex_lock(&log_lock);
  nb_log_fn fn = log_fn ? log_fn : default_log;
  void *user = log_fn ? log_user : NULL;
  pthread_mutex_unlock(&log_lock);
  fn(level, buf, user);
}

/* ---- formatting helpers -------------------------------------------------------- */

#define NB_TMPBUF_COUNT 8
#define NB_TMPBUF_SIZE 256
static _Thread_local char tl_ring[NB_TMPBUF_COUNT][NB_TMPBUF_SIZE];
static _Thread_local unsigned tl_ring_next;

char *nb__tmpbuf(size_t *size) {
  char *b = tl_ring[tl_ring_next++ % NB_TMPBUF_COUNT];
  b[0] = '\0';
  if (size)
    *size = NB_TMPBUF_SIZE;
  return b;
}
