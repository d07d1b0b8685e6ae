/* nfn-bench-ui.h — `nfn-workbench --bench-ui`: the GUI's speed goals, measured on this
 * machine and printed (a benchmark, not a test: the numbers are read, nothing fails on them).
 *
 *   window up          process start (the kernel's start time in /proc/self/stat) to the
 *                      window's first frame, goal < 0.5 s; this launch and 4 more of the same
 *                      binary (--bench-ui-window-up), run alone after the rest;
 *   open + draw        nfn_window_set_network to the end of the next frame, for MLPs of about
 *                      10^4, 10^5 and 10^6 parameters made in memory, 5 opens each, goal
 *                      < 100 ms for the 10^6 one; and the later frame in which the neuron
 *                      graph, whose full edge set a worker thread rasterises, is complete;
 *   permutation        Permute on a 784→256→256→10 MLP, 5 times: frames presented per second
 *                      between the first and the last frame of the 300 ms animation, goal the
 *                      frame clock's 60 fps (met at ≥ 95 % of it); and the main thread's CPU time
 *                      per frame (before-paint to after-paint), which other processes on the
 *                      machine do not inflate as they do wall time.
 * Each goal is printed with its median and "met" or "missed".
 */
#ifndef NFN_BENCH_UI_H
#define NFN_BENCH_UI_H

#include "nfn-window.h"

G_BEGIN_DECLS

/* Runs the benchmark on `window` (just presented) and quits the application when done,
 * setting *status to 0, or 1 when a step could not be measured. window_up_only: print
 * "window up <seconds>" at the first frame and quit (one of the extra launches). */
void nfn_bench_ui_start (GApplication *application, NfnWindow *window, int *status, gboolean window_up_only);

G_END_DECLS
#endif
