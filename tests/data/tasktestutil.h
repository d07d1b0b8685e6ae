/* tasktestutil.h — tiny zoos for the training-task tests (tests/data/test-tasks.c and
 * tests/ui/test-task-runs.c), built in-process in seconds. */
#ifndef NFN_TASKTESTUTIL_H
#define NFN_TASKTESTUTIL_H

#include "nfn_store.h"

/* `images` MNIST train digits fitted by the default 2→32→32→1 SIREN, 60 steps each. */
void ttu_build_siren_zoo (const char *dir, NfnStore *store, int images);
/* `networks` 784→8→8→10 MLP tickets at `sparsity` (one epoch on 500 images each). */
void ttu_build_ticket_zoo (const char *dir, NfnStore *store, int networks, double sparsity);

#endif
