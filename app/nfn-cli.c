/* nfn-cli.c — the `nfn` command line: info, permute, check, align, bench.
 * Every failure is one line on stderr naming the file and the fault, and exit status 1. */
#include "nfn_json.h"
#include "nfn-config.h"
#include "nfn-cli.h"

#include <gsl/gsl_rng.h>
#include <locale.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "nfn_network.h"
#include "nfn_nets.h"
#include "nfn_perm.h"
#include "nfn_network_text.h"
#include "nfn_sample.h"
#include "nfn_zoo.h"

int
nfn_cli_fail (const char *format, ...)
{
  va_list args;
  va_start (args, format);
  g_autofree char *message = g_strdup_vprintf (format, args);
  va_end (args);
  /* one line, whatever the message holds */
  g_strdelimit (message, "\n\r", ' ');
  fprintf (stderr, "nfn: %s\n", message);
  return 1;
}

int
nfn_cli_clamp_threads (int threads)
{
  return nfn_task_clamp_threads (threads);
}

int
nfn_cli_fail_error (GError *error)
{
  return nfn_cli_fail ("%s", error->message);
}

void
nfn_cli_print_json (JsonBuilder *builder)
{
  g_autofree char *text = nfn_json_builder_to_text (builder, TRUE);
  printf ("%s\n", text);
}

gboolean
nfn_cli_parse (GOptionContext *context, int *argc, char ***argv)
{
  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (context, argc, argv, &error))
    {
      nfn_cli_fail ("%s", error->message);
      return FALSE;
    }
  return TRUE;
}

/* ---- nfn train TASK: the shared options, the resume check, the run ---- */

/* The group's strings (help texts with the defaults) live as long as the group. */
static const char *
train_keep (GPtrArray *strings, char *text)
{
  g_ptr_array_add (strings, text);
  return text;
}

