/* placeholder: `nfn zoo`, `nfn render`, `nfn bench zoo` are being written */
#include "nfn-cli.h"
int nfn_cli_zoo (int argc, char **argv) { return nfn_cli_fail ("zoo: not built yet"); }
int nfn_cli_render (int argc, char **argv) { return nfn_cli_fail ("render: not built yet"); }
int nfn_cli_bench_zoo (int argc, char **argv) { return nfn_cli_fail ("bench zoo: not built yet"); }
