/* placeholder: being written */
#include "nfn-cli.h"
int nfn_cli_train_classify (int argc, char **argv) { return nfn_cli_fail ("train classify: not built yet"); }
int nfn_cli_predict (int argc, char **argv) { return nfn_cli_fail ("predict: not built yet"); }
int nfn_cli_eval (int argc, char **argv) { return nfn_cli_fail ("eval: not built yet"); }
