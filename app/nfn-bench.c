/* nfn-bench.c — `nfn bench layers`: NP and HNP layers and a classifier training step, in fp32
 * and bf16, timed against this machine's own sgemm rate measured in the same run; `nfn bench
 * gemm`: the bare GEMMs of those layers, OpenBLAS's sgemm beside the engine's bf16 kernel.
 * Medians over repeats, because 2-core machines are noisy. */
#include "nfn-cli.h"

#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "nfn_equivariant.h"
#include "nfn_gemm.h"
#include "nfn_model.h"

/* The PyTorch reference library (torch 1.13, CPU, best setting) on this kind of machine,
 * batch 32 SIREN spaces, median ms — from issue 2. [sym][case][threads-1] */
static const double reference_ms[2][3][2] = {
  /* NP */ { { 96, 74 }, { 1402, 799 }, { 384, 295 } },
  /* HNP */ { { 105, 85 }, { 1414, 820 }, { 395, 284 } },
};

static int
compare_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

static double
median (double *v, int n)
{
  qsort (v, (size_t) n, sizeof *v, compare_double);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static double
now_ms (void)
{
  return g_get_monotonic_time () / 1000.0;
}

/* GFLOP/s of a row-major C (M × N) = op(A) (M × K)·op(B) (K × N) through nfn_gemm at the
 * current precision (fp32: exactly cblas_sgemm), median of `repeats`. */
static double
gemm_rate (CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int M, int N, int K, int repeats)
{
  float *a = g_new0 (float, (size_t) M * K), *b = g_new0 (float, (size_t) K * N), *c = g_new0 (float, (size_t) M * N);
  for (size_t k = 0; k < (size_t) M * K; k++)
    a[k] = (float) (k % 7) * 0.1f;
  for (size_t k = 0; k < (size_t) K * N; k++)
    b[k] = (float) (k % 5) * 0.1f;
  int lda = ta == CblasTrans ? M : K, ldb = tb == CblasTrans ? K : N;
  double *t = g_new (double, repeats);
  for (int r = -1; r < repeats; r++)
    {
      double t0 = now_ms ();
      nfn_gemm (CblasRowMajor, ta, tb, M, N, K, 1, a, lda, b, ldb, 0, c, N);
      if (r >= 0)
        t[r] = now_ms () - t0;
    }
  double ms = median (t, repeats);
  g_free (a);
  g_free (b);
  g_free (c);
  g_free (t);
  return 2.0 * M * K * N / (ms * 1e6);
}

/* --precision fp32|bf16|both → the precisions to run, in order; 0 for an unknown word. */
static int
parse_precisions (const char *word, nfn_precision precisions[2])
{
  if (!word || strcmp (word, "both") == 0)
    {
      precisions[0] = NFN_PRECISION_FP32;
      precisions[1] = NFN_PRECISION_BF16;
      return 2;
    }
  if (strcmp (word, "fp32") == 0 || strcmp (word, "bf16") == 0)
    {
      precisions[0] = word[0] == 'f' ? NFN_PRECISION_FP32 : NFN_PRECISION_BF16;
      return 1;
    }
  return 0;
}

/* Switches precision; bf16 on a CPU without it says so once and stays fp32. */
static void
use_precision (nfn_precision precision, gboolean json)
{
  static gboolean warned;
  nfn_precision before = nfn_get_precision ();
  if (nfn_set_precision (precision) != NFN_OK && !warned && !json)
    {
      printf ("note: this CPU lacks AVX512-BF16; the bf16 rows below ran in fp32\n\n");
      warned = TRUE;
    }
  /* OpenBLAS's idle workers spin for 2^28 TSC ticks (~0.1 s) after a call before they sleep:
   * a bf16 timing that starts sooner shares its cores with them */
  if (before == NFN_PRECISION_FP32 && nfn_get_precision () == NFN_PRECISION_BF16 && nfn_get_threads () > 1)
    g_usleep (250000);
}

static void
fill_normal (float *x, size_t n, gsl_rng *rng)
{
  for (size_t k = 0; k < n; k++)
    x[k] = (float) (gsl_rng_uniform (rng) * 2 - 1);
}

typedef struct {
  const char *name;
  nfn_symmetry sym;
  int channels, threads;
  double ms, gflops, fraction, reference, speedup;
} layer_result;

/* Forward + backward of one eq layer on B SIREN spaces; median ms. */
static int
time_layer (const nfn_space *space, nfn_symmetry sym, int B, int C, int repeats, gsl_rng *rng, double *ms,
            double *all_gemm_gflop)
{
  nfn_eq_plan *plan = g_new0 (nfn_eq_plan, 1);
  if (nfn_eq_plan_init (plan, space, sym, C, C) != NFN_OK)
    return nfn_cli_fail ("bench: cannot plan the %s layer", nfn_symmetry_name (sym));
  size_t np = nfn_eq_param_count (plan);
  /* backward runs two GEMMs (d-input, d-parameters) for each of forward's */
  *all_gemm_gflop = 3 * nfn_eq_forward_flops (plan, B) / 1e9;
  float *params = g_new (float, np), *dparams = g_new0 (float, np);
  float *scratch = g_new0 (float, nfn_eq_scratch_size (plan, B) + 16);
  nfn_eq_init_params (plan, params, rng);
  nfn_feature in, out, dout, din;
  nfn_feature_alloc (&in, space, B, C);
  nfn_feature_alloc (&out, space, B, C);
  nfn_feature_alloc (&dout, space, B, C);
  nfn_feature_alloc (&din, space, B, C);
  fill_normal (in.data, in.size, rng);
  fill_normal (dout.data, dout.size, rng);
  double *t = g_new (double, repeats);
  for (int r = -1; r < repeats; r++)
    {
      double t0 = now_ms ();
      nfn_eq_forward (plan, params, &in, &out, scratch);
      nfn_eq_backward (plan, params, &in, &dout, &din, dparams, scratch);
      if (r >= 0)
        t[r] = now_ms () - t0;
    }
  *ms = median (t, repeats);
  g_free (t);
  nfn_feature_free (&in);
  nfn_feature_free (&out);
  nfn_feature_free (&dout);
  nfn_feature_free (&din);
  g_free (params);
  g_free (dparams);
  g_free (scratch);
  g_free (plan);
  return 0;
}

/* One Adam step of the CPU-sized classifier: Fourier 256 → 3 NF layers of 128 → pool →
 * 1000-1000-10, batch B. Median ms. */
static int
time_training_step (const nfn_space *space, nfn_symmetry sym, int B, int repeats, gsl_rng *rng, double *ms,
                    size_t *bytes)
{
  nfn_model_config cfg;
  nfn_model_config_default (&cfg, sym == NFN_SYM_HNP ? NFN_MODEL_HNP : NFN_MODEL_NP, space, 10);
  cfg.max_batch = B;
  nfn_model *model;
  nfn_status st = nfn_model_new (&cfg, 7, &model);
  if (st != NFN_OK)
    return nfn_cli_fail ("bench: cannot build the classifier: %s", nfn_status_message (st));
  *bytes = nfn_model_memory_bytes (model);
  nfn_feature x;
  nfn_feature_alloc (&x, space, B, 1);
  fill_normal (x.data, x.size, rng);
  int *labels = g_new (int, B);
  for (int b = 0; b < B; b++)
    labels[b] = b % 10;
  nfn_adam opt;
  nfn_adam_init (&opt, 1e-4);
  double *t = g_new (double, repeats), loss;
  for (int r = -1; r < repeats; r++)
    {
      double t0 = now_ms ();
      st = nfn_model_train_step_ce (model, &opt, &x, labels, &loss);
      if (r >= 0)
        t[r] = now_ms () - t0;
      if (st != NFN_OK)
        break;
    }
  *ms = median (t, repeats);
  g_free (t);
  g_free (labels);
  nfn_feature_free (&x);
  nfn_model_free (model);
  if (st != NFN_OK || !isfinite (loss))
    return nfn_cli_fail ("bench: training step failed: %s", st != NFN_OK ? nfn_status_message (st) : "loss not finite");
  return 0;
}

double
nfn_cli_peak_rss_mb (void)
{
  struct rusage usage;
  getrusage (RUSAGE_SELF, &usage);
  return usage.ru_maxrss / 1024.0;
}

/* Opens one entry of "cases" with the members every case has. */
static void
json_case_begin (JsonBuilder *jb, const char *name, const char *precision, int threads, double median_ms)
{
  json_builder_begin_object (jb);
  json_builder_set_member_name (jb, "case");
  json_builder_add_string_value (jb, name);
  json_builder_set_member_name (jb, "precision");
  json_builder_add_string_value (jb, precision);
  json_builder_set_member_name (jb, "threads");
  json_builder_add_int_value (jb, threads);
  json_builder_set_member_name (jb, "median_ms");
  json_builder_add_double_value (jb, median_ms);
}

static int
bench_layers (int argc, char **argv)
{
  gboolean json = FALSE, quick = FALSE;
  int repeats = 0;
  g_autofree char *precision_word = NULL;
  GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print JSON", NULL },
    { "repeats", 0, 0, G_OPTION_ARG_INT, &repeats, "Timed repeats per case (default 15; 5 for C = 512)", "N" },
    { "quick", 0, 0, G_OPTION_ARG_NONE, &quick, "C = 128 only, 3 repeats (a smoke run)", NULL },
    { "precision", 0, 0, G_OPTION_ARG_STRING, &precision_word, "GEMMs in fp32, bf16 or both (default both)", "P" },
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new (
    "— NP/HNP forward+backward on 32 SIREN weight spaces and a classifier training step");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!nfn_cli_parse (context, &argc, &argv))
    return 1;
  nfn_precision precisions[2];
  int n_precisions = parse_precisions (precision_word, precisions);
  if (n_precisions == 0)
    return nfn_cli_fail ("bench: --precision must be fp32, bf16 or both, not “%s”", precision_word);
  gboolean with_bf16 = precisions[n_precisions - 1] == NFN_PRECISION_BF16;

  const int B = 32, widths[] = { 2, 32, 32, 1 };
  nfn_space space;
  nfn_space_init (&space, 3, widths);
  size_t entries_total = nfn_space_param_count (&space); /* P summed over tensors */
  gsl_rng *rng = gsl_rng_alloc (gsl_rng_mt19937);
  gsl_rng_set (rng, 42);
  int max_threads = g_get_num_processors () >= 2 ? 2 : 1;
  const int channel_cases[] = { 128, 512 };
  int n_channel_cases = quick ? 1 : 2;

  g_autoptr (JsonBuilder) jb = json_builder_new ();
  json_builder_begin_object (jb);
  json_builder_set_member_name (jb, "cases");
  json_builder_begin_array (jb);
  if (!json)
    printf ("nfn bench layers: %d SIREN weight spaces 2→32→32→1 (P = %zu entries each), median of repeats\n"
            "reference: the PyTorch NFN library (torch 1.13, CPU, its best setting) on this kind of machine\n\n"
            "%-30s %5s %7s %9s %9s %9s %9s %10s %11s %8s\n",
            B, entries_total, "case", "prec", "threads", "ms", "GFLOP/s", "of sgemm", "all GEMMs", "fp32 floor",
            "reference", "speedup");
  int rc = 0;
  for (int threads = 1; threads <= max_threads && rc == 0; threads++)
    {
      nfn_set_threads (threads);
      for (int c = 0; c < n_channel_cases && rc == 0; c++)
        {
          int C = channel_cases[c];
          int reps = repeats > 0 ? repeats : quick ? 3 : C >= 512 ? 5 : 15;
          /* the pointwise term as a bare GEMM: (B·P × C)·(C × C); fp32's rate is the yardstick */
          int M = (int) (B * entries_total);
          use_precision (NFN_PRECISION_FP32, json);
          double rate = gemm_rate (CblasNoTrans, CblasNoTrans, M, C, C, reps), rate_bf16 = 0;
          if (with_bf16)
            {
              use_precision (NFN_PRECISION_BF16, json);
              rate_bf16 = gemm_rate (CblasNoTrans, CblasNoTrans, M, C, C, reps);
            }
          double pointwise_gflop = 3 * 2.0 * M * C * (double) C / 1e9; /* forward + 2 backward GEMMs */
          for (int s = 0; s < 2 && rc == 0; s++)
            for (int p = 0; p < n_precisions && rc == 0; p++)
              {
                nfn_symmetry sym = s ? NFN_SYM_HNP : NFN_SYM_NP;
                use_precision (precisions[p], json);
                double ms = 0, all_gflop = 0;
                rc = time_layer (&space, sym, B, C, reps, rng, &ms, &all_gflop);
                double gflops = pointwise_gflop / (ms / 1e3);
                double all_gflops = all_gflop / (ms / 1e3);
                double floor_ms = all_gflop / rate * 1e3; /* every GEMM at the bare sgemm rate */
                double ref = reference_ms[s][c][threads - 1];
                const char *prec = nfn_precision_name (nfn_get_precision ());
                g_autofree char *name = g_strdup_printf ("%s layer C=%d fwd+bwd", s ? "HNP" : "NP", C);
                if (json)
                  {
                    json_case_begin (jb, name, prec, threads, ms);
                    json_builder_set_member_name (jb, "pointwise_gflops");
                    json_builder_add_double_value (jb, gflops);
                    json_builder_set_member_name (jb, "all_gemm_gflops");
                    json_builder_add_double_value (jb, all_gflops);
                    json_builder_set_member_name (jb, "sgemm_gflops");
                    json_builder_add_double_value (jb, rate);
                    if (with_bf16)
                      {
                        json_builder_set_member_name (jb, "bf16_gemm_gflops");
                        json_builder_add_double_value (jb, rate_bf16);
                      }
                    json_builder_set_member_name (jb, "fp32_floor_ms");
                    json_builder_add_double_value (jb, floor_ms);
                    json_builder_set_member_name (jb, "reference_ms");
                    json_builder_add_double_value (jb, ref);
                    json_builder_end_object (jb);
                  }
                else
                  printf ("%-30s %5s %7d %9.1f %9.1f %8.0f%% %8.0f%% %7.1f ms %8.0f ms %7.2f×\n", name, prec, threads, ms,
                          gflops, 100 * gflops / rate, 100 * all_gflops / rate, floor_ms, ref, ref / ms);
              }
          if (!json)
            {
              g_autofree char *label = g_strdup_printf ("  bare GEMM %d×%d×%d", M, C, C);
              printf ("%-30s %5s %7d %9s %9.1f\n", label, "fp32", threads, "", rate);
              if (with_bf16)
                printf ("%-30s %5s %7d %9s %9.1f %8.0f%%\n", label,
                        nfn_bf16_supported () ? "bf16" : "fp32", threads, "", rate_bf16, 100 * rate_bf16 / rate);
            }
        }
      for (int s = 0; s < 2 && rc == 0; s++)
        for (int p = 0; p < n_precisions && rc == 0; p++)
          {
            nfn_symmetry sym = s ? NFN_SYM_HNP : NFN_SYM_NP;
            use_precision (precisions[p], json);
            double ms = 0;
            size_t bytes = 0;
            int reps = repeats > 0 ? repeats : quick ? 3 : 10;
            rc = time_training_step (&space, sym, B, reps, rng, &ms, &bytes);
            double ref = reference_ms[s][2][threads - 1];
            const char *prec = nfn_precision_name (nfn_get_precision ());
            g_autofree char *name = g_strdup_printf ("%s classifier training step", s ? "HNP" : "NP");
            if (json)
              {
                json_case_begin (jb, name, prec, threads, ms);
                json_builder_set_member_name (jb, "reference_ms");
                json_builder_add_double_value (jb, ref);
                json_builder_set_member_name (jb, "model_bytes");
                json_builder_add_int_value (jb, (gint64) bytes);
                json_builder_end_object (jb);
              }
            else
              printf ("%-30s %5s %7d %9.1f %9s %9s %9s %10s %8.0f ms %7.2f×   (model %.0f MB)\n", name, prec, threads, ms,
                      "", "", "", "", ref, ref / ms, bytes / 1048576.0);
          }
    }
  nfn_set_precision (NFN_PRECISION_FP32);
  gsl_rng_free (rng);
  json_builder_end_array (jb);
  json_builder_set_member_name (jb, "peak_rss_mb");
  json_builder_add_double_value (jb, nfn_cli_peak_rss_mb ());
  json_builder_end_object (jb);
  if (rc)
    return rc;
  if (json)
    nfn_cli_print_json (jb);
  else
    printf ("\npeak memory %.0f MB. GFLOP/s counts the pointwise term only (3 GEMMs of 2·B·P·C² flops);\n"
            "\"all GEMMs\" counts every basis term's GEMMs (the complete basis needs 1.47× (NP) and\n"
            "1.58× (HNP) the pointwise FLOPs on this space), both as a fraction of the bare fp32 sgemm rate;\n"
            "\"fp32 floor\" is the time of all those GEMMs at that rate. bf16 rounds the GEMM inputs to\n"
            "bfloat16 and sums in fp32 (AVX512-BF16, the engine's own kernel).\n"
            "Classifier: Fourier features (256 channels), 3 NF layers of 128 with ReLU, invariant pool,\n"
            "head 1000-1000-10, batch %d, Adam.\n",
            nfn_cli_peak_rss_mb (), B);
  return 0;
}