GOptionGroup *
nfn_cli_train_group (const NfnCliTrainSpec *spec, NfnTaskOptions *o, NfnCliTrainArgs *args)
{
  GPtrArray *strings = g_ptr_array_new_with_free_func (g_free);
  args->depth = -1;
  GOptionGroup *group = g_option_group_new ("train", "The options every nfn train task shares", "Show the shared options",
                                            strings, (GDestroyNotify) g_ptr_array_unref);
  char lr[G_ASCII_DTOSTR_BUF_SIZE], scale[G_ASCII_DTOSTR_BUF_SIZE], hd[G_ASCII_DTOSTR_BUF_SIZE], dr[G_ASCII_DTOSTR_BUF_SIZE];
  g_ascii_formatd (lr, sizeof lr, "%g", o->lr);
  g_ascii_formatd (scale, sizeof scale, "%g", o->fourier_scale);
  g_ascii_formatd (hd, sizeof hd, "%g", o->head_dropout);
  g_ascii_formatd (dr, sizeof dr, "%g", o->dropout);
  GOptionEntry common[] = {
    { "zoo", 0, 0, G_OPTION_ARG_FILENAME, &o->zoo, spec->zoo_help, "ZOO" },
    { "model", 0, 0, G_OPTION_ARG_STRING, &o->model, spec->model_help, "KIND" },
    { "epochs", 0, 0, G_OPTION_ARG_INT, &o->epochs,
      train_keep (strings, g_strdup_printf ("passes over the training zoo (default %d)", o->epochs)), "E" },
    { "batch", 0, 0, G_OPTION_ARG_INT, &o->batch,
      train_keep (strings, g_strdup_printf ("networks per step (default %d)", o->batch)), "B" },
    { "lr", 0, 0, G_OPTION_ARG_DOUBLE, &o->lr, train_keep (strings, g_strdup_printf ("learning rate (default %s)", lr)), "LR" },
    { "warmup", 0, 0, G_OPTION_ARG_INT64, &o->warmup,
      train_keep (strings, g_strdup_printf ("linear warmup steps (default %" G_GINT64_FORMAT ")", o->warmup)), "W" },
    { "cosine", 0, 0, G_OPTION_ARG_NONE, &o->cosine, "decay the learning rate to 0 along a cosine after the warmup", NULL },
    { "channels", 0, 0, G_OPTION_ARG_STRING, &args->channels,
      o->channels > 0 ? train_keep (strings, g_strdup_printf ("NF layer channels, or one width per layer such as 16,16,5"
                                                              " (default %d)", o->channels))
                      : "NF layer channels (default: the model's)", "C" },
    { "depth", 0, 0, G_OPTION_ARG_INT, &args->depth,
      o->depth > 0 ? train_keep (strings, g_strdup_printf ("NF layers (default %d)", o->depth))
                   : "NF layers (default: the model's)", "D" },
    { "precision", 0, 0, G_OPTION_ARG_STRING, &args->precision,
      "fp32 (default) or bf16: every GEMM in bfloat16 with fp32 sums (AVX512-BF16 CPUs; about 1.8x faster steps)", "P" },
    { "augment", 0, 0, G_OPTION_ARG_NONE, &o->augment, "a random hidden-neuron permutation of every training network at every step", NULL },
    { "seed", 0, 0, G_OPTION_ARG_INT64, &o->seed, "seed of init, shuffling, augmentation and dropout (default 0)", "S" },
    { "threads", 0, 0, G_OPTION_ARG_INT, &o->threads, "threads (default and maximum: the number of cores)", "T" },
    { "db", 0, 0, G_OPTION_ARG_FILENAME, &args->db, "experiment store (default: the XDG data dir)", "PATH" },
    { "out", 'o', 0, G_OPTION_ARG_FILENAME, &o->out,
      spec->out_help ? spec->out_help : "the model file (default: models/run-ID….safetensors beside the store)", "MODEL" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &args->json, "print the summary as JSON", NULL },
    { NULL },
  };
  g_option_group_add_entries (group, common);
  GOptionEntry val_test[] = {
    { "val", 0, 0, G_OPTION_ARG_FILENAME, &o->val, "validation zoo (default: the last 10 % of the training zoo's images)", "ZOO" },
    { "test", 0, 0, G_OPTION_ARG_FILENAME, &o->test, "test zoo, evaluated with the best epoch's model", "ZOO" },
    { NULL },
  };
  GOptionEntry resume[] = {
    { "resume", 0, 0, G_OPTION_ARG_INT64, &o->resume, "continue run RUN from its last checkpoint (takes its settings from the run)", "RUN" },
    { NULL },
  };
  GOptionEntry weight_decay[] = {
    { "weight-decay", 0, 0, G_OPTION_ARG_DOUBLE, &o->weight_decay, "AdamW's decoupled weight decay (default 0)", "WD" },
    { NULL },
  };
  GOptionEntry fourier[] = {
    { "fourier", 0, 0, G_OPTION_ARG_INT, &o->fourier,
      train_keep (strings, g_strdup_printf ("Gaussian Fourier features m (2m channels; 0 = off; default %d)", o->fourier)), "M" },
    { "fourier-scale", 0, 0, G_OPTION_ARG_DOUBLE, &o->fourier_scale,
      train_keep (strings, g_strdup_printf ("std of the Fourier matrix (default %s)", scale)), "S" },
    { "io-bands", 0, 0, G_OPTION_ARG_INT, &o->io_bands,
      train_keep (strings, g_strdup_printf ("NP/pointwise IO encoding bands (0 = off; default %d)", o->io_bands)), "K" },
    { NULL },
  };
  GOptionEntry head[] = {
    { "dropout", 0, 0, G_OPTION_ARG_DOUBLE, &o->dropout,
      train_keep (strings, g_strdup_printf ("channel dropout after each NF layer (default %s)", dr)), "P" },
    { "head", 0, 0, G_OPTION_ARG_STRING, &o->head,
      train_keep (strings, g_strdup_printf ("hidden widths of the MLP head (default %s)", o->head ? o->head : "1000,1000")), "W,W" },
    { "head-dropout", 0, 0, G_OPTION_ARG_DOUBLE, &o->head_dropout,
      train_keep (strings, g_strdup_printf ("dropout in the head (default %s)", hd)), "P" },
    { "append-stats", 0, 0, G_OPTION_ARG_NONE, &o->append_stats,
      "np, hnp, pointwise: give the head the input's StatNN features (7 per tensor) beside the invariant pool", NULL },
    { NULL },
  };
  GOptionEntry raw_weights[] = {
    { "raw-weights", 0, 0, G_OPTION_ARG_NONE, &args->raw_weights,
      "feed the weights as they are (default: each tensor standardised by the training set's mean and std)", NULL },
    { NULL },
  };
  GOptionEntry normalize[] = {
    { "normalize", 0, 0, G_OPTION_ARG_NONE, &args->normalize,
      "feed the model each tensor standardised by the training set's mean and std (default: the raw weights)", NULL },
    { NULL },
  };
  const struct {
    guint bit;
    const GOptionEntry *entries;
  } optional[] = {
    { NFN_CLI_TRAIN_VAL_TEST, val_test }, { NFN_CLI_TRAIN_RESUME, resume }, { NFN_CLI_TRAIN_WEIGHT_DECAY, weight_decay },
    { NFN_CLI_TRAIN_FOURIER, fourier }, { NFN_CLI_TRAIN_HEAD, head }, { NFN_CLI_TRAIN_RAW_WEIGHTS, raw_weights },
    { NFN_CLI_TRAIN_NORMALIZE, normalize },
  };
  for (guint k = 0; k < G_N_ELEMENTS (optional); k++)
    if (spec->entries & optional[k].bit)
      g_option_group_add_entries (group, optional[k].entries);
  return group;
}

