/* test-task-runs.c — the Tasks page runs the training tasks (classify, edit, mask, genpred)
 * through data/nfn_task.h on a worker thread, on tiny zoos built here:
 *   - a classify run started from the panel completes while the main loop turns; the curve
 *     has training-loss points and one validation point per epoch; the run is in the store
 *     (read back through the data layer), completed, with the form's settings in its config;
 *   - after an edit run, the before · after · target images are drawn: on an offscreen
 *     surface, the after tile differs from the before tile where the edit changed the image
 *     and matches it where it did not, and the target tile shows 1 − source (invert) against
 *     the data set's own pixels;
 *   - after a mask run, the heatmap's cells follow the mask (computed here by the data
 *     layer's preview of the same model: one colour for kept weights, another for pruned) and
 *     the printed sparsity is the mask's pruned fraction, counted here;
 *   - the mask form's IO bands and mask selection show nfn_task_mask_defaults; spread and 2 IO
 *     bands chosen in its widgets reach the options and a completed run's stored config; IO
 *     bands grey out for hnp only;
 *   - a genpred run (hnp, and the spectral fit, whose form greys out the training options) on
 *     a CNN zoo of UT_CNN_RUNS runs: the store holds a completed NFN_TASK_GENPRED run with its
 *     val τ rows, its summary and its scatter as a "figure" artifact; the status line prints the
 *     test τ and R² the summary holds; the scatter is drawn: the panel's picture, rendered to a
 *     surface, has the points' blue where the artifact PNG (decoded here by cairo) has it, and
 *     the PNG's blue spots are at most the test split's size (max(1, round(R/10)) runs of one
 *     checkpoint) and cover about that many dots' area.
 * Screenshots of the panel after the edit, mask and genpred runs, and of the mask form, go under
 * the build directory (tests/ui/tasks-edit.png, tasks-mask.png, tasks-genpred.png,
 * tasks-mask-form.png). */
#include <glib/gstdio.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "nfn-task-panel.h"
#include "nfn_datasets.h"
#include "nfn_precision.h"
#include "tasktestutil.h"
#include "uitestutil.h"

/* 40 one-checkpoint runs: 4 CNNs each in val and test, a few seconds to build */
#define UT_CNN_RUNS 40
#define UT_CNN_TEST_NETWORKS 4

static char *tmp_dir, *siren_zoo, *ticket_zoo, *cnn_zoo;

typedef struct {
  char *store_path;
  GtkWidget *window;
  NfnTaskPanel *panel;
} fixture;

static void
fixture_setup (fixture *fx, gconstpointer data)
{
  static int counter;
  g_autofree char *name = g_strdup_printf ("store-%d", ++counter);
  g_autofree char *dir = g_build_filename (tmp_dir, name, NULL);
  g_assert_cmpint (g_mkdir (dir, 0755), ==, 0);
  fx->store_path = g_build_filename (dir, "experiments.sqlite", NULL);
  fx->window = ut_task_panel_window (fx->store_path, 1200, 900, &fx->panel);
}

static void
fixture_teardown (fixture *fx, gconstpointer data)
{
  gtk_window_destroy (GTK_WINDOW (fx->window));
  g_free (fx->store_path);
}

static gboolean
count_tick (gpointer data)
{
  (*(int *) data)++;
  return G_SOURCE_CONTINUE;
}

/* Starts the panel's task and waits for its end, counting main-loop turns meanwhile. */
static void
run_panel (fixture *fx)
{
  int ticks = 0;
  guint ticker = g_timeout_add (5, count_tick, &ticks);
  g_assert_true (nfn_task_panel_start (fx->panel));
  g_assert_true (nfn_task_panel_get_busy (fx->panel));
  g_assert_true (ut_wait_for (ut_task_panel_idle, fx->panel, 120));
  g_source_remove (ticker);
  g_test_message ("%s (%d main-loop ticks)", nfn_task_panel_get_status (fx->panel), ticks);
  g_assert_true (g_str_has_prefix (nfn_task_panel_get_status (fx->panel), "Completed"));
  /* the main loop kept turning while the worker ran; how often depends on the machine's load
   * (a tiny task takes tens of milliseconds), so any turn counts */
  g_assert_cmpint (ticks, >, 0);
  /* let the result views lay out and draw */
  ut_present_and_wait (GTK_WINDOW (fx->window));
}

/* The panel as a PNG under the build directory, for a person to look at. */
static void
save_screenshot (fixture *fx, const char *name)
{
  GtkWidget *widget = GTK_WIDGET (fx->panel);
  int width = gtk_widget_get_width (widget), height = gtk_widget_get_height (widget);
  g_autoptr (GdkPaintable) paintable = gtk_widget_paintable_new (widget);
  GtkSnapshot *snapshot = gtk_snapshot_new ();
  gdk_paintable_snapshot (paintable, snapshot, width, height);
  GskRenderNode *node = gtk_snapshot_free_to_node (snapshot);
  g_assert_nonnull (node);
  GskRenderer *renderer = gtk_native_get_renderer (gtk_widget_get_native (widget));
  g_autoptr (GdkTexture) texture = gsk_renderer_render_texture (renderer, node, &GRAPHENE_RECT_INIT (0, 0, width, height));
  gsk_render_node_unref (node);
  g_autofree char *path = g_test_build_filename (G_TEST_BUILT, name, NULL);
  g_assert_true (gdk_texture_save_to_png (texture, path));
  g_test_message ("screenshot %s (%d x %d)", path, width, height);
}

