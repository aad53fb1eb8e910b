/* tests/serialize/fuzz_safetensors.c — fuzz target for the safetensors reader.
 *
 * libFuzzer entry point (built with clang -fsanitize=fuzzer when available) and also
 * driven by fuzz_driver.c's built-in mutation loop. Any input must either be refused
 * with an error message or load into a file whose every tensor can be read back with
 * the shape and dtype its info reports. Sanitizers catch out-of-bounds reads and leaks.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nabla/nabla.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what) {
  fprintf(stderr, "fuzz_safetensors: invariant violated: %s\n", what);
  abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  nb_scope_begin();
  nb_safetensors *f = nb_safetensors_load_buffer(data, size);
  if (!f) {
    if (!nb_last_error()[0]) fail("refused without a message");
  } else {
    int n = nb_safetensors_count(f);
    if (n < 0) fail("negative count");
    for (int i = 0; i < n; i++) {
      const char *name = nb_safetensors_name(f, i);
      if (!name) fail("NULL name");
      nb_dtype dt;
      int nd = -1;
      int64_t shape[NB_MAX_DIMS];
      if (nb_safetensors_info(f, name, &dt, &nd, shape) < 0 || nd < 0 || nd > NB_MAX_DIMS) fail("info");
      int64_t numel = 1;
      for (int k = 0; k < nd; k++) numel *= shape[k];
      if ((uint64_t)numel * nb_dtype_size(dt) > size) fail("tensor larger than the file");
      nb_tensor *t = nb_safetensors_get(f, name);
      if (!t) {
        /* only allocation may fail for a validated entry */
        if (nb_last_status() != NB_ENOMEM) fail("get failed on a validated entry");
        continue;
      }
      if (nb_dtype_of(t) != dt || nb_ndim(t) != nd || nb_numel(t) != numel) fail("get disagrees with info");
      if (dt == NB_BOOL)
        for (int64_t k = 0; k < numel; k++)
          if (((const uint8_t *)nb_data(t))[k] > 1) fail("bool not 0/1");
    }
    (void)nb_safetensors_metadata(f, "format");
    nb_safetensors_free(f);
  }
  nb_scope_end();
  return 0;
}