gboolean
nfn_cli_train_finish_options (const char *command, const NfnCliTrainSpec *spec, NfnTaskOptions *o,
                              const NfnCliTrainArgs *args)
{
  if ((spec->entries & NFN_CLI_TRAIN_RAW_WEIGHTS) && args->raw_weights)
    o->normalize = FALSE;
  if ((spec->entries & NFN_CLI_TRAIN_NORMALIZE) && args->normalize)
    o->normalize = TRUE;
  if (args->depth >= 0)
    o->depth = args->depth;
  if (args->precision)
    {
      if (strcmp (args->precision, "fp32") != 0 && strcmp (args->precision, "bf16") != 0)
        {
          nfn_cli_fail ("%s: --precision takes fp32 or bf16, not \"%s\"", command, args->precision);
          return FALSE;
        }
      o->bf16 = strcmp (args->precision, "bf16") == 0;
    }
  if (!args->channels)
    return TRUE;
  if (!nfn_task_parse_channels (args->channels, o))
    {
      nfn_cli_fail ("%s: --channels takes a width or one per layer such as 16,16,5 (each 1 … 65536, at most %d),"
                    " not \"%s\"", command, NFN_MODEL_MAX_DEPTH, args->channels);
      return FALSE;
    }
  if (o->layer_channels[0] > 0 && args->depth >= 0 && args->depth != o->depth)
    {
      nfn_cli_fail ("%s: --channels %s gives %d layers but --depth is %d", command, args->channels, o->depth,
                    args->depth);
      return FALSE;
    }
  return TRUE;
}

void
nfn_cli_train_args_clear (NfnCliTrainArgs *args)
{
  g_free (args->db);
  g_free (args->channels);
  g_free (args->precision);
  memset (args, 0, sizeof *args);
}

int
nfn_cli_train_check_resume (const char *command, gint64 resume, gboolean settings_given)
{
  if (resume < 0)
    return nfn_cli_fail ("%s: --resume needs a run id", command);
  if (resume > 0 && settings_given)
    return nfn_cli_fail ("%s: --resume RUN takes the zoos, model and settings from the run; give only --db and --threads",
                         command);
  return 0;
}

/* Ctrl-C cancels at the next step (the last checkpoint stays); a second one kills. */
static volatile int train_cancel_flag;

static void
train_on_sigint (int signum)
{
  train_cancel_flag = 1;
}

static void
train_started (const char *description, gpointer display)
{
  NfnCliTrainDisplay *d = display;
  g_free (d->header);
  d->header = g_strdup (description);
}

NfnStore *
nfn_cli_train_open (GOptionContext *context, const char *command, const NfnCliTrainSpec *spec, NfnTaskOptions *options,
                    NfnCliTrainArgs *args, int *argc, char ***argv)
{
  if (!nfn_cli_parse (context, argc, argv))
    return NULL;
  if (!nfn_cli_train_finish_options (command, spec, options, args))
    return NULL;
  if (*argc != 1)
    {
      nfn_cli_fail ("%s: unexpected argument \"%s\" (see nfn %s --help)", command, (*argv)[1], command);
      return NULL;
    }
  if (nfn_cli_train_check_resume (command, options->resume,
                                  options->transform || options->zoo || options->val || options->test || options->model
                                      || options->out))
    return NULL;
  return nfn_cli_open_store (args->db, FALSE);
}

gboolean
nfn_cli_train_run (NfnCliTaskRunFunc run, const NfnTaskOptions *options, NfnStore *store, const char *metric,
                   gboolean percent, NfnTaskResult *result)
{
  g_autoptr (GError) error = NULL;
  NfnCliTrainDisplay display;
  nfn_cli_train_display_init (&display, metric, percent);
  NfnTaskHooks hooks = { .started = train_started, .progress = nfn_cli_train_progress, .user_data = &display,
                         .cancel = &train_cancel_flag };
  struct sigaction action = { .sa_handler = train_on_sigint, .sa_flags = SA_RESETHAND };
  sigemptyset (&action.sa_mask);
  sigaction (SIGINT, &action, NULL);
  gboolean ok = run (options, store, &hooks, NULL, result, &error);
  signal (SIGINT, SIG_DFL);
  nfn_cli_train_display_end (&display);
  if (!ok)
    nfn_cli_fail_error (error);
  return ok;
}