/* The panel's last run, read back from the store: it must have the task and be completed. */
static NfnRun *
panel_completed_run (fixture *fx, const char *task, NfnStore **store)
{
  gint64 id = nfn_task_panel_get_run_id (fx->panel);
  g_assert_cmpint (id, >, 0);
  g_autoptr (GError) error = NULL;
  *store = nfn_store_open (fx->store_path, TRUE, &error);
  g_assert_no_error (error);
  NfnRun *run = nfn_store_get_run (*store, id, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (run->task, ==, task);
  g_assert_cmpint (run->status, ==, NFN_RUN_COMPLETED);
  return run;
}

/* The first descendant of `widget` that `match`es, on the stack's page shown (the other tasks'
 * forms have the same rows). */
static GtkWidget *
find_shown (GtkWidget *widget, gboolean (*match) (GtkWidget *widget, const char *text), const char *text)
{
  if (match (widget, text))
    return widget;
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child; child = gtk_widget_get_next_sibling (child))
    {
      if (!gtk_widget_get_child_visible (child))
        continue;
      GtkWidget *found = find_shown (child, match, text);
      if (found)
        return found;
    }
  return NULL;
}

static gboolean
has_tooltip (GtkWidget *widget, const char *tooltip)
{
  return g_strcmp0 (gtk_widget_get_tooltip_text (widget), tooltip) == 0;
}

static GtkWidget *
find_by_tooltip (GtkWidget *widget, const char *tooltip)
{
  return find_shown (widget, has_tooltip, tooltip);
}

/* A form row's name: a label in a grid's first column. */
static gboolean
is_row_name (GtkWidget *widget, const char *name)
{
  if (!GTK_IS_LABEL (widget) || !GTK_IS_GRID (gtk_widget_get_parent (widget)))
    return FALSE;
  int column;
  gtk_grid_query_child (GTK_GRID (gtk_widget_get_parent (widget)), widget, &column, NULL, NULL, NULL);
  return column == 0 && g_strcmp0 (gtk_label_get_text (GTK_LABEL (widget)), name) == 0;
}

/* The widget of the shown form's row named `name` (its label, when `label` is not NULL). */
static GtkWidget *
find_row (NfnTaskPanel *panel, const char *name, GtkWidget **label)
{
  GtkWidget *found = find_shown (GTK_WIDGET (panel), is_row_name, name);
  g_assert_nonnull (found);
  int row;
  GtkGrid *grid = GTK_GRID (gtk_widget_get_parent (found));
  gtk_grid_query_child (grid, found, NULL, &row, NULL, NULL);
  if (label)
    *label = found;
  GtkWidget *widget = gtk_grid_get_child_at (grid, 1, row);
  g_assert_nonnull (widget);
  return widget;
}

/* The classify form, filled in for a 3-epoch run on the small SIREN zoo. */
static void
show_small_classify (fixture *fx)
{
  NfnTaskOptions o;
  ttu_small_classify (&o, siren_zoo, 3);
  nfn_task_panel_set_task (fx->panel, NFN_TASK_KIND_CLASSIFY);
  nfn_task_panel_set_train_options (fx->panel, NFN_TASK_KIND_CLASSIFY, &o);
  nfn_task_options_clear (&o);
}

static void
test_classify (fixture *fx, gconstpointer data)
{
  show_small_classify (fx);
  gtk_spin_button_set_value (GTK_SPIN_BUTTON (find_row (fx->panel, "Fourier scale", NULL)), 0.5);
  run_panel (fx);

  NfnPlot *plot = nfn_task_panel_get_plot (fx->panel);
  g_assert_cmpint (nfn_plot_get_n_series (plot), ==, 2);
  g_assert_cmpint (nfn_plot_get_series_length (plot, 0), >=, 3);
  g_assert_cmpint (nfn_plot_get_series_length (plot, 1), ==, 3);

  g_autoptr (NfnStore) store = NULL;
  g_autoptr (NfnRun) run = panel_completed_run (fx, NFN_TASK_CLASSIFY, &store);
  gint64 id = run->id;
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) val = nfn_store_run_metric (store, id, "val/accuracy", G_MININT64, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (val->len, ==, 3);
  /* the form's settings are the run's: the model the CLI would build from the same options */
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_assert_true (json_parser_load_from_data (parser, run->config_json, -1, NULL));
  JsonObject *config = json_node_get_object (json_parser_get_root (parser));
  g_autofree char *canonical = g_canonicalize_filename (siren_zoo, NULL);
  g_assert_cmpstr (json_object_get_string_member (config, "zoo"), ==, canonical);
  g_assert_cmpint (json_object_get_int_member (config, "epochs"), ==, 3);
  g_assert_cmpint (json_object_get_int_member (config, "batch"), ==, 8);
  JsonObject *model = json_object_get_object_member (config, "nfn_model");
  g_assert_cmpint (json_object_get_int_member (model, "channels"), ==, 8);
  g_assert_cmpfloat (json_object_get_double_member (model, "fourier_scale"), ==, 0.5);
}

