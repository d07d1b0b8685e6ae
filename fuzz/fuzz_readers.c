/* fuzz_readers.c — libFuzzer entry point for the data readers; FUZZ_READER picks one:
 *   1 safetensors  nfn_safetensors_parse on the whole input
 *   2 npy          nfn_npy_parse
 *   3 npz          nfn_npz_parse
 *   4 idx          nfn_idx_parse: byte 0 picks `limit` (0 = read all, else 1…15), bytes 1–2
 *                  (little-endian) where the images file ends, the rest is the two files
 * Every input must either parse or fail with a one-line "fuzz: …" error; anything else (and
 * every ASan/UBSan report) is a crash. Built by fuzz/run.sh.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nfn_datasets.h"
#include "nfn_numpy.h"
#include "nfn_safetensors.h"

#define FUZZ_SAFETENSORS 1
#define FUZZ_NPY 2
#define FUZZ_NPZ 3
#define FUZZ_IDX 4

/* Reads every float so that a buffer shorter than its numel is an ASan report. */
static float
fuzz_touch (const float *data, size_t count)
{
  float sum = 0;
  for (size_t k = 0; k < count; k++)
    sum += data[k];
  return sum;
}

static void
fuzz_check_error (const GError *error)
{
  if (!error || !g_str_has_prefix (error->message, "fuzz") || strchr (error->message, '\n'))
    abort ();
}

static void
fuzz_check_tensors (NfnSafetensors *st, GError *error)
{
  if (!st)
    {
      fuzz_check_error (error);
      return;
    }
  if (error)
    abort ();
  volatile float sink = 0;
  for (guint k = 0; k < st->tensors->len; k++)
    {
      const NfnTensor *tensor = g_ptr_array_index (st->tensors, k);
      gsize numel = 1;
      for (int d = 0; d < tensor->rank; d++)
        numel *= (gsize) tensor->shape[d];
      if (numel != tensor->numel)
        abort ();
      sink += fuzz_touch (tensor->data, tensor->numel);
    }
  (void) sink;
  nfn_safetensors_free (st);
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  GError *error = NULL;
#if FUZZ_READER == FUZZ_SAFETENSORS
  fuzz_check_tensors (nfn_safetensors_parse (data, size, "fuzz", &error), error);
#elif FUZZ_READER == FUZZ_NPY
  fuzz_check_tensors (nfn_npy_parse (data, size, "fuzz", "x", &error), error);
#elif FUZZ_READER == FUZZ_NPZ
  fuzz_check_tensors (nfn_npz_parse (data, size, "fuzz", &error), error);
#elif FUZZ_READER == FUZZ_IDX
  if (size < 3)
    return 0;
  int limit = data[0] % 16;
  size_t split = (size_t) (data[1] | data[2] << 8);
  data += 3;
  size -= 3;
  split = MIN (split, size);
  NfnDataset *ds = nfn_idx_parse (data, split, "fuzz images", data + split, size - split, "fuzz labels", limit, &error);
  if (!ds)
    fuzz_check_error (error);
  else
    {
      if (error || ds->count < 0 || (limit > 0 && ds->count > limit))
        abort ();
      volatile float sink = fuzz_touch (ds->images, (size_t) ds->count * 784);
      for (int k = 0; k < ds->count; k++)
        if (ds->labels[k] > 9 || ds->source_index[k] != k)
          abort ();
      (void) sink;
      nfn_dataset_free (ds);
    }
#else
#error "define FUZZ_READER"
#endif
  g_clear_error (&error);
  return 0;
}