void
nfn_cli_train_clear (NfnTaskResult *result, NfnTaskOptions *options, NfnCliTrainArgs *args)
{
  nfn_task_result_clear (result);
  nfn_task_options_clear (options);
  nfn_cli_train_args_clear (args);
}

void
nfn_cli_train_print_summary_json (const NfnTaskResult *result)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  if (!result->summary_json || !json_parser_load_from_data (parser, result->summary_json, -1, NULL))
    return;
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "run");
  json_builder_add_int_value (b, result->run_id);
  json_builder_set_member_name (b, "summary");
  json_builder_add_value (b, json_node_copy (json_parser_get_root (parser)));
  json_builder_end_object (b);
  nfn_cli_print_json (b);
}

/* ---- nfn info ---- */

static int
command_info (int argc, char **argv)
{
  gboolean json = FALSE;
  GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print JSON", NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("FILE — layers, shapes, parameter count and statistics");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!nfn_cli_parse (context, &argc, &argv))
    return 1;
  if (argc != 2)
    return nfn_cli_fail ("info: expected one FILE (see nfn info --help)");

  g_autoptr (GError) error = NULL;
  g_autoptr (NfnNetwork) net = nfn_network_load_spec (argv[1], &error);
  if (!net)
    return nfn_cli_fail_error (error);

  const nfn_space *s = &net->arch.space;
  size_t total = nfn_space_param_count (s);
  g_autofree char *summary = nfn_arch_summary (&net->arch);
  g_autoptr (JsonBuilder) b = json_builder_new ();
  if (json)
    {
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "file");
      json_builder_add_string_value (b, argv[1]);
      json_builder_set_member_name (b, "architecture");
      json_builder_add_string_value (b, nfn_net_kind_name (net->arch.kind));
      json_builder_set_member_name (b, "activation");
      json_builder_add_string_value (b, nfn_activation_name (net->arch.act));
      json_builder_set_member_name (b, "widths");
      json_builder_begin_array (b);
      for (int i = 0; i <= s->L; i++)
        json_builder_add_int_value (b, s->n[i]);
      json_builder_end_array (b);
      json_builder_set_member_name (b, "parameters");
      json_builder_add_int_value (b, (gint64) total);
      json_builder_set_member_name (b, "tensors");
      json_builder_begin_array (b);
    }
  else
    {
      printf ("%s\n%s, %d layers, %zu parameters\n\n", argv[1], summary, s->L, total);
      printf ("%-24s %-14s %8s %11s %11s %11s %11s\n", "tensor", "shape", "params", "mean", "std", "min", "max");
    }
  for (int t = 0; t < nfn_tensor_count (s); t++)
    {
      nfn_stats st;
      size_t n = nfn_tensor_entries (s, t);
      nfn_stats_compute (net->weights.t[t], n, &st);
      g_autofree char *shape = nfn_network_tensor_shape (net, t);
      if (json)
        {
          json_builder_begin_object (b);
          json_builder_set_member_name (b, "name");
          json_builder_add_string_value (b, nfn_network_tensor_name (net, t));
          json_builder_set_member_name (b, "shape");
          json_builder_begin_array (b);
          int i = nfn_tensor_layer (t);
          json_builder_add_int_value (b, s->n[i]);
          if (!nfn_tensor_is_bias (t))
            {
              json_builder_add_int_value (b, s->n[i - 1]);
              if (s->f[i] > 1)
                {
                  json_builder_add_int_value (b, net->arch.kh);
                  json_builder_add_int_value (b, net->arch.kw);
                }
            }
          json_builder_end_array (b);
          json_builder_set_member_name (b, "parameters");
          json_builder_add_int_value (b, (gint64) n);
          const char *keys[] = { "mean", "std", "min", "max" };
          double values[] = { st.mean, st.std, st.min, st.max };
          for (int k = 0; k < 4; k++)
            {
              json_builder_set_member_name (b, keys[k]);
              json_builder_add_double_value (b, values[k]);
            }
          json_builder_end_object (b);
        }
      else
        printf ("%-24s %-14s %8zu %11.4g %11.4g %11.4g %11.4g\n", nfn_network_tensor_name (net, t), shape, n, st.mean, st.std,
                st.min, st.max);
    }
  if (json)
    {
      json_builder_end_array (b);
      json_builder_end_object (b);
      nfn_cli_print_json (b);
    }
  return 0;
}

/* ---- nfn permute ---- */

static gboolean
parse_group (const char *name, nfn_symmetry *sym)
{
  if (!name || strcmp (name, "hnp") == 0)
    *sym = NFN_SYM_HNP;
  else if (strcmp (name, "np") == 0)
    *sym = NFN_SYM_NP;
  else
    return FALSE;
  return TRUE;
}