/* The grey level drawn at the centre of pixel (row, col) of tile `slot`. */
static double
tile_grey (cairo_surface_t *surface, const NfnImageGridLayout *layout, int slot, int rows, int row, int col)
{
  double x, y;
  nfn_image_grid_layout_slot (layout, slot, &x, &y);
  double scale = layout->tile / rows;
  NfnRgb rgb = ut_surface_rgb (surface, (int) (x + (col + 0.5) * scale), (int) (y + (row + 0.5) * scale));
  return (rgb.r + rgb.g + rgb.b) / 3;
}

static void
test_edit (fixture *fx, gconstpointer data)
{
  NfnTaskOptions o;
  ttu_small_edit (&o, siren_zoo);
  const int image = 3;
  nfn_task_panel_set_task (fx->panel, NFN_TASK_KIND_EDIT);
  nfn_task_panel_set_train_options (fx->panel, NFN_TASK_KIND_EDIT, &o);
  nfn_task_panel_set_preview_index (fx->panel, image);
  run_panel (fx);
  save_screenshot (fx, "tasks-edit.png");

  NfnImageGrid *view = nfn_task_panel_get_edit_view (fx->panel);
  g_assert_true (gtk_widget_get_visible (GTK_WIDGET (view)));
  const int rows = 28, cols = 28, width = 3 * 28 * 4 + 40, height = 28 * 4 + 40;
  cairo_t *cr;
  cairo_surface_t *surface = ut_white_surface (width, height, &cr);
  nfn_image_grid_paint (view, cr, width, height);
  cairo_surface_flush (surface);
  NfnImageGridLayout layout;
  nfn_image_grid_layout_compute (&layout, width, height, 3, 3, TRUE);
  g_assert_cmpfloat (layout.tile, >=, rows); /* every pixel gets at least one surface pixel */

  g_autoptr (GError) error = NULL;
  g_autoptr (NfnDataset) ds = nfn_dataset_load ("mnist", "train", image + 1, &error);
  g_assert_no_error (error);
  const float *source = ds->images + (size_t) image * rows * cols;
  int changed = 0, unchanged = 0;
  double worst_target = 0;
  for (int r = 0; r < rows; r++)
    for (int c = 0; c < cols; c++)
      {
        double before = nfn_image_grid_get_pixel (view, 0, r, c, 0), after = nfn_image_grid_get_pixel (view, 1, r, c, 0);
        double drawn_before = tile_grey (surface, &layout, 0, rows, r, c);
        double drawn_after = tile_grey (surface, &layout, 1, rows, r, c);
        double drawn_target = tile_grey (surface, &layout, 2, rows, r, c);
        worst_target = MAX (worst_target, fabs (drawn_target - (1.0 - source[r * cols + c])));
        if (fabs (after - before) > 0.3)
          {
            changed++;
            g_assert_cmpfloat (fabs (drawn_after - drawn_before), >, 0.2);
          }
        else if (fabs (after - before) < 0.01)
          {
            unchanged++;
            g_assert_cmpfloat (fabs (drawn_after - drawn_before), <, 0.03);
          }
      }
  g_test_message ("edit view: %d pixels changed by the edit, %d unchanged; worst |target − (1 − source)| drawn %.3f",
                  changed, unchanged, worst_target);
  g_assert_cmpint (changed, >, 50);
  g_assert_cmpfloat (worst_target, <, 0.02);
  cairo_destroy (cr);
  cairo_surface_destroy (surface);
  nfn_task_options_clear (&o);
}

/* The mask form shown, filled with the small mask run's options. */
static void
show_small_mask (fixture *fx)
{
  NfnTaskOptions o;
  ttu_small_mask (&o, ticket_zoo);
  nfn_task_panel_set_task (fx->panel, NFN_TASK_KIND_MASK);
  nfn_task_panel_set_train_options (fx->panel, NFN_TASK_KIND_MASK, &o);
  nfn_task_options_clear (&o);
}

