/* placeholder: being written */
#include "nfn-cli.h"
int nfn_cli_train_edit (int argc, char **argv) { return nfn_cli_fail ("train edit: not built yet"); }
int nfn_cli_edit (int argc, char **argv) { return nfn_cli_fail ("edit: not built yet"); }
