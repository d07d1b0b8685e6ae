/* nfn-orbit.c — NfnOrbit: the current member of a network's permutation orbit.
 *
 * Shape letters as in nfn_core.h; N probe inputs, K outputs.
 * The current weights are always recomputed as σ·W from the original (a permutation only
 * moves numbers, so this is exact), never by stacking moves on the last member.
 */
#include "nfn-orbit.h"

#include <gsl/gsl_rng.h>
#include <math.h>
#include <string.h>

struct _NfnOrbit
{
  GObject parent_instance;

  NfnNetwork *original;
  NfnNetwork *current;
  nfn_perm sigma;          /* original index → current position */
  nfn_perm sigma_inverse;  /* current position → original index */
  nfn_perm previous;       /* σ before the last change, for the animation */
  gsl_rng *rng;

  double progress;
  guint tick_id;
  GtkWidget *tick_widget; /* weak */
  gint64 animation_start;

  NfnProbe *probe, *fine_probe;
  float *outputs, *original_outputs;           /* (N, K) */
  float *fine_outputs, *fine_original_outputs; /* (N_fine, K) or NULL */
  float *hidden[NFN_MAX_LAYERS + 1];           /* [i]: (N, n_i) of the current member */
};

G_DEFINE_FINAL_TYPE (NfnOrbit, nfn_orbit, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_PROGRESS,
  N_PROPS
};
static GParamSpec *properties[N_PROPS];

enum {
  SIGNAL_CHANGED,
  N_SIGNALS
};
static guint signals[N_SIGNALS];

/* Re-derives everything that depends on σ: σ⁻¹, σ·W and the current outputs. */
static void
nfn_orbit_update (NfnOrbit *self)
{
  nfn_perm_inverse (&self->sigma, &self->sigma_inverse);
  nfn_status status = nfn_perm_apply (&self->sigma, &self->original->weights, &self->current->weights);
  g_assert (status == NFN_OK);

  const nfn_space *s = &self->original->arch.space;
  status = nfn_probe_run (self->probe, &self->current->weights, self->outputs);
  g_assert (status == NFN_OK);
  for (int i = 1; i < s->L; i++)
    {
      const float *hidden = nfn_probe_hidden (self->probe, i);
      if (hidden && self->hidden[i])
        memcpy (self->hidden[i], hidden, (size_t) self->probe->n * s->n[i] * sizeof (float));
    }
  if (self->fine_probe)
    {
      status = nfn_probe_run (self->fine_probe, &self->current->weights, self->fine_outputs);
      g_assert (status == NFN_OK);
    }
}

static void
nfn_orbit_copy_perm (nfn_perm *dst, const nfn_perm *src)
{
  for (int i = 0; i <= src->space.L; i++)
    memcpy (dst->p[i], src->p[i], src->space.n[i] * sizeof (int));
}

/* Records the old σ, and tells the views about the new one. */
static void
nfn_orbit_changed (NfnOrbit *self, const nfn_perm *previous)
{
  nfn_orbit_copy_perm (&self->previous, previous);
  nfn_orbit_update (self);
  self->progress = 0.0;
  g_signal_emit (self, signals[SIGNAL_CHANGED], 0);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PROGRESS]);
}

/* σ ← τ∘σ, announced as one change. */
static void
nfn_orbit_compose (NfnOrbit *self, const nfn_perm *tau)
{
  nfn_perm old, next;
  nfn_perm_alloc (&old, &self->sigma.space);
  nfn_perm_alloc (&next, &self->sigma.space);
  nfn_orbit_copy_perm (&old, &self->sigma);
  nfn_perm_compose (tau, &self->sigma, &next);
  nfn_orbit_copy_perm (&self->sigma, &next);
  nfn_orbit_changed (self, &old);
  nfn_perm_free (&old);
  nfn_perm_free (&next);
}