static int
command_permute (int argc, char **argv)
{
  g_autofree char *out = NULL, *group = NULL;
  gint64 seed = 1;
  GOptionEntry entries[] = {
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &out, "Where to write the permuted network", "OUT" },
    { "seed", 0, 0, G_OPTION_ARG_INT64, &seed, "Seed of the random permutation (default 1)", "S" },
    { "group", 0, 0, G_OPTION_ARG_STRING, &group,
      "hnp: hidden neurons only, the function is unchanged (default); np: input and output neurons too", "hnp|np" },
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("FILE -o OUT — apply a random neuron permutation");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!nfn_cli_parse (context, &argc, &argv))
    return 1;
  nfn_symmetry sym;
  if (!parse_group (group, &sym))
    return nfn_cli_fail ("permute: --group must be hnp or np, not \"%s\"", group);
  if (argc != 2 || !out)
    return nfn_cli_fail ("permute: expected FILE and -o OUT (see nfn permute --help)");

  g_autoptr (GError) error = NULL;
  g_autoptr (NfnNetwork) net = nfn_network_load_spec (argv[1], &error);
  if (!net)
    return nfn_cli_fail_error (error);
  g_autoptr (NfnNetwork) permuted = nfn_network_copy (net);
  nfn_perm perm;
  if (nfn_perm_alloc (&perm, &net->arch.space) != NFN_OK)
    return nfn_cli_fail ("permute: out of memory");
  gsl_rng *rng = gsl_rng_alloc (gsl_rng_mt19937);
  gsl_rng_set (rng, (unsigned long) seed);
  nfn_perm_random (&perm, sym, rng);
  gsl_rng_free (rng);
  nfn_status st = nfn_perm_apply (&perm, &net->weights, &permuted->weights);
  nfn_perm_free (&perm);
  if (st != NFN_OK)
    return nfn_cli_fail ("%s: cannot permute: %s", argv[1], nfn_status_message (st));
  if (!nfn_network_save (permuted, out, &error))
    return nfn_cli_fail_error (error);
  printf ("wrote %s: %s permutation (seed %" G_GINT64_FORMAT "), %s\n", out, nfn_symmetry_name (sym), seed,
          sym == NFN_SYM_HNP ? "same function, different weights" : "input/output neurons moved too, so the function changed");
  return 0;
}

/* ---- nfn check ---- */

/* Probe inputs for a network: uniform in [-1, 1] per coordinate / pixel. */
static float *
probe_inputs (const nfn_arch *arch, int N, gsl_rng *rng)
{
  size_t n = (size_t) N * nfn_net_input_size (arch);
  float *x = g_new (float, n);
  for (size_t k = 0; k < n; k++)
    x[k] = (float) (2 * gsl_rng_uniform (rng) - 1);
  return x;
}

/* max |f_a(x) - f_b(x)| and max |f_a(x)| over the probe inputs. */
static nfn_status
function_difference (const nfn_arch *arch, const nfn_feature *a, const nfn_feature *b, int N, const float *x,
                     double *max_diff, double *max_abs)
{
  size_t out = (size_t) N * nfn_net_output_size (arch);
  g_autofree float *ya = g_new (float, out);
  g_autofree float *yb = g_new (float, out);
  nfn_status st = nfn_net_forward (arch, a, N, x, 0, ya, NULL);
  if (st == NFN_OK)
    st = nfn_net_forward (arch, b, N, x, 0, yb, NULL);
  if (st != NFN_OK)
    return st;
  *max_diff = *max_abs = 0;
  for (size_t k = 0; k < out; k++)
    {
      double d = fabs ((double) ya[k] - yb[k]);
      *max_diff = d > *max_diff || isnan (d) ? d : *max_diff;
      *max_abs = fmax (*max_abs, fabs ((double) ya[k]));
    }
  return NFN_OK;
}

/* Fraction of entries that changed, and ‖a − b‖ / ‖a‖. */
static void
weights_moved (const nfn_feature *a, const nfn_feature *b, double *fraction, double *relative)
{
  size_t changed = 0, total = 0;
  double norm = 0;
  for (int t = 0; t < nfn_tensor_count (&a->space); t++)
    {
      size_t n = nfn_tensor_entries (&a->space, t);
      for (size_t k = 0; k < n; k++)
        {
          changed += a->t[t][k] != b->t[t][k];
          norm += (double) a->t[t][k] * a->t[t][k];
        }
      total += n;
    }
  *fraction = total ? (double) changed / (double) total : 0;
  *relative = norm > 0 ? nfn_weight_distance (a, b) / sqrt (norm) : 0;
}

