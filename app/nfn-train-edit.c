/* nfn-train-edit.c — `nfn train edit` (INR style editing, issue 4; the run is
 * data/nfn_task_edit.c's) and `nfn edit`. */
#include "nfn_json.h"
#include "nfn-cli.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "nfn_edit.h"
#include "nfn_model_file.h"
#include "nfn_network.h"
#include "nfn_perm.h"
#include "nfn_task.h"

/* ---- nfn train edit ---- */

static void
edit_print_json (const NfnTaskResult *r, NfnStore *store)
{
  const NfnTrainerReport *report = &r->report;
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  nfn_task_json_add_int (b, "run", r->run_id);
  nfn_task_json_add_string (b, "transform", r->transform);
  nfn_task_json_add_string (b, "model", r->model_name);
  nfn_task_json_add_int (b, "best_epoch", report->best_epoch);
  nfn_task_json_add_int (b, "epochs", report->epochs_done);
  nfn_task_json_add_int (b, "steps", report->steps);
  nfn_task_json_add_number (b, "val_mse", nfn_trainer_metrics_get (&report->val, "mse"));
  nfn_task_json_add_number (b, "val_unedited_mse", r->unedited_val);
  nfn_task_json_add_number (b, "test_mse", report->test.n ? nfn_trainer_metrics_get (&report->test, "mse") : NAN);
  nfn_task_json_add_number (b, "test_unedited_mse", r->unedited_test);
  nfn_task_json_add_number (b, "wall_seconds", report->seconds);
  nfn_task_json_add_int (b, "params", (gint64) report->params);
  nfn_task_json_add_string (b, "model_file", r->model_path);
  nfn_task_json_add_string (b, "db", nfn_store_get_path (store));
  json_builder_end_object (b);
  nfn_cli_print_json (b);
}

int
nfn_cli_train_edit (int argc, char **argv)
{
  NfnTaskOptions options;
  nfn_task_edit_defaults (&options);
  NfnCliTrainArgs args = { 0 };
  const NfnCliTrainSpec spec = {
    .entries = NFN_CLI_TRAIN_VAL_TEST | NFN_CLI_TRAIN_RESUME | NFN_CLI_TRAIN_NORMALIZE | NFN_CLI_TRAIN_FOURIER,
    .zoo_help = "the training zoo (SIRENs of images)",
    .model_help = "np (default), hnp, pointwise or mlp",
    .out_help = "the model file (default: models/run-N-edit.safetensors beside the store)",
  };
  GOptionEntry entries[] = {
    { "task", 0, 0, G_OPTION_ARG_STRING, &options.transform, "the edit: dilate, erode, gradient (dilate − erode) or invert", "T" },
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("— train an NFN that edits INRs (issue 4's style editing)");
  GOptionGroup *group = nfn_cli_train_group (&spec, &options, &args);
  g_option_group_add_entries (group, entries);
  g_option_context_set_main_group (context, group);
  int status = 1;
  NfnTaskResult result = { 0 };
  g_autoptr (NfnStore) store = nfn_cli_train_open (context, "train edit", &spec, &options, &args, &argc, &argv);
  if (!store || !nfn_cli_train_run (nfn_task_edit_run, &options, store, "mse", FALSE, &result))
    goto done;
  const NfnTrainerReport *report = &result.report;
  if (args.json)
    edit_print_json (&result, store);
  else
    {
      printf ("train edit (%s, %s): best epoch %d of %d, %" G_GINT64_FORMAT " steps, %.1f s\n", result.transform,
              result.model_name, report->best_epoch, report->epochs_done, report->steps, report->seconds);
      printf ("  val  MSE %.5f (unedited %.5f)\n", nfn_trainer_metrics_get (&report->val, "mse"), result.unedited_val);
      if (report->test.n)
        printf ("  test MSE %.5f (unedited %.5f) on %d networks\n", nfn_trainer_metrics_get (&report->test, "mse"),
                result.unedited_test, result.test_networks);
      printf ("model %s; run %" G_GINT64_FORMAT " in %s\n", result.model_path, result.run_id, nfn_store_get_path (store));
    }
  status = 0;

done:
  nfn_cli_train_clear (&result, &options, &args);
  return status;
}

/* ---- nfn edit ---- */

int
nfn_cli_edit (int argc, char **argv)
{
  g_autofree char *out = NULL;
  GOptionEntry entries[] = {
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &out, "the edited network (safetensors)", "OUT" },
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("MODEL NET|ZOO:IDX — apply a trained editing NFN to a SIREN");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!nfn_cli_parse (context, &argc, &argv))
    return 1;
  if (argc != 3)
    return nfn_cli_fail ("edit: expected MODEL and one NET or ZOO:IDX (see nfn edit --help)");
  if (!out)
    return nfn_cli_fail ("edit: -o OUT.safetensors is required");
  g_autoptr (GError) error = NULL;
  NfnModelFileInfo info = { 0 };
  nfn_model *model = nfn_model_file_load (argv[1], 1, &info, &error);
  if (!model)
    return nfn_cli_fail_error (error);
  const nfn_space *space = &nfn_model_get_config (model)->space;
  g_autofree char *transform = NULL;
  NfnTrainerNorm norm;
  gboolean is_edit = nfn_task_edit_model_extra (&info, space, argv[1], &transform, &norm, &error);
  nfn_model_file_info_clear (&info);
  g_autoptr (NfnNetwork) net = is_edit ? nfn_network_load_spec (argv[2], &error) : NULL;
  int status = 0;
  if (!net)
    status = nfn_cli_fail_error (error);
  else if (net->arch.kind != NFN_NET_SIREN || !nfn_space_equal (&net->arch.space, space))
    status = nfn_cli_fail ("%s: not a SIREN of the architecture %s edits", argv[2], argv[1]);
  if (status)
    {
      nfn_model_free (model);
      return status;
    }
  g_autoptr (NfnNetwork) edited = nfn_network_copy (net);
  nfn_feature input;
  nfn_status st = nfn_feature_alloc (&input, space, 1, 1);
  if (st == NFN_OK)
    {
      memcpy (input.data, net->weights.data, input.size * sizeof (float));
      nfn_trainer_norm_apply (&norm, &input);
      st = nfn_edit_model_apply (model, &net->weights, &input, &edited->weights);
      nfn_feature_free (&input);
    }
  nfn_model_free (model);
  if (st == NFN_OK)
    st = nfn_feature_check_finite (&edited->weights);
  if (st != NFN_OK)
    return nfn_cli_fail ("%s: editing failed: %s", argv[2], nfn_status_message (st));
  /* where it came from: render finds the source image in the nfn.zoo.* keys the copy keeps */
  g_autofree char *model_path = g_canonicalize_filename (argv[1], NULL);
  nfn_network_set_metadata (edited, "nfn.edit.transform", transform);
  nfn_network_set_metadata (edited, "nfn.edit.model", model_path);
  nfn_network_set_metadata (edited, "nfn.edit.source", argv[2]);
  if (!nfn_network_save (edited, out, &error))
    return nfn_cli_fail_error (error);
  printf ("%s: %s edited for \"%s\", ‖delta‖ = %.4g\n", out, argv[2], transform,
          nfn_weight_distance (&net->weights, &edited->weights));
  return 0;
}
