/* placeholder: being written */
#include "nfn-cli.h"
int nfn_cli_zoo_tickets (int argc, char **argv) { return nfn_cli_fail ("zoo tickets: not built yet"); }
int nfn_cli_train_mask (int argc, char **argv) { return nfn_cli_fail ("train mask: not built yet"); }
int nfn_cli_mask (int argc, char **argv) { return nfn_cli_fail ("mask: not built yet"); }
int nfn_cli_eval_mask (int argc, char **argv) { return nfn_cli_fail ("eval-mask: not built yet"); }