typedef struct {
  double max_diff, max_abs, fraction, relative;
} check_result;

static int
check_one (const NfnNetwork *net, nfn_symmetry sym, gsl_rng *rng, int N, const float *x, check_result *r)
{
  g_autoptr (NfnNetwork) permuted = nfn_network_copy (net);
  nfn_perm perm;
  if (nfn_perm_alloc (&perm, &net->arch.space) != NFN_OK)
    return 1;
  nfn_perm_random (&perm, sym, rng);
  /* the NP contrast must really move an input or output neuron; with 2 inputs and 1 output a
   * uniform draw leaves them in place half the time */
  const nfn_space *s = &net->arch.space;
  for (int tries = 0; sym == NFN_SYM_NP && tries < 64 && (s->n[0] > 1 || s->n[s->L] > 1); tries++)
    {
      gboolean moved = FALSE;
      for (int j = 0; j < s->n[0]; j++)
        moved |= perm.p[0][j] != j;
      for (int j = 0; j < s->n[s->L]; j++)
        moved |= perm.p[s->L][j] != j;
      if (moved)
        break;
      nfn_perm_random (&perm, sym, rng);
    }
  nfn_status st = nfn_perm_apply (&perm, &net->weights, &permuted->weights);
  nfn_perm_free (&perm);
  if (st == NFN_OK)
    st = function_difference (&net->arch, &net->weights, &permuted->weights, N, x, &r->max_diff, &r->max_abs);
  if (st != NFN_OK)
    return nfn_cli_fail ("%s: cannot evaluate: %s", net->path ? net->path : "network", nfn_status_message (st));
  weights_moved (&net->weights, &permuted->weights, &r->fraction, &r->relative);
  return 0;
}

static int
command_check (int argc, char **argv)
{
  gboolean json = FALSE;
  gint64 seed = 1;
  int inputs = 256;
  GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print JSON", NULL },
    { "seed", 0, 0, G_OPTION_ARG_INT64, &seed, "Seed for the permutation and the inputs (default 1)", "S" },
    { "inputs", 0, 0, G_OPTION_ARG_INT, &inputs, "Random inputs to evaluate on (default 256)", "N" },
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new (
    "FILE — evaluate before and after a random hidden-neuron permutation");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!nfn_cli_parse (context, &argc, &argv))
    return 1;
  if (argc != 2)
    return nfn_cli_fail ("check: expected one FILE (see nfn check --help)");
  if (inputs < 1 || inputs > 1 << 20)
    return nfn_cli_fail ("check: --inputs must be between 1 and 1048576");

  g_autoptr (GError) error = NULL;
  g_autoptr (NfnNetwork) net = nfn_network_load_spec (argv[1], &error);
  if (!net)
    return nfn_cli_fail_error (error);
  gsl_rng *rng = gsl_rng_alloc (gsl_rng_mt19937);
  gsl_rng_set (rng, (unsigned long) seed);
  g_autofree float *x = probe_inputs (&net->arch, inputs, rng);
  check_result hnp, np;
  int rc = check_one (net, NFN_SYM_HNP, rng, inputs, x, &hnp);
  if (rc == 0)
    rc = check_one (net, NFN_SYM_NP, rng, inputs, x, &np);
  gsl_rng_free (rng);
  if (rc)
    return rc;

  /* float32 forward passes in a different summation order: allow rounding, nothing more */
  double tolerance = 1e-4 * fmax (1.0, hnp.max_abs);
  gboolean invariant = hnp.max_diff <= tolerance;
  if (json)
    {
      g_autoptr (JsonBuilder) b = json_builder_new ();
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "file");
      json_builder_add_string_value (b, argv[1]);
      json_builder_set_member_name (b, "inputs");
      json_builder_add_int_value (b, inputs);
      const char *names[] = { "hnp", "np" };
      check_result *results[] = { &hnp, &np };
      for (int k = 0; k < 2; k++)
        {
          json_builder_set_member_name (b, names[k]);
          json_builder_begin_object (b);
          json_builder_set_member_name (b, "max_abs_output_change");
          json_builder_add_double_value (b, results[k]->max_diff);
          json_builder_set_member_name (b, "max_abs_output");
          json_builder_add_double_value (b, results[k]->max_abs);
          json_builder_set_member_name (b, "fraction_of_weights_changed");
          json_builder_add_double_value (b, results[k]->fraction);
          json_builder_set_member_name (b, "relative_weight_change");
          json_builder_add_double_value (b, results[k]->relative);
          json_builder_end_object (b);
        }
      json_builder_set_member_name (b, "function_unchanged");
      json_builder_add_boolean_value (b, invariant);
      json_builder_end_object (b);
      nfn_cli_print_json (b);
    }
  else
    {
      g_autofree char *summary = nfn_arch_summary (&net->arch);
      printf ("%s: %s\n", argv[1], summary);
      printf ("hidden-neuron permutation (HNP): %.1f%% of weights changed, ‖σW − W‖/‖W‖ = %.3f, "
              "max |Δf| = %.3g over %d inputs (max |f| = %.3g)\n",
              100 * hnp.fraction, hnp.relative, hnp.max_diff, inputs, hnp.max_abs);
      printf ("for contrast, moving input/output neurons too (NP): max |Δf| = %.3g\n", np.max_diff);
      printf (invariant ? "the weights changed, the function did not\n"
                        : "the function CHANGED under a hidden permutation: the file's architecture is not what it says\n");
    }
  return invariant ? 0 : 1;
}

