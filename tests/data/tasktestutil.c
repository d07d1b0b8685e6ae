/* tasktestutil.c — tiny zoos for the training-task tests. */
#include "tasktestutil.h"

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