NfnOrbit *
nfn_orbit_new (const NfnNetwork *network, guint64 seed)
{
  g_return_val_if_fail (network != NULL, NULL);
  NfnOrbit *self = g_object_new (NFN_TYPE_ORBIT, NULL);
  self->original = nfn_network_copy (network);
  self->current = nfn_network_copy (network);
  const nfn_space *s = &network->arch.space;
  if (nfn_perm_alloc (&self->sigma, s) != NFN_OK || nfn_perm_alloc (&self->sigma_inverse, s) != NFN_OK
      || nfn_perm_alloc (&self->previous, s) != NFN_OK)
    g_error ("nfn_orbit_new: out of memory");
  self->rng = gsl_rng_alloc (gsl_rng_mt19937);
  gsl_rng_set (self->rng, (unsigned long) seed);
  self->progress = 1.0;

  self->probe = nfn_probe_new (&network->arch, NFN_ORBIT_GRID);
  size_t n_out = nfn_probe_output_size (self->probe);
  self->outputs = g_new0 (float, n_out);
  self->original_outputs = g_new0 (float, n_out);
  if (nfn_probe_is_image (self->probe))
    {
      self->fine_probe = nfn_probe_new (&network->arch, NFN_ORBIT_FINE_GRID);
      self->fine_outputs = g_new0 (float, nfn_probe_output_size (self->fine_probe));
      self->fine_original_outputs = g_new0 (float, nfn_probe_output_size (self->fine_probe));
    }
  for (int i = 1; i < s->L; i++)
    if (nfn_probe_hidden (self->probe, i) != NULL)
      self->hidden[i] = g_new0 (float, (size_t) self->probe->n * s->n[i]);

  nfn_orbit_update (self);
  memcpy (self->original_outputs, self->outputs, n_out * sizeof (float));
  if (self->fine_probe)
    memcpy (self->fine_original_outputs, self->fine_outputs, nfn_probe_output_size (self->fine_probe) * sizeof (float));
  return self;
}

const NfnNetwork *
nfn_orbit_get_original (NfnOrbit *self)
{
  g_return_val_if_fail (NFN_IS_ORBIT (self), NULL);
  return self->original;
}

const NfnNetwork *
nfn_orbit_get_current (NfnOrbit *self)
{
  g_return_val_if_fail (NFN_IS_ORBIT (self), NULL);
  return self->current;
}

const nfn_perm *
nfn_orbit_get_permutation (NfnOrbit *self)
{
  g_return_val_if_fail (NFN_IS_ORBIT (self), NULL);
  return &self->sigma;
}

int
nfn_orbit_identity_at (NfnOrbit *self, int set, int position)
{
  g_return_val_if_fail (NFN_IS_ORBIT (self), -1);
  g_return_val_if_fail (set >= 0 && set <= self->sigma.space.L, -1);
  g_return_val_if_fail (position >= 0 && position < self->sigma.space.n[set], -1);
  return self->sigma_inverse.p[set][position];
}

void
nfn_orbit_permute_random (NfnOrbit *self)
{
  g_return_if_fail (NFN_IS_ORBIT (self));
  nfn_perm tau;
  nfn_perm_alloc (&tau, &self->sigma.space);
  nfn_perm_random (&tau, NFN_SYM_HNP, self->rng);
  nfn_orbit_compose (self, &tau);
  nfn_perm_free (&tau);
}

gboolean
nfn_orbit_canonicalize (NfnOrbit *self, GError **error)
{
  g_return_val_if_fail (NFN_IS_ORBIT (self), FALSE);
  nfn_perm tau;
  nfn_perm_alloc (&tau, &self->sigma.space);
  nfn_status status = nfn_perm_canonical (&self->current->weights, &tau);
  if (status == NFN_OK)
    nfn_orbit_compose (self, &tau);
  else
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "canonical form: %s", nfn_status_message (status));
  nfn_perm_free (&tau);
  return status == NFN_OK;
}

void
nfn_orbit_reset (NfnOrbit *self)
{
  g_return_if_fail (NFN_IS_ORBIT (self));
  nfn_perm tau;
  nfn_perm_alloc (&tau, &self->sigma.space);
  nfn_perm_inverse (&self->sigma, &tau); /* σ⁻¹∘σ = id */
  nfn_orbit_compose (self, &tau);
  nfn_perm_free (&tau);
}

gboolean
nfn_orbit_move_neuron (NfnOrbit *self, int set, int from, int to)
{
  g_return_val_if_fail (NFN_IS_ORBIT (self), FALSE);
  const nfn_space *s = &self->sigma.space;
  if (set < 1 || set >= s->L || from < 0 || to < 0 || from >= s->n[set] || to >= s->n[set])
    return FALSE;
  nfn_perm tau;
  nfn_perm_alloc (&tau, s);
  for (int p = 0; p < s->n[set]; p++)
    {
      int q = p;
      if (p == from)
        q = to;
      else if (from < to && p > from && p <= to)
        q = p - 1;
      else if (from > to && p >= to && p < from)
        q = p + 1;
      tau.p[set][p] = q;
    }
  nfn_orbit_compose (self, &tau);
  nfn_perm_free (&tau);
  return TRUE;
}