/* ---- nfn align ---- */

static int
command_align (int argc, char **argv)
{
  g_autofree char *out = NULL;
  gboolean json = FALSE;
  gint64 seed = 1;
  int iterations = 100;
  GOptionEntry entries[] = {
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &out, "Where to write B aligned to A", "OUT" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print JSON", NULL },
    { "seed", 0, 0, G_OPTION_ARG_INT64, &seed, "Seed for the order layers are visited in (default 1)", "S" },
    { "iterations", 0, 0, G_OPTION_ARG_INT, &iterations, "Most coordinate-descent sweeps (default 100)", "N" },
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new (
    "A B -o OUT — permute B's hidden neurons to match A (weight matching, Git Re-Basin)");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!nfn_cli_parse (context, &argc, &argv))
    return 1;
  if (argc != 3 || !out)
    return nfn_cli_fail ("align: expected A B and -o OUT (see nfn align --help)");
  if (iterations < 1)
    return nfn_cli_fail ("align: --iterations must be at least 1");

  g_autoptr (GError) error = NULL;
  g_autoptr (NfnNetwork) a = nfn_network_load_spec (argv[1], &error);
  if (!a)
    return nfn_cli_fail_error (error);
  g_autoptr (NfnNetwork) b = nfn_network_load_spec (argv[2], &error);
  if (!b)
    return nfn_cli_fail_error (error);
  if (!nfn_space_equal (&a->arch.space, &b->arch.space))
    {
      g_autofree char *sa = nfn_arch_summary (&a->arch), *sb = nfn_arch_summary (&b->arch);
      return nfn_cli_fail ("%s: shape differs from %s (%s vs %s)", argv[2], argv[1], sb, sa);
    }

  g_autoptr (NfnNetwork) aligned = nfn_network_copy (b);
  nfn_perm perm;
  if (nfn_perm_alloc (&perm, &b->arch.space) != NFN_OK)
    return nfn_cli_fail ("align: out of memory");
  gsl_rng *rng = gsl_rng_alloc (gsl_rng_mt19937);
  gsl_rng_set (rng, (unsigned long) seed);
  gint64 start = g_get_monotonic_time ();
  nfn_status st = nfn_perm_align (&a->weights, &b->weights, iterations, rng, &perm);
  double seconds = (g_get_monotonic_time () - start) / 1e6;
  if (st == NFN_OK || st == NFN_ERR_NOT_CONVERGED)
    st = nfn_perm_apply (&perm, &b->weights, &aligned->weights);
  double before = nfn_weight_distance (&a->weights, &b->weights);
  double after = nfn_weight_distance (&a->weights, &aligned->weights);
  double fdiff = 0, fabs_max = 0;
  g_autofree float *x = probe_inputs (&b->arch, 256, rng);
  if (st == NFN_OK)
    st = function_difference (&b->arch, &b->weights, &aligned->weights, 256, x, &fdiff, &fabs_max);
  gsl_rng_free (rng);
  nfn_perm_free (&perm);
  if (st != NFN_OK)
    return nfn_cli_fail ("%s: cannot align: %s", argv[2], nfn_status_message (st));
  if (!nfn_network_save (aligned, out, &error))
    return nfn_cli_fail_error (error);

  if (json)
    {
      g_autoptr (JsonBuilder) jb = json_builder_new ();
      json_builder_begin_object (jb);
      json_builder_set_member_name (jb, "distance_before");
      json_builder_add_double_value (jb, before);
      json_builder_set_member_name (jb, "distance_after");
      json_builder_add_double_value (jb, after);
      json_builder_set_member_name (jb, "max_abs_output_change_of_b");
      json_builder_add_double_value (jb, fdiff);
      json_builder_set_member_name (jb, "seconds");
      json_builder_add_double_value (jb, seconds);
      json_builder_set_member_name (jb, "output");
      json_builder_add_string_value (jb, out);
      json_builder_end_object (jb);
      nfn_cli_print_json (jb);
    }
  else
    printf ("‖A − B‖ = %.4f before alignment, %.4f after (%.1f%% closer) in %.2f s\n"
            "B's function is unchanged by the alignment: max |Δf| = %.3g\nwrote %s\n",
            before, after, before > 0 ? 100 * (before - after) / before : 0.0, seconds, fdiff, out);
  return 0;
}