static void
test_mask (fixture *fx, gconstpointer data)
{
  show_small_mask (fx);
  run_panel (fx);
  /* W2, 8 × 8: cells large enough to read back */
  const int layer = 2;
  nfn_task_panel_set_mask_layer (fx->panel, layer);
  ut_present_and_wait (GTK_WINDOW (fx->window));
  save_screenshot (fx, "tasks-mask.png");

  /* the mask, independently: the data layer's preview of the run's model on init 0 */
  const char *model = nfn_task_panel_get_model_path (fx->panel);
  g_assert_nonnull (model);
  nfn_feature mask;
  double sparsity;
  g_autoptr (GError) error = NULL;
  g_assert_true (nfn_task_mask_preview (model, ticket_zoo, 0, &mask, &sparsity, &error));
  g_assert_no_error (error);
  size_t zeros = 0, weights = 0;
  for (int i = 1; i <= mask.space.L; i++)
    for (int k = 0; k < mask.space.n[i] * mask.space.n[i - 1]; k++, weights++)
      zeros += mask.t[nfn_tensor_weight (i)][k] == 0;

  NfnHeatmap *view = nfn_task_panel_get_mask_view (fx->panel);
  int R = mask.space.n[layer], K = mask.space.n[layer - 1];
  g_assert_cmpint (nfn_heatmap_get_rows (view), ==, R);
  g_assert_cmpint (nfn_heatmap_get_cols (view), ==, K);
  const int width = 400, height = 400;
  cairo_t *cr;
  cairo_surface_t *surface = ut_white_surface (width, height, &cr);
  nfn_heatmap_paint (view, cr, width, height);
  cairo_surface_flush (surface);
  NfnHeatmapLayout layout;
  nfn_heatmap_layout_compute (&layout, width, height, R, K, TRUE);
  const float *w = mask.t[nfn_tensor_weight (layer)];
  NfnRgb kept_colour = { -1, -1, -1 }, pruned_colour = { -1, -1, -1 };
  int kept = 0, pruned = 0;
  for (int r = 0; r < R; r++)
    for (int c = 0; c < K; c++)
      {
        NfnRgb rgb = ut_surface_rgb (surface, (int) (layout.grid_x + (c + 0.5) * layout.cell),
                                     (int) (layout.grid_y + (r + 0.5) * layout.cell));
        NfnRgb *expected = w[r * K + c] != 0 ? &kept_colour : &pruned_colour;
        *(w[r * K + c] != 0 ? &kept : &pruned) += 1;
        if (expected->r < 0)
          *expected = rgb;
        g_assert_cmpfloat (ut_rgb_distance (rgb, *expected), <, 0.02);
      }
  g_assert_cmpint (kept, >, 0);
  g_assert_cmpint (pruned, >, 0);
  g_assert_cmpfloat (ut_rgb_distance (kept_colour, pruned_colour), >, 0.3);

  const char *text = nfn_task_panel_get_result_text (fx->panel);
  double printed = -1;
  g_assert_cmpint (sscanf (text, "Sparsity %lf", &printed), ==, 1);
  g_test_message ("mask view: W%d %d kept, %d pruned; \"%s\"; counted %.4f %%", layer, kept, pruned, text,
                  100.0 * zeros / weights);
  g_assert_cmpfloat (fabs (printed - 100.0 * zeros / weights), <=, 0.005 + 1e-9);
  cairo_destroy (cr);
  cairo_surface_destroy (surface);
  nfn_feature_free (&mask);
}

/* A pixel of the scatter's points: the data layer paints them blue (0.12, 0.35, 0.75) at 65 %
 * over white, and nothing else in the figure is anything but grey. */
static gboolean
is_point_pixel (cairo_surface_t *surface, int x, int y)
{
  NfnRgb rgb = ut_surface_rgb (surface, x, y);
  return rgb.b - rgb.r > 0.08;
}

/* Point pixels of the surface, and their 8-connected spots (a spot is one dot or overlapping
 * dots). */
static int
count_points (cairo_surface_t *surface, int *spots)
{
  int width = cairo_image_surface_get_width (surface), height = cairo_image_surface_get_height (surface);
  g_autofree guint8 *seen = g_new0 (guint8, (gsize) width * height);
  g_autoptr (GArray) stack = g_array_new (FALSE, FALSE, sizeof (int));
  int pixels = 0;
  *spots = 0;
  for (int start = 0; start < width * height; start++)
    {
      if (seen[start] || !is_point_pixel (surface, start % width, start / width))
        continue;
      (*spots)++;
      seen[start] = 1;
      g_array_append_val (stack, start);
      while (stack->len)
        {
          int at = g_array_index (stack, int, stack->len - 1);
          g_array_set_size (stack, stack->len - 1);
          pixels++;
          for (int dy = -1; dy <= 1; dy++)
            for (int dx = -1; dx <= 1; dx++)
              {
                int x = at % width + dx, y = at / width + dy;
                if (x < 0 || y < 0 || x >= width || y >= height || seen[y * width + x] || !is_point_pixel (surface, x, y))
                  continue;
                seen[y * width + x] = 1;
                int next = y * width + x;
                g_array_append_val (stack, next);
              }
        }
    }
  return pixels;
}

/* The number after `label` in `text`. */
static double
number_after (const char *text, const char *label)
{
  const char *at = strstr (text, label);
  g_assert_nonnull (at);
  return g_ascii_strtod (at + strlen (label), NULL);
}