gboolean
nfn_orbit_apply (NfnOrbit *self, const nfn_perm *tau)
{
  g_return_val_if_fail (NFN_IS_ORBIT (self), FALSE);
  g_return_val_if_fail (tau != NULL, FALSE);
  const nfn_space *s = &self->sigma.space;
  if (!nfn_space_equal (&tau->space, s))
    return FALSE;
  for (int j = 0; j < s->n[0]; j++)
    if (tau->p[0][j] != j)
      return FALSE;
  for (int j = 0; j < s->n[s->L]; j++)
    if (tau->p[s->L][j] != j)
      return FALSE;
  nfn_orbit_compose (self, tau);
  return TRUE;
}

/* ---- Animation ---- */

double
nfn_orbit_get_progress (NfnOrbit *self)
{
  g_return_val_if_fail (NFN_IS_ORBIT (self), 1.0);
  return self->progress;
}

void
nfn_orbit_set_progress (NfnOrbit *self, double progress)
{
  g_return_if_fail (NFN_IS_ORBIT (self));
  progress = CLAMP (progress, 0.0, 1.0);
  if (progress == self->progress)
    return;
  self->progress = progress;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PROGRESS]);
}

/* Smoothstep: starts and lands softly, so the eye can follow each neuron. */
static double
nfn_orbit_ease (double t)
{
  return t * t * (3 - 2 * t);
}

int
nfn_orbit_previous_position (NfnOrbit *self, int set, int position)
{
  g_return_val_if_fail (NFN_IS_ORBIT (self), 0);
  return self->previous.p[set][self->sigma_inverse.p[set][position]];
}

double
nfn_orbit_get_eased_progress (NfnOrbit *self)
{
  g_return_val_if_fail (NFN_IS_ORBIT (self), 1.0);
  return nfn_orbit_ease (self->progress);
}

float
nfn_orbit_animated_position (NfnOrbit *self, int set, int position)
{
  g_return_val_if_fail (NFN_IS_ORBIT (self), 0.0f);
  int before = nfn_orbit_previous_position (self, set, position);
  return (float) (before + (position - before) * nfn_orbit_ease (self->progress));
}

void
nfn_orbit_animated_positions (NfnOrbit *self, int set, float *positions)
{
  g_return_if_fail (NFN_IS_ORBIT (self));
  for (int j = 0; j < self->sigma.space.n[set]; j++)
    positions[j] = nfn_orbit_animated_position (self, set, j);
}

static gboolean
nfn_orbit_tick (GtkWidget *widget, GdkFrameClock *clock, gpointer data)
{
  NfnOrbit *self = data;
  gint64 now = gdk_frame_clock_get_frame_time (clock);
  if (self->animation_start == 0)
    self->animation_start = now;
  double t = (now - self->animation_start) / (NFN_ORBIT_ANIMATION_MS * 1000.0);
  nfn_orbit_set_progress (self, t);
  if (t < 1.0)
    return G_SOURCE_CONTINUE;
  self->tick_id = 0;
  return G_SOURCE_REMOVE;
}

static void
nfn_orbit_stop_animation (NfnOrbit *self)
{
  if (self->tick_id && self->tick_widget)
    gtk_widget_remove_tick_callback (self->tick_widget, self->tick_id);
  self->tick_id = 0;
  if (self->tick_widget)
    g_object_remove_weak_pointer (G_OBJECT (self->tick_widget), (gpointer *) &self->tick_widget);
  self->tick_widget = NULL;
}

void
nfn_orbit_animate (NfnOrbit *self, GtkWidget *widget)
{
  g_return_if_fail (NFN_IS_ORBIT (self));
  g_return_if_fail (GTK_IS_WIDGET (widget));
  nfn_orbit_stop_animation (self);
  gboolean animations = TRUE;
  g_object_get (gtk_widget_get_settings (widget), "gtk-enable-animations", &animations, NULL);
  if (!animations || !gtk_widget_get_mapped (widget))
    {
      nfn_orbit_set_progress (self, 1.0);
      return;
    }
  self->tick_widget = widget;
  g_object_add_weak_pointer (G_OBJECT (widget), (gpointer *) &self->tick_widget);
  self->animation_start = 0;
  self->tick_id = gtk_widget_add_tick_callback (widget, nfn_orbit_tick, self, NULL);
}

/* ---- What the network computes ---- */

NfnProbe *
nfn_orbit_get_probe (NfnOrbit *self, gboolean fine)
{
  g_return_val_if_fail (NFN_IS_ORBIT (self), NULL);
  return fine ? self->fine_probe : self->probe;
}

const float *
nfn_orbit_get_outputs (NfnOrbit *self, gboolean fine)
{
  g_return_val_if_fail (NFN_IS_ORBIT (self), NULL);
  return fine ? self->fine_outputs : self->outputs;
}

