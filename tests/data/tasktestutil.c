/* tasktestutil.c — tiny zoos for the training-task tests. */
#include "tasktestutil.h"

#include "nfn_cnn_zoo.h"
#include "nfn_ticket_zoo.h"
#include "nfn_zoo.h"

void
ttu_build_siren_zoo (const char *dir, NfnStore *store, int images)
{
  g_autoptr (GError) error = NULL;
  NfnZooFitCallbacks callbacks = { .threads = 2 };
  NfnZooFitReport report = { 0 };
  NfnZooSettings s;
  nfn_zoo_settings_init (&s);
  g_free (s.dataset);
  s.dataset = g_strdup ("mnist");
  s.count = images;
  s.steps = 60;
  g_assert_true (nfn_zoo_fit (&s, dir, store, &callbacks, &report, &error));
  g_assert_no_error (error);
  nfn_zoo_settings_clear (&s);
}

void
ttu_build_ticket_zoo (const char *dir, NfnStore *store, int networks, double sparsity)
{
  g_autoptr (GError) error = NULL;
  NfnZooFitCallbacks callbacks = { .threads = 2 };
  NfnZooFitReport report = { 0 };
  NfnTicketZooSettings t;
  nfn_ticket_zoo_settings_init (&t);
  t.count = networks;
  t.n_hidden = 2;
  t.hidden[0] = t.hidden[1] = 8;
  t.epochs = 1;
  t.train_limit = 500;
  t.sparsity = sparsity;
  g_assert_true (nfn_ticket_zoo_build (&t, dir, store, &callbacks, &report, &error));
  g_assert_no_error (error);
  nfn_ticket_zoo_settings_clear (&t);
}

void
ttu_build_cnn_zoo (const char *dir, NfnStore *store, int runs)
{
  g_autoptr (GError) error = NULL;
  NfnZooFitCallbacks callbacks = { .threads = 2 };
  NfnZooFitReport report = { 0 };
  NfnCnnZooSettings s;
  nfn_cnn_zoo_settings_init (&s);
  g_free (s.dataset);
  s.dataset = g_strdup ("mnist");
  s.count = runs;
  s.seed = 3;
  s.ranges.fraction_min = s.ranges.fraction_max = 0.05;
  s.ranges.epochs_max = 1;
  g_assert_true (nfn_cnn_zoo_build (&s, dir, store, &callbacks, &report, &error));
  g_assert_no_error (error);
  nfn_cnn_zoo_settings_clear (&s);
}

void
ttu_build_zoos (const char *dir, char **siren_zoo, char **ticket_zoo)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *db = g_build_filename (dir, "zoos.sqlite", NULL);
  g_autoptr (NfnStore) store = nfn_store_open (db, FALSE, &error);
  g_assert_no_error (error);
  *siren_zoo = g_build_filename (dir, "siren-zoo", NULL);
  ttu_build_siren_zoo (*siren_zoo, store, TTU_SIREN_IMAGES);
  *ticket_zoo = g_build_filename (dir, "ticket-zoo", NULL);
  ttu_build_ticket_zoo (*ticket_zoo, store, TTU_TICKET_NETWORKS, TTU_TICKET_SPARSITY);
}

void
ttu_small_classify (NfnTaskOptions *o, const char *siren_zoo, int epochs)
{
  nfn_task_classify_defaults (o);
  o->zoo = g_strdup (siren_zoo);
  o->channels = 8;
  o->fourier = 8;
  o->head = g_strdup ("32");
  o->batch = 8;
  o->epochs = epochs;
  o->warmup = 5;
  o->threads = 2;
}

void
ttu_small_edit (NfnTaskOptions *o, const char *siren_zoo)
{
  nfn_task_edit_defaults (o);
  o->zoo = g_strdup (siren_zoo);
  o->transform = g_strdup ("invert");
  o->channels = 8;
  o->depth = 2;
  o->batch = 8;
  o->epochs = 2;
  o->lr = 3e-3;
  o->threads = 2;
}

void
ttu_small_mask (NfnTaskOptions *o, const char *ticket_zoo)
{
  nfn_task_mask_defaults (o);
  o->zoo = g_strdup (ticket_zoo);
  o->channels = 8;
  o->depth = 2;
  o->fourier = 8;
  o->epochs = 2;
  o->val_train = 0;
  o->threads = 2;
}

void
ttu_small_genpred (NfnTaskOptions *o, const char *cnn_zoo)
{
  nfn_task_genpred_defaults (o);
  o->zoo = g_strdup (cnn_zoo);
  o->channels = 4;
  g_free (o->head);
  o->head = g_strdup ("16");
  o->batch = 8;
  o->epochs = 2;
  o->warmup = 2;
  o->threads = 2;
}
