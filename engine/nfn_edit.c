/* nfn_edit.c — the INR editing loss and its backward through the SIREN into the model.
 *
 * Shape letters: B networks, R×Cc image rows × columns, N = R·Cc pixels; networks and deltas
 * are C = 1 features (B, …) of the SIREN's space. The renders share one coordinate grid, so
 * nfn_net_forward/backward run with x_batch_stride = 0 and no input gradient.
 */
#include "nfn_edit.h"

#include <stdlib.h>
#include <string.h>

#include "nfn_fit.h"

void
nfn_edit_model_config (nfn_model_config *cfg, nfn_model_kind kind, const nfn_space *space)
{
  nfn_model_config_default (cfg, kind, space, 1);
  cfg->fourier_m = NFN_EDIT_FOURIER_M;
  cfg->fourier_scale = NFN_EDIT_FOURIER_SCALE;
  cfg->output = NFN_MODEL_OUT_WEIGHTS;
  cfg->out_channels = 1;
  cfg->out_scale = NFN_EDIT_OUT_SCALE;
}

void
nfn_edit_clear (nfn_edit *edit)
{
  free (edit->coords);
  free (edit->edited);
  free (edit->dedited);
  free (edit->pixels);
  free (edit->dpixels);
  free (edit->cache);
  memset (edit, 0, sizeof *edit);
}

nfn_status
nfn_edit_init (nfn_edit *edit, const nfn_arch *arch, int rows, int cols, int max_batch)
{
  memset (edit, 0, sizeof *edit);
  if (nfn_arch_check (arch) != NFN_OK || arch->kind != NFN_NET_SIREN || nfn_net_input_size (arch) != 2
      || nfn_net_output_size (arch) != 1 || rows < 1 || cols < 1 || max_batch < 1)
    return NFN_ERR_ARG;
  edit->arch = *arch;
  edit->rows = rows;
  edit->cols = cols;
  edit->max_batch = max_batch;
  size_t N = (size_t) rows * cols, weights = nfn_feature_size (&arch->space, max_batch, 1);
  edit->coords = malloc (2 * N * sizeof (float));
  edit->edited = malloc (weights * sizeof (float));
  edit->dedited = malloc (weights * sizeof (float));
  edit->pixels = malloc ((size_t) max_batch * N * sizeof (float));
  edit->dpixels = malloc ((size_t) max_batch * N * sizeof (float));
  edit->cache = malloc (nfn_net_cache_size (arch, max_batch, (int) N) * sizeof (float));
  if (!edit->coords || !edit->edited || !edit->dedited || !edit->pixels || !edit->dpixels || !edit->cache)
    {
      nfn_edit_clear (edit);
      return NFN_ERR_NOMEM;
    }
  nfn_fit_grid (edit->coords, rows, cols);
  return NFN_OK;
}

nfn_status
nfn_edit_apply (const nfn_feature *networks, const nfn_feature *delta, nfn_feature *edited)
{
  if (networks->C != 1 || !nfn_feature_same_shape (networks, delta) || !nfn_feature_same_shape (networks, edited))
    return NFN_ERR_SHAPE;
  /* same shape means the same layout, padding included, so the blocks add as one array */
  for (size_t e = 0; e < networks->size; e++)
    edited->data[e] = networks->data[e] + delta->data[e];
  return NFN_OK;
}

/* A network batch of the edit's space and at most max_batch networks. */
static nfn_status
nfn_edit_check_batch (const nfn_edit *edit, const nfn_feature *networks)
{
  if (networks->C != 1 || !nfn_space_equal (&networks->space, &edit->arch.space))
    return NFN_ERR_SHAPE;
  if (networks->B < 1 || networks->B > edit->max_batch)
    return NFN_ERR_ARG;
  return NFN_OK;
}

nfn_status
nfn_edit_render (nfn_edit *edit, const nfn_feature *networks /* (B, C = 1) */, float *pixels /* (B, N) */)
{
  /* no cache is kept, so any B fits */
  if (networks->C != 1 || !nfn_space_equal (&networks->space, &edit->arch.space))
    return NFN_ERR_SHAPE;
  return nfn_net_forward (&edit->arch, networks, edit->rows * edit->cols, edit->coords, 0, pixels, NULL);
}

