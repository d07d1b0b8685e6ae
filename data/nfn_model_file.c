/* nfn_model_file.c — being written */
#include "nfn_model_file.h"