/* ---- nfn sample ---- */

static int
command_sample (int argc, char **argv)
{
  g_autofree char *out = NULL;
  GOptionEntry entries[] = {
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &out, "Where to write it", "OUT" },
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("-o OUT — write the built-in sample network");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!nfn_cli_parse (context, &argc, &argv))
    return 1;
  if (argc != 1 || !out)
    return nfn_cli_fail ("sample: expected -o OUT (see nfn sample --help)");
  g_autoptr (GError) error = NULL;
  g_autoptr (NfnNetwork) net = nfn_sample_network ();
  if (!net)
    return nfn_cli_fail ("sample: cannot build the sample network");
  if (!nfn_network_save (net, out, &error))
    return nfn_cli_fail_error (error);
  g_autofree char *summary = nfn_arch_summary (&net->arch);
  printf ("wrote %s: %s\n", out, summary);
  return 0;
}

/* ---- dispatch ---- */

typedef struct {
  const char *name;
  int (*run) (int argc, char **argv);
  const char *summary;
} command;

static const command commands[] = {
  { "sample", command_sample, "write the built-in sample network (a SIREN) to a file" },
  { "info", command_info, "layers, shapes, parameter count and per-tensor statistics of a network file" },
  { "permute", command_permute, "write a randomly permuted copy (hidden neurons by default)" },
  { "check", command_check, "show that a hidden permutation changes the weights but not the function" },
  { "align", command_align, "weight-match network B to network A (Git Re-Basin)" },
  { "zoo", nfn_cli_zoo, "build and inspect zoos: `nfn zoo fit|list|info|tickets|cnn`" },
  { "render", nfn_cli_render, "render an INR (a file or ZOO:IDX) beside its source image to PNG" },
  { "train", nfn_cli_train, "train an NFN: `nfn train classify|edit|mask|genpred`" },
  { "predict", nfn_cli_predict, "a trained model's prediction for networks (files or ZOO:IDX)" },
  { "eval", nfn_cli_eval, "a trained classifier's accuracy and confusion matrix on a zoo" },
  { "edit", nfn_cli_edit, "apply a trained editing NFN to a network" },
  { "mask", nfn_cli_mask, "predict a sparsity mask for an initialisation with a trained NFN" },
  { "eval-mask", nfn_cli_eval_mask, "train from held-out inits under random, IMP and NFN masks" },
  { "runs", nfn_cli_runs, "the experiment store: `nfn runs list|show|compare|export`" },
  { "bench", nfn_cli_bench, "benchmarks: `nfn bench layers|zoo|gemm`" },
};

static void
usage (FILE *to)
{
  fprintf (to, "nfn %s — neural functionals on the command line\n\nusage: nfn COMMAND [OPTIONS] …\n\n", NFN_VERSION);
  for (size_t k = 0; k < G_N_ELEMENTS (commands); k++)
    fprintf (to, "  %-10s %s\n", commands[k].name, commands[k].summary);
  fprintf (to, "\n`nfn COMMAND --help` describes each command.\n");
}

int
main (int argc, char **argv)
{
  /* GOption's help and our messages are UTF-8 (ω0, →, ‖·‖); without a locale GLib prints '?' */
  setlocale (LC_ALL, "");
  setlocale (LC_NUMERIC, "C"); /* numbers in tables, CSV and JSON always use '.' */
  if (argc < 2)
    {
      usage (stderr);
      return 2;
    }
  if (strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0 || strcmp (argv[1], "help") == 0)
    {
      usage (stdout);
      return 0;
    }
  if (strcmp (argv[1], "--version") == 0)
    {
      printf ("nfn %s\n", NFN_VERSION);
      return 0;
    }
  for (size_t k = 0; k < G_N_ELEMENTS (commands); k++)
    if (strcmp (argv[1], commands[k].name) == 0)
      {
        g_autofree char *prgname = g_strdup_printf ("nfn %s", commands[k].name);
        g_set_prgname (prgname);
        return commands[k].run (argc - 1, argv + 1);
      }
  return nfn_cli_fail ("unknown command \"%s\" (try nfn --help)", argv[1]);
}
