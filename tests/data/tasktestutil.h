/* tasktestutil.h — tiny zoos for the training-task tests (tests/data/test-tasks.c and
 * tests/ui/test-task-runs.c), built in-process in seconds, and the small run options both
 * tests train with. */
#ifndef NFN_TASKTESTUTIL_H
#define NFN_TASKTESTUTIL_H

#include "nfn_store.h"
#include "nfn_task.h"

#define TTU_SIREN_IMAGES 30
#define TTU_TICKET_NETWORKS 24
#define TTU_TICKET_SPARSITY 0.8
#define TTU_CNN_RUNS 20

/* `images` MNIST train digits fitted by the default 2→32→32→1 SIREN, 60 steps each. */
void ttu_build_siren_zoo (const char *dir, NfnStore *store, int images);
/* `networks` 784→8→8→10 MLP tickets at `sparsity` (one epoch on 500 images each). */
void ttu_build_ticket_zoo (const char *dir, NfnStore *store, int networks, double sparsity);
/* `runs` MNIST CNNs (nfn_cnn_zoo_build, one checkpoint each) trained for one epoch on 5 % of
 * the train split. */
void ttu_build_cnn_zoo (const char *dir, NfnStore *store, int runs);
/* Both zoos at the sizes above, in `dir`/siren-zoo and `dir`/ticket-zoo (paths g_free). */
void ttu_build_zoos (const char *dir, char **siren_zoo, char **ticket_zoo);

/* A task's defaults cut to a few seconds of training on those zoos (2 threads);
 * nfn_task_options_clear frees them. */
void ttu_small_classify (NfnTaskOptions *o, const char *siren_zoo, int epochs);
void ttu_small_edit (NfnTaskOptions *o, const char *siren_zoo); /* invert, 2 epochs */
void ttu_small_mask (NfnTaskOptions *o, const char *ticket_zoo); /* 2 epochs, selected by IoU */
void ttu_small_genpred (NfnTaskOptions *o, const char *cnn_zoo);  /* hnp, 2 epochs */

#endif