static double
summary_member (JsonObject *summary, const char *name)
{
  g_assert_true (json_object_has_member (summary, name));
  return json_object_get_double_member (summary, name);
}

/* Everything a finished genpred run must show and have stored (see the top of the file). */
static void
check_genpred_run (fixture *fx, const char *model, int epochs)
{
  g_autoptr (NfnStore) store = NULL;
  g_autoptr (NfnRun) run = panel_completed_run (fx, NFN_TASK_GENPRED, &store);
  gint64 id = run->id;
  g_autoptr (GError) error = NULL;
  g_assert_cmpstr (run->model, ==, model);
  g_autoptr (JsonParser) config_parser = json_parser_new ();
  g_assert_true (json_parser_load_from_data (config_parser, run->config_json, -1, NULL));
  JsonObject *config = json_node_get_object (json_parser_get_root (config_parser));
  g_autofree char *canonical = g_canonicalize_filename (cnn_zoo, NULL);
  g_assert_cmpstr (json_object_get_string_member (config, "zoo"), ==, canonical);
  g_assert_cmpint (json_object_get_int_member (config, "split_seed"), ==, 5);
  /* val τ: one row per epoch, or the spectral fit's one */
  g_autoptr (GArray) val = nfn_store_run_metric (store, id, "val/tau", G_MININT64, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (val->len, ==, MAX (epochs, 1));

  g_autoptr (JsonParser) parser = json_parser_new ();
  g_assert_true (json_parser_load_from_data (parser, run->summary_json, -1, NULL));
  JsonObject *summary = json_node_get_object (json_parser_get_root (parser));
  double test_tau = summary_member (summary, "test_tau"), test_r2 = summary_member (summary, "test_r2");
  const char *scatter = json_object_get_string_member (summary, "scatter_png");
  g_autoptr (GPtrArray) artifacts = nfn_store_run_artifacts (store, id, &error);
  g_assert_no_error (error);
  gboolean figure = FALSE;
  for (guint k = 0; k < artifacts->len; k++)
    {
      NfnArtifact *a = g_ptr_array_index (artifacts, k);
      figure |= strcmp (a->kind, "figure") == 0 && strcmp (a->path, scatter) == 0;
    }
  g_assert_true (figure);

  /* the status line prints the τ and R² the store holds (4 decimals) */
  const char *status = nfn_task_panel_get_status (fx->panel);
  double printed_tau = number_after (status, "test τ "), printed_r2 = number_after (status, "R² ");
  g_test_message ("store: run %" G_GINT64_FORMAT " %s test_tau %.6f test_r2 %.6f; status \"%s\"", id, model, test_tau,
                  test_r2, status);
  g_assert_cmpfloat (fabs (printed_tau - test_tau), <=, 5e-5 + 1e-9);
  g_assert_cmpfloat (fabs (printed_r2 - test_r2), <=, 5e-5 + 1e-9);
  g_assert_nonnull (strstr (nfn_task_panel_get_result_text (fx->panel), scatter));

  /* the artifact as written: its points number at most the test split's networks and cover
   * about as many dots (radius 3: ~30 pixels each) */
  cairo_surface_t *png = cairo_image_surface_create_from_png (scatter);
  g_assert_cmpint (cairo_surface_status (png), ==, CAIRO_STATUS_SUCCESS);
  int png_spots, png_pixels = count_points (png, &png_spots);
  g_assert_cmpint (png_spots, >=, 1);
  g_assert_cmpint (png_spots, <=, UT_CNN_TEST_NETWORKS);
  g_assert_cmpint (png_pixels, >=, 20);
  g_assert_cmpint (png_pixels, <=, UT_CNN_TEST_NETWORKS * 40);

  /* the panel draws that figure: as many point pixels as the PNG's, scaled to the picture */
  GtkWidget *view = GTK_WIDGET (nfn_task_panel_get_scatter_view (fx->panel));
  g_assert_true (gtk_widget_get_mapped (view));
  cairo_surface_t *drawn = ut_widget_to_surface (view);
  int png_width = cairo_image_surface_get_width (png), png_height = cairo_image_surface_get_height (png);
  double scale = MIN ((double) gtk_widget_get_width (view) / png_width, (double) gtk_widget_get_height (view) / png_height);
  int drawn_spots, drawn_pixels = count_points (drawn, &drawn_spots);
  double expected = png_pixels * scale * scale;
  g_test_message ("scatter: PNG %d x %d with %d point pixels in %d spots (test split %d CNNs); drawn at scale %.2f: %d "
                  "point pixels in %d spots (expected ~%.0f)", png_width, png_height, png_pixels, png_spots,
                  UT_CNN_TEST_NETWORKS, scale, drawn_pixels, drawn_spots, expected);
  g_assert_cmpfloat (scale, >=, 0.4); /* dots stay dots */
  g_assert_cmpint (drawn_spots, >=, 1);
  g_assert_cmpint (drawn_spots, <=, UT_CNN_TEST_NETWORKS);
  g_assert_cmpfloat (drawn_pixels, >=, 0.5 * expected);
  g_assert_cmpfloat (drawn_pixels, <=, 2.5 * expected + 8);
  cairo_surface_destroy (drawn);
  cairo_surface_destroy (png);
}

static void
test_genpred (fixture *fx, gconstpointer data)
{
  NfnTaskOptions o;
  ttu_small_genpred (&o, cnn_zoo);
  o.split_seed = 5;
  nfn_task_panel_set_task (fx->panel, NFN_TASK_KIND_GENPRED);
  nfn_task_panel_set_train_options (fx->panel, NFN_TASK_KIND_GENPRED, &o);
  run_panel (fx);
  save_screenshot (fx, "tasks-genpred.png");

  /* the live curve: training loss, and val τ after each of the 2 epochs */
  NfnPlot *plot = nfn_task_panel_get_plot (fx->panel);
  g_assert_cmpint (nfn_plot_get_n_series (plot), ==, 2);
  g_assert_cmpint (nfn_plot_get_series_length (plot, 0), >=, 1);
  g_assert_cmpstr (nfn_plot_get_series_label (plot, 1), ==, "val τ");
  g_assert_cmpint (nfn_plot_get_series_length (plot, 1), ==, 2);
  check_genpred_run (fx, "hnp", 2);
  nfn_task_options_clear (&o);
}

static void
dropdown_choose (GtkDropDown *dropdown, const char *item)
{
  int k = nfn_task_train_form_dropdown_index (dropdown, item);
  g_assert_cmpint (k, >=, 0);
  gtk_drop_down_set_selected (dropdown, (guint) k);
}

/* The mask form's IO bands and mask selection show nfn_task_mask_defaults (whatever they are),
 * offer the three selections, and read back as those defaults. */
static void
test_mask_form_defaults (fixture *fx, gconstpointer data)
{
  nfn_task_panel_set_task (fx->panel, NFN_TASK_KIND_MASK);
  ut_present_and_wait (GTK_WINDOW (fx->window));
  save_screenshot (fx, "tasks-mask-form.png");
  NfnTaskOptions defaults;
  nfn_task_mask_defaults (&defaults);
  const char *selection = defaults.selection ? defaults.selection : nfn_task_mask_select_name (NFN_TASK_MASK_DEFAULT_SELECT);
  GtkSpinButton *io_bands = GTK_SPIN_BUTTON (find_row (fx->panel, "IO bands", NULL));
  GtkDropDown *select = GTK_DROP_DOWN (find_row (fx->panel, "Mask selection", NULL));
  g_assert_true (g_str_has_prefix (gtk_widget_get_tooltip_text (GTK_WIDGET (io_bands)), "--io-bands: "));
  g_assert_true (g_str_has_prefix (gtk_widget_get_tooltip_text (GTK_WIDGET (select)), "--selection: "));
  double lower, upper;
  gtk_spin_button_get_range (io_bands, &lower, &upper);
  g_assert_cmpfloat (lower, ==, 0);
  g_assert_cmpfloat (upper, ==, 32);
  for (NfnTaskMaskSelect how = NFN_TASK_MASK_SELECT_LAYER; how <= NFN_TASK_MASK_SELECT_SPREAD; how++)
    g_assert_cmpint (nfn_task_train_form_dropdown_index (select, nfn_task_mask_select_name (how)), ==, (int) how);
  g_assert_cmpuint (g_list_model_get_n_items (gtk_drop_down_get_model (select)), ==, 3);

  GtkStringObject *shown = gtk_drop_down_get_selected_item (select);
  g_test_message ("defaults: io_bands %d, selection %s; the form shows %d and %s", defaults.io_bands, selection,
                  gtk_spin_button_get_value_as_int (io_bands), gtk_string_object_get_string (shown));
  g_assert_cmpint (gtk_spin_button_get_value_as_int (io_bands), ==, defaults.io_bands);
  g_assert_cmpstr (gtk_string_object_get_string (shown), ==, selection);
  NfnTaskOptions o;
  nfn_task_panel_get_train_options (fx->panel, NFN_TASK_KIND_MASK, &o);
  g_assert_cmpint (o.io_bands, ==, defaults.io_bands);
  g_assert_cmpstr (o.selection, ==, selection);
  nfn_task_options_clear (&o);
  nfn_task_options_clear (&defaults);
}

/* HNP models have no IO encoding: its row greys out for hnp, and only for hnp. */
static void
test_mask_form_io_bands_sensitive (fixture *fx, gconstpointer data)
{
  nfn_task_panel_set_task (fx->panel, NFN_TASK_KIND_MASK);
  GtkWidget *label, *io_bands = find_row (fx->panel, "IO bands", &label);
  GtkDropDown *model = GTK_DROP_DOWN (find_row (fx->panel, "Model", NULL));
  const char *const models[] = { "hnp", "np", "hnp", "pointwise" };
  for (gsize k = 0; k < G_N_ELEMENTS (models); k++)
    {
      dropdown_choose (model, models[k]);
      gboolean expected = strcmp (models[k], "hnp") != 0;
      g_test_message ("model %s: IO bands %s", models[k], gtk_widget_is_sensitive (io_bands) ? "sensitive" : "greyed out");
      g_assert_cmpint (gtk_widget_is_sensitive (io_bands), ==, expected);
      g_assert_cmpint (gtk_widget_is_sensitive (label), ==, expected);
    }
}

static gboolean
is_check_labelled (GtkWidget *widget, const char *label)
{
  return GTK_IS_CHECK_BUTTON (widget) && g_strcmp0 (gtk_check_button_get_label (GTK_CHECK_BUTTON (widget)), label) == 0;
}

/* StatNN features join an NF encoder's pool: the genpred form's check greys out for stat and
 * spectral, and a greyed-out check does not reach the options even when ticked. */
static void
test_genpred_form_append_stats (fixture *fx, gconstpointer data)
{
  nfn_task_panel_set_task (fx->panel, NFN_TASK_KIND_GENPRED);
  GtkWidget *check = find_shown (GTK_WIDGET (fx->panel), is_check_labelled, "StatNN features in the head");
  g_assert_nonnull (check);
  g_assert_true (g_str_has_prefix (gtk_widget_get_tooltip_text (check), "--append-stats: "));
  gtk_check_button_set_active (GTK_CHECK_BUTTON (check), TRUE);
  GtkDropDown *model = GTK_DROP_DOWN (find_row (fx->panel, "Model", NULL));
  const char *const models[] = { "stat", "hnp", "spectral", "np" };
  for (gsize k = 0; k < G_N_ELEMENTS (models); k++)
    {
      dropdown_choose (model, models[k]);
      gboolean expected = strcmp (models[k], "hnp") == 0 || strcmp (models[k], "np") == 0;
      NfnTaskOptions o;
      nfn_task_panel_get_train_options (fx->panel, NFN_TASK_KIND_GENPRED, &o);
      g_test_message ("model %s: check %s, append_stats %d", models[k],
                      gtk_widget_is_sensitive (check) ? "sensitive" : "greyed out", o.append_stats);
      g_assert_cmpint (gtk_widget_is_sensitive (check), ==, expected);
      g_assert_cmpint (o.append_stats, ==, expected);
      nfn_task_options_clear (&o);
    }
}

typedef struct {
  NfnTaskPanel *panel;
  int busy_ticks, bf16_ticks;
} precision_watch;

static gboolean
watch_precision (gpointer data)
{
  precision_watch *w = data;
  if (nfn_task_panel_get_busy (w->panel))
    {
      w->busy_ticks++;
      w->bf16_ticks += nfn_get_precision () == NFN_PRECISION_BF16;
    }
  return G_SOURCE_CONTINUE;
}

/* The form's bf16 check reaches the run (its config says so), and the run's precision stays
 * on the worker's thread: the main loop, which draws the views, keeps fp32 all along. A CPU
 * without AVX512-BF16 gets the check greyed out. */
static void
test_classify_bf16 (fixture *fx, gconstpointer data)
{
  show_small_classify (fx);
  GtkWidget *check = find_shown (GTK_WIDGET (fx->panel), is_check_labelled, "bfloat16 matrix products");
  g_assert_nonnull (check);
  gtk_check_button_set_active (GTK_CHECK_BUTTON (check), TRUE);
  NfnTaskOptions o;
  nfn_task_panel_get_train_options (fx->panel, NFN_TASK_KIND_CLASSIFY, &o);
  gboolean bf16 = o.bf16;
  nfn_task_options_clear (&o);
  g_assert_cmpint (gtk_widget_is_sensitive (check), ==, nfn_bf16_supported ());
  g_assert_cmpint (bf16, ==, nfn_bf16_supported ());
  if (!nfn_bf16_supported ())
    {
      g_test_skip ("this CPU lacks AVX512-BF16: the check is greyed out");
      return;
    }
  precision_watch w = { fx->panel, 0, 0 };
  guint watcher = g_timeout_add (1, watch_precision, &w);
  run_panel (fx);
  g_source_remove (watcher);
  g_test_message ("main loop: %d turns during the run, %d of them in bf16", w.busy_ticks, w.bf16_ticks);
  g_assert_cmpint (w.busy_ticks, >, 0);
  g_assert_cmpint (w.bf16_ticks, ==, 0);

  g_autoptr (NfnStore) store = NULL;
  g_autoptr (NfnRun) run = panel_completed_run (fx, NFN_TASK_CLASSIFY, &store);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_assert_true (json_parser_load_from_data (parser, run->config_json, -1, NULL));
  JsonObject *config = json_node_get_object (json_parser_get_root (parser));
  g_assert_cmpstr (json_object_get_string_member (config, "precision"), ==, "bf16");
}

/* Spread and 2 IO bands chosen in the form's widgets reach the options, and a run from the form
 * stores them in its config. */
static void
test_mask_spread (fixture *fx, gconstpointer data)
{
  show_small_mask (fx);
  dropdown_choose (GTK_DROP_DOWN (find_row (fx->panel, "Mask selection", NULL)), "spread");
  gtk_spin_button_set_value (GTK_SPIN_BUTTON (find_row (fx->panel, "IO bands", NULL)), 2);
  NfnTaskOptions o;
  nfn_task_panel_get_train_options (fx->panel, NFN_TASK_KIND_MASK, &o);
  g_assert_cmpstr (o.selection, ==, "spread");
  g_assert_cmpint (o.io_bands, ==, 2);
  g_assert_cmpstr (o.model, ==, "np");
  nfn_task_options_clear (&o);
  run_panel (fx);

  g_autoptr (NfnStore) store = NULL;
  g_autoptr (NfnRun) run = panel_completed_run (fx, NFN_TASK_MASK, &store);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_assert_true (json_parser_load_from_data (parser, run->config_json, -1, NULL));
  JsonObject *config = json_node_get_object (json_parser_get_root (parser));
  JsonObject *model = json_object_get_object_member (config, "nfn_model");
  g_test_message ("run %" G_GINT64_FORMAT " config: selection %s, nfn_model.io_bands %" G_GINT64_FORMAT, run->id,
                  json_object_get_string_member (config, "selection"), json_object_get_int_member (model, "io_bands"));
  g_assert_cmpstr (json_object_get_string_member (config, "selection"), ==, "spread");
  g_assert_cmpint (json_object_get_int_member (model, "io_bands"), ==, 2);
}

static void
test_genpred_spectral (fixture *fx, gconstpointer data)
{
  NfnTaskOptions o;
  ttu_small_genpred (&o, cnn_zoo);
  o.split_seed = 5;
  nfn_task_panel_set_task (fx->panel, NFN_TASK_KIND_GENPRED);
  nfn_task_panel_set_train_options (fx->panel, NFN_TASK_KIND_GENPRED, &o);
  GtkWidget *epochs = find_by_tooltip (GTK_WIDGET (fx->panel), "--epochs");
  g_assert_nonnull (epochs);
  g_assert_true (gtk_widget_is_sensitive (epochs));
  g_free (o.model);
  o.model = g_strdup ("spectral");
  nfn_task_panel_set_train_options (fx->panel, NFN_TASK_KIND_GENPRED, &o);
  /* no epochs to set for a least-squares fit */
  g_assert_false (gtk_widget_is_sensitive (epochs));
  run_panel (fx);
  check_genpred_run (fx, "spectral", 0);
  nfn_task_options_clear (&o);
}

int
main (int argc, char **argv)
{
  gtk_test_init (&argc, &argv, NULL);
  g_autoptr (GError) error = NULL;
  tmp_dir = g_dir_make_tmp ("nfn-task-runs-XXXXXX", &error);
  g_assert_no_error (error);
  ttu_build_zoos (tmp_dir, &siren_zoo, &ticket_zoo);
  cnn_zoo = g_build_filename (tmp_dir, "cnn-zoo", NULL);
  ttu_build_cnn_zoo (cnn_zoo, NULL, UT_CNN_RUNS);
  g_test_add ("/task-runs/classify", fixture, NULL, fixture_setup, test_classify, fixture_teardown);
  g_test_add ("/task-runs/edit", fixture, NULL, fixture_setup, test_edit, fixture_teardown);
  g_test_add ("/task-runs/classify-bf16", fixture, NULL, fixture_setup, test_classify_bf16, fixture_teardown);
  g_test_add ("/task-runs/mask", fixture, NULL, fixture_setup, test_mask, fixture_teardown);
  g_test_add ("/task-runs/mask-form-defaults", fixture, NULL, fixture_setup, test_mask_form_defaults, fixture_teardown);
  g_test_add ("/task-runs/genpred-form-append-stats", fixture, NULL, fixture_setup, test_genpred_form_append_stats,
              fixture_teardown);
  g_test_add ("/task-runs/mask-form-io-bands-sensitive", fixture, NULL, fixture_setup, test_mask_form_io_bands_sensitive,
              fixture_teardown);
  g_test_add ("/task-runs/mask-spread", fixture, NULL, fixture_setup, test_mask_spread, fixture_teardown);
  g_test_add ("/task-runs/genpred", fixture, NULL, fixture_setup, test_genpred, fixture_teardown);
  g_test_add ("/task-runs/genpred-spectral", fixture, NULL, fixture_setup, test_genpred_spectral, fixture_teardown);
  int status = g_test_run ();
  ut_remove_tree (tmp_dir);
  g_free (tmp_dir);
  g_free (siren_zoo);
  g_free (ticket_zoo);
  g_free (cnn_zoo);
  return status;
}
