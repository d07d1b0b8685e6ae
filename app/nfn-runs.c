/* placeholder: `nfn runs` is being written */
#include "nfn-cli.h"
int nfn_cli_runs (int argc, char **argv) { return nfn_cli_fail ("runs: not built yet"); }