const float *
nfn_orbit_get_original_outputs (NfnOrbit *self, gboolean fine)
{
  g_return_val_if_fail (NFN_IS_ORBIT (self), NULL);
  return fine ? self->fine_original_outputs : self->original_outputs;
}

const float *
nfn_orbit_get_hidden (NfnOrbit *self, int layer)
{
  g_return_val_if_fail (NFN_IS_ORBIT (self), NULL);
  if (layer < 1 || layer >= self->sigma.space.L)
    return NULL;
  return self->hidden[layer];
}

double
nfn_orbit_get_max_delta_f (NfnOrbit *self)
{
  g_return_val_if_fail (NFN_IS_ORBIT (self), NAN);
  double worst = nfn_probe_max_abs_diff (self->outputs, self->original_outputs, nfn_probe_output_size (self->probe));
  if (self->fine_probe)
    worst = MAX (worst, nfn_probe_max_abs_diff (self->fine_outputs, self->fine_original_outputs,
                                                nfn_probe_output_size (self->fine_probe)));
  return worst;
}

void
nfn_orbit_get_weight_change (NfnOrbit *self, double *relative, double *fraction_changed)
{
  g_return_if_fail (NFN_IS_ORBIT (self));
  const nfn_feature *w = &self->original->weights, *moved = &self->current->weights;
  double norm = 0;
  size_t changed = 0, total = 0;
  for (int t = 0; t < nfn_tensor_count (&w->space); t++)
    {
      size_t n = nfn_tensor_entries (&w->space, t);
      for (size_t e = 0; e < n; e++)
        {
          norm += (double) w->t[t][e] * w->t[t][e];
          changed += moved->t[t][e] != w->t[t][e];
        }
      total += n;
    }
  double distance = nfn_weight_distance (moved, w);
  if (relative)
    *relative = norm > 0 ? distance / sqrt (norm) : 0.0;
  if (fraction_changed)
    *fraction_changed = total ? (double) changed / total : 0.0;
}

char *
nfn_orbit_format_size (const nfn_space *space)
{
  g_return_val_if_fail (space != NULL, NULL);
  double log10_size = 0;
  for (int i = 1; i < space->L; i++)
    log10_size += lgamma (space->n[i] + 1.0) / G_LN10;
  if (log10_size < 6)
    return g_strdup_printf ("%.0f", round (pow (10, log10_size)));
  double exponent = floor (log10_size);
  double mantissa = pow (10, log10_size - exponent);
  if (mantissa >= 9.95)
    {
      mantissa /= 10;
      exponent += 1;
    }
  return g_strdup_printf ("%.1fe%.0f", mantissa, exponent);
}

/* ---- GObject ---- */

static void
nfn_orbit_dispose (GObject *object)
{
  nfn_orbit_stop_animation (NFN_ORBIT (object));
  G_OBJECT_CLASS (nfn_orbit_parent_class)->dispose (object);
}

static void
nfn_orbit_finalize (GObject *object)
{
  NfnOrbit *self = NFN_ORBIT (object);
  g_clear_pointer (&self->original, nfn_network_free);
  g_clear_pointer (&self->current, nfn_network_free);
  nfn_perm_free (&self->sigma);
  nfn_perm_free (&self->sigma_inverse);
  nfn_perm_free (&self->previous);
  g_clear_pointer (&self->rng, gsl_rng_free);
  g_clear_pointer (&self->probe, nfn_probe_free);
  g_clear_pointer (&self->fine_probe, nfn_probe_free);
  g_free (self->outputs);
  g_free (self->original_outputs);
  g_free (self->fine_outputs);
  g_free (self->fine_original_outputs);
  for (int i = 0; i <= NFN_MAX_LAYERS; i++)
    g_free (self->hidden[i]);
  G_OBJECT_CLASS (nfn_orbit_parent_class)->finalize (object);
}

static void
nfn_orbit_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  NfnOrbit *self = NFN_ORBIT (object);
  switch (prop_id)
    {
    case PROP_PROGRESS: g_value_set_double (value, self->progress); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
nfn_orbit_class_init (NfnOrbitClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  object_class->dispose = nfn_orbit_dispose;
  object_class->finalize = nfn_orbit_finalize;
  object_class->get_property = nfn_orbit_get_property;

  properties[PROP_PROGRESS] = g_param_spec_double ("progress", NULL, NULL, 0.0, 1.0, 1.0,
                                                   G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /* After σ changed: the current weights and outputs are new, progress is back at 0. */
  signals[SIGNAL_CHANGED] = g_signal_new ("changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                                          NULL, G_TYPE_NONE, 0);
}

static void
nfn_orbit_init (NfnOrbit *self)
{
}
