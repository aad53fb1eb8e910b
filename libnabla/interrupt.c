/* libnabla/interrupt.c — Ctrl-C as a request to stop after the current batch
 * (interrupt.h). The handler only does async-signal-safe things: set a sig_atomic_t
 * flag and write(2) the message. SA_RESETHAND restores the default action for the
 * second Ctrl-C.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "nabla/interrupt.h"

static volatile sig_atomic_t flag;
static const char *msg;
static size_t msg_len;
static struct sigaction previous;
static bool installed;

static void on_sigint(int sig) {
  (void)sig;
  int saved = errno;
  flag = 1;
  if (msg_len) {
    ssize_t w = write(STDERR_FILENO, msg, msg_len);
    (void)w;
  }
  errno = saved;
}

int nb_interrupt_install(const char *message) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_sigint;
  sa.sa_flags = SA_RESETHAND | SA_RESTART;
  sigemptyset(&sa.sa_mask);
  msg = message;
  msg_len = message ? strlen(message) : 0;
  flag = 0;
  struct sigaction old;
  if (sigaction(SIGINT, &sa, &old) != 0)
    return nb_set_error(NB_EIO, "nb_interrupt_install: sigaction failed: %s", strerror(errno));
  if (!installed) previous = old;
  installed = true;
  return 0;
}

bool nb_interrupted(void) { return flag != 0; }

int nb_interrupt_uninstall(void) {
  if (!installed) return 0;
  if (sigaction(SIGINT, &previous, NULL) != 0)
    return nb_set_error(NB_EIO, "nb_interrupt_uninstall: sigaction failed: %s", strerror(errno));
  installed = false;
  return 0;
}
