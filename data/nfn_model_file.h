/* nfn_model_file.h — an nfn_model saved as safetensors, readable by PyTorch (DESIGN.md §4).
 *
 * The file is an ordinary safetensors file (F32):
 *   one tensor per parameter block, with a readable name and its natural shape, e.g.
 *     "encoder.0.W2.full.weight"  (C_in·fold_in, C_out·fold_out)   an equivariant class matrix
 *     "encoder.0.W2.full.bias"    (C_out·fold_out)
 *     "encoder.0.W2.weight" (C_in·f, C_out·f), ".bias"             pointwise layers
 *     "output.…", "output.scale"                                   a WEIGHTS model's last NF
 *                                                                  layer and LearnedScale
 *     "head.0.weight" (out, in)   "head.0.bias" (out)              the MLP head (PyTorch's
 *                                                                  nn.Linear order, transposed
 *                                                                  from the arena's (in, out))
 *     "fourier.matrix" (m)                                         fixed buffers
 *   (names and shapes from nfn_model_param_blocks); the tensors cover every parameter
 *   block of the arena, so saving a model then loading it gives equal parameters, bit for bit;
 *   __metadata__:
 *     "nfn.format"  "nfn-model"      "nfn.version" "1"
 *     "nfn.model"   the config as a JSON object (kind, space, every field of nfn_model_config)
 *     "nfn.task"    "classify" | "genpred" | "edit" | "mask" | …
 *     "nfn.classes" a JSON array of class names (classification), else absent
 *     "nfn.extra"   a task's own JSON object (e.g. edit's transform), else absent
 *
 * Loading checks the format and version, parses the config, builds the model, and checks
 * every tensor's name and shape against the one the config implies (no missing, extra or
 * misshapen tensors, no NaN/Inf). Errors are one line, "PATH: fault", in NFN_DATA_ERROR.
 */
#ifndef NFN_MODEL_FILE_H
#define NFN_MODEL_FILE_H

#include <glib.h>
#include <json-glib/json-glib.h>
#include "nfn_model.h"
#include "nfn_safetensors.h"

G_BEGIN_DECLS

#define NFN_MODEL_FILE_FORMAT "nfn-model"
#define NFN_MODEL_FILE_VERSION 1

/* What a model file says besides the parameters. */
typedef struct {
  char *task;         /* "classify", "genpred", …; NULL = "classify" on save */
  char **class_names; /* NULL-terminated, n_out names for classification, or NULL */
  char *extra_json;   /* a JSON object a task keeps with its model, or NULL */
} NfnModelFileInfo;

void nfn_model_file_info_clear (NfnModelFileInfo *info);

/* The config as a JSON object string (every field, space included), newly allocated. */
char *nfn_model_config_to_json (const nfn_model_config *cfg);
/* Adds the config as an object value at the builder's current position. */
void nfn_model_config_build_json (JsonBuilder *builder, const nfn_model_config *cfg);
/* Parses a config object; missing fields take nfn_model_config_default's values, unknown
 * ones are refused; the result passes nfn_model_config_check. `label` names the source in
 * the one-line error. */
gboolean nfn_model_config_from_json_node (JsonNode *node, nfn_model_config *cfg, const char *label,
                                          GError **error);
gboolean nfn_model_config_from_json (const char *json, nfn_model_config *cfg, const char *label, GError **error);

/* The model as safetensors in memory (the saved form), and back. from_safetensors builds a
 * new model (seed irrelevant: every parameter is overwritten) and fills info (may be NULL);
 * max_batch overrides the saved config's (the activation arena's size) when > 0. */
NfnSafetensors *nfn_model_to_safetensors (nfn_model *model, const NfnModelFileInfo *info);
nfn_model *nfn_model_from_safetensors (const NfnSafetensors *st, const char *label, int max_batch,
                                       NfnModelFileInfo *info, GError **error);

/* Writes atomically (temp file + rename). */
gboolean nfn_model_file_save (nfn_model *model, const NfnModelFileInfo *info, const char *path, GError **error);
/* max_batch overrides the saved config's (the activation arena's size) when > 0. */
nfn_model *nfn_model_file_load (const char *path, int max_batch, NfnModelFileInfo *info, GError **error);

G_END_DECLS
#endif
