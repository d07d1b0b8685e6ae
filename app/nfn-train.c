/* nfn-train.c — `nfn train TASK`: one file per task. */
#include "nfn-cli.h"

#include <string.h>

int
nfn_cli_train (int argc, char **argv)
{
  static const struct {
    const char *name;
    int (*run) (int, char **);
  } tasks[] = {
    { "classify", nfn_cli_train_classify },
    { "edit", nfn_cli_train_edit },
    { "mask", nfn_cli_train_mask },
    { "genpred", nfn_cli_train_genpred },
  };
  for (size_t k = 0; argc >= 2 && k < G_N_ELEMENTS (tasks); k++)
    if (strcmp (argv[1], tasks[k].name) == 0)
      return tasks[k].run (argc - 1, argv + 1);
  return nfn_cli_fail ("train: expected `nfn train classify|edit|mask|genpred` (see nfn train TASK --help)");
}
