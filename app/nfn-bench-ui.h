/* nfn-bench-ui.h — `nfn-workbench --bench-ui`: the GUI's speed goals, measured on this
 * machine and printed (a benchmark, not a test: the numbers are read, nothing fails on them).
 *
 *   window up          process start (the kernel's start time in /proc/self/stat) to the
 *                      window's first frame, goal < 0.5 s;
 *   open + draw        nfn_window_set_network to the end of the next frame, for MLPs of about
 *                      10^4, 10^5 and 10^6 parameters made in memory, goal < 100 ms;
 *   permutation        Permute on a 784→256→256→10 MLP: frames drawn per second while the
 *                      animation runs, and the work per frame (before-paint to after-paint),
 *                      goal ≥ 60 fps.
 */
#ifndef NFN_BENCH_UI_H
#define NFN_BENCH_UI_H

#include "nfn-window.h"

G_BEGIN_DECLS

/* Runs the benchmark on `window` (just presented) and quits the application when done,
 * setting *status to 0, or 1 when a step could not be measured. */
void nfn_bench_ui_start (GApplication *application, NfnWindow *window, int *status);

G_END_DECLS
#endif