nfn_status
nfn_edit_loss (nfn_edit *edit, const nfn_feature *networks /* (B, 1) */, const nfn_feature *delta /* (B, 1) */,
               const float *targets /* (B, N) */, double *loss, nfn_feature *ddelta /* (B, 1) or NULL */)
{
  nfn_status st = nfn_edit_check_batch (edit, networks);
  if (st != NFN_OK)
    return st;
  if (ddelta && !nfn_feature_same_shape (networks, ddelta))
    return NFN_ERR_SHAPE;
  int B = networks->B, N = edit->rows * edit->cols;
  nfn_feature edited;
  nfn_feature_wrap (&edited, &networks->space, B, 1, edit->edited);
  if ((st = nfn_edit_apply (networks, delta, &edited)) != NFN_OK)
    return st;
  float *cache = ddelta ? edit->cache : NULL;
  if ((st = nfn_net_forward (&edit->arch, &edited, N, edit->coords, 0, edit->pixels, cache)) != NFN_OK)
    return st;
  float *dpixels = ddelta ? edit->dpixels : NULL;
  st = nfn_mse (edit->pixels, targets, (size_t) B * N, loss, dpixels);
  if (st != NFN_OK || !ddelta)
    return st;
  /* U' = U + delta, so d(delta) is d(U') itself */
  memset (ddelta->data, 0, ddelta->size * sizeof (float));
  return nfn_net_backward (&edit->arch, &edited, N, edit->coords, 0, cache, dpixels, ddelta, NULL);
}

nfn_status
nfn_edit_model_loss (nfn_edit *edit, nfn_model *model, const nfn_feature *networks /* (B, 1) */,
                     const nfn_feature *model_input /* (B, 1) */, const float *targets /* (B, N) */, int training,
                     double *loss)
{
  nfn_status st = nfn_edit_check_batch (edit, networks);
  if (st != NFN_OK)
    return st;
  if (!nfn_feature_same_shape (networks, model_input))
    return NFN_ERR_SHAPE;
  const nfn_feature *delta;
  if ((st = nfn_model_forward_weights (model, model_input, training, &delta)) != NFN_OK)
    return st;
  if (delta->C != 1)
    return NFN_ERR_SHAPE;
  nfn_feature ddelta;
  nfn_feature_wrap (&ddelta, &networks->space, networks->B, 1, edit->dedited);
  if ((st = nfn_edit_loss (edit, networks, delta, targets, loss, &ddelta)) != NFN_OK)
    return st;
  return nfn_model_backward_weights (model, &ddelta);
}

nfn_status
nfn_edit_train_step (nfn_edit *edit, nfn_model *model, nfn_adam *opt, const nfn_feature *networks,
                     const nfn_feature *model_input, const float *targets /* (B, N) */, double *loss)
{
  nfn_status st = nfn_edit_model_loss (edit, model, networks, model_input, targets, 1, loss);
  if (st != NFN_OK)
    return st;
  nfn_model_adam_step (model, opt);
  return NFN_OK;
}

nfn_status
nfn_edit_model_apply (nfn_model *model, const nfn_feature *networks /* (B, 1) */,
                      const nfn_feature *model_input /* (B, 1) */, nfn_feature *edited /* (B, 1) */)
{
  if (!nfn_feature_same_shape (networks, model_input))
    return NFN_ERR_SHAPE;
  const nfn_feature *delta;
  nfn_status st = nfn_model_forward_weights (model, model_input, 0, &delta);
  if (st != NFN_OK)
    return st;
  return nfn_edit_apply (networks, delta, edited);
}

nfn_status
nfn_edit_model_render (nfn_edit *edit, nfn_model *model, const nfn_feature *networks /* (B, 1) */,
                       const nfn_feature *model_input /* (B, 1) */, float *pixels /* (B, N) */)
{
  nfn_status st = nfn_edit_check_batch (edit, networks);
  if (st != NFN_OK)
    return st;
  nfn_feature edited;
  nfn_feature_wrap (&edited, &networks->space, networks->B, 1, edit->edited);
  if ((st = nfn_edit_model_apply (model, networks, model_input, &edited)) != NFN_OK)
    return st;
  return nfn_edit_render (edit, &edited, pixels);
}