/* The GEMMs of one NF layer on the bench's 32 SIREN spaces (M = B·P = 37920 rows): forward
 * Y = X·W (NN), input gradient dX = dY·Wᵀ (NT), weight gradient dW = Xᵀ·dY (TN), at C = 128
 * and 512; and the small classes' GEMMs (M = B·n = 1024 rows, K = 384–896 pooled channels). */
static int
bench_gemm (int argc, char **argv)
{
  gboolean json = FALSE, quick = FALSE;
  int repeats = 0;
  GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print JSON", NULL },
    { "repeats", 0, 0, G_OPTION_ARG_INT, &repeats, "Timed repeats per case (default 7; 3 for C = 512)", "N" },
    { "quick", 0, 0, G_OPTION_ARG_NONE, &quick, "C = 128 shapes only, 3 repeats", NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("— OpenBLAS sgemm beside the bf16 kernel on the NF layers' GEMMs");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!nfn_cli_parse (context, &argc, &argv))
    return 1;
  static const struct {
    const char *name;
    CBLAS_TRANSPOSE ta, tb;
    int M, N, K;
  } shapes[] = {
    { "C=128 forward", CblasNoTrans, CblasNoTrans, 37920, 128, 128 },
    { "C=128 d-input", CblasNoTrans, CblasTrans, 37920, 128, 128 },
    { "C=128 d-weight", CblasTrans, CblasNoTrans, 128, 128, 37920 },
    { "small class forward", CblasNoTrans, CblasNoTrans, 1024, 128, 384 },
    { "small class forward", CblasNoTrans, CblasNoTrans, 1024, 128, 896 },
    { "small class d-input", CblasNoTrans, CblasTrans, 1024, 640, 128 },
    { "small class d-weight", CblasTrans, CblasNoTrans, 640, 128, 1024 },
    { "C=512 forward", CblasNoTrans, CblasNoTrans, 37920, 512, 512 },
    { "C=512 d-input", CblasNoTrans, CblasTrans, 37920, 512, 512 },
    { "C=512 d-weight", CblasTrans, CblasNoTrans, 512, 512, 37920 },
  };
  int n_shapes = quick ? 7 : (int) G_N_ELEMENTS (shapes);
  int max_threads = g_get_num_processors () >= 2 ? 2 : 1;
  g_autoptr (JsonBuilder) jb = json_builder_new ();
  json_builder_begin_object (jb);
  json_builder_set_member_name (jb, "bf16_kernel");
  json_builder_add_boolean_value (jb, nfn_bf16_supported ());
  json_builder_set_member_name (jb, "cases");
  json_builder_begin_array (jb);
  if (!json)
    printf ("nfn bench gemm: GFLOP/s, median of repeats%s\n\n%-22s %2s %21s %7s %12s %12s %7s\n",
            nfn_bf16_supported () ? "" : " (this CPU lacks AVX512-BF16: the bf16 column ran in fp32)", "case", "op",
            "M × N × K", "threads", "sgemm fp32", "nfn bf16", "ratio");
  for (int threads = 1; threads <= max_threads; threads++)
    {
      nfn_set_threads (threads);
      for (int s = 0; s < n_shapes; s++)
        {
          int reps = repeats > 0 ? repeats : quick ? 3 : shapes[s].N >= 512 ? 3 : 7;
          double rate[2];
          for (int p = 0; p < 2; p++)
            {
              use_precision (p ? NFN_PRECISION_BF16 : NFN_PRECISION_FP32, TRUE);
              rate[p] = gemm_rate (shapes[s].ta, shapes[s].tb, shapes[s].M, shapes[s].N, shapes[s].K, reps);
            }
          const char *op = shapes[s].ta == CblasTrans ? "TN" : shapes[s].tb == CblasTrans ? "NT" : "NN";
          if (json)
            {
              json_builder_begin_object (jb);
              json_builder_set_member_name (jb, "case");
              json_builder_add_string_value (jb, shapes[s].name);
              json_builder_set_member_name (jb, "op");
              json_builder_add_string_value (jb, op);
              json_builder_set_member_name (jb, "shape");
              json_builder_begin_array (jb);
              json_builder_add_int_value (jb, shapes[s].M);
              json_builder_add_int_value (jb, shapes[s].N);
              json_builder_add_int_value (jb, shapes[s].K);
              json_builder_end_array (jb);
              json_builder_set_member_name (jb, "threads");
              json_builder_add_int_value (jb, threads);
              json_builder_set_member_name (jb, "sgemm_gflops");
              json_builder_add_double_value (jb, rate[0]);
              json_builder_set_member_name (jb, "bf16_gflops");
              json_builder_add_double_value (jb, rate[1]);
              json_builder_end_object (jb);
            }
          else
            {
              g_autofree char *dims = g_strdup_printf ("%d × %d × %d", shapes[s].M, shapes[s].N, shapes[s].K);
              printf ("%-22s %2s %21s %7d %12.1f %12.1f %6.2f×\n", shapes[s].name, op, dims, threads, rate[0], rate[1],
                      rate[1] / rate[0]);
            }
        }
    }
  nfn_set_precision (NFN_PRECISION_FP32);
  json_builder_end_array (jb);
  json_builder_end_object (jb);
  if (json)
    nfn_cli_print_json (jb);
  return 0;
}

int
nfn_cli_bench (int argc, char **argv)
{
  if (argc >= 2 && strcmp (argv[1], "layers") == 0)
    return bench_layers (argc - 1, argv + 1);
  if (argc >= 2 && strcmp (argv[1], "gemm") == 0)
    return bench_gemm (argc - 1, argv + 1);
  if (argc >= 2 && strcmp (argv[1], "zoo") == 0)
    return nfn_cli_bench_zoo (argc - 1, argv + 1);
  return nfn_cli_fail ("bench: expected `nfn bench layers`, `nfn bench gemm` or `nfn bench zoo`");
}
