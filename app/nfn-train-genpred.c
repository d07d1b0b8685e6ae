/* placeholder: being written */
#include "nfn-cli.h"
int nfn_cli_zoo_cnn (int argc, char **argv) { return nfn_cli_fail ("zoo cnn: not built yet"); }
int nfn_cli_train_genpred (int argc, char **argv) { return nfn_cli_fail ("train genpred: not built yet"); }
