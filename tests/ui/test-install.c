/* test-install.c — desktop integration as `meson install` lays it out: the build is installed
 * into a scratch DESTDIR, and there the desktop entry, the AppStream metainfo (validated by
 * appstreamcli, offline), the scalable and symbolic icons and the binary must be, each
 * pointing at the others by the same id. */
#include <glib/gstdio.h>
#include <gtk/gtk.h>
#include <string.h>

#include "uitestutil.h"

/* The one file under `root` whose path ends in `suffix` (prefixes such as /usr/local vary). */
static char *
find_installed (const char *root, const char *suffix)
{
  GDir *dir = g_dir_open (root, 0, NULL);
  char *found = NULL;
  for (const char *name; dir && !found && (name = g_dir_read_name (dir));)
    {
      g_autofree char *child = g_build_filename (root, name, NULL);
      if (g_file_test (child, G_FILE_TEST_IS_DIR))
        found = find_installed (child, suffix);
      else if (g_str_has_suffix (child, suffix))
        found = g_strdup (child);
    }
  if (dir)
    g_dir_close (dir);
  return found;
}

static void
run (const char *const *argv, const char *what)
{
  g_autofree char *out = NULL, *err = NULL;
  int status;
  g_autoptr (GError) error = NULL;
  g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err, &status, &error));
  g_assert_no_error (error);
  g_test_message ("%s: %s%s", what, out, err);
  g_assert_true (g_spawn_check_wait_status (status, NULL));
}

static void
test_install (void)
{
  const char *meson = g_getenv ("NFN_MESON"), *build = g_getenv ("NFN_BUILD_ROOT");
  const char *appstreamcli = g_getenv ("NFN_APPSTREAMCLI");
  g_assert_nonnull (meson);
  g_assert_nonnull (build);
  g_assert_nonnull (appstreamcli);
  g_autoptr (GError) error = NULL;
  g_autofree char *destdir = g_dir_make_tmp ("nfn-install-XXXXXX", &error);
  g_assert_no_error (error);

  const char *install[] = { meson, "install", "--no-rebuild", "--quiet", "-C", build, "--destdir", destdir, NULL };
  run (install, "meson install");

  const char *suffixes[] = { "/bin/nfn-workbench", "/share/applications/org.nfn.Workbench.desktop",
                             "/share/metainfo/org.nfn.Workbench.metainfo.xml",
                             "/share/icons/hicolor/scalable/apps/org.nfn.Workbench.svg",
                             "/share/icons/hicolor/symbolic/apps/org.nfn.Workbench-symbolic.svg" };
  char *paths[G_N_ELEMENTS (suffixes)];
  for (guint k = 0; k < G_N_ELEMENTS (suffixes); k++)
    {
      paths[k] = find_installed (destdir, suffixes[k]);
      g_test_message ("%s → %s", suffixes[k], paths[k] ? paths[k] : "(missing)");
      g_assert_nonnull (paths[k]);
    }
  g_assert_true (g_file_test (paths[0], G_FILE_TEST_IS_EXECUTABLE));

  /* the metainfo passes AppStream's own validator and names the desktop entry and the binary */
  const char *validate[] = { appstreamcli, "validate", "--no-net", paths[2], NULL };
  run (validate, "appstreamcli validate");
  g_autofree char *metainfo = NULL;
  g_assert_true (g_file_get_contents (paths[2], &metainfo, NULL, NULL));
  g_assert_nonnull (strstr (metainfo, "<id>org.nfn.Workbench</id>"));
  g_assert_nonnull (strstr (metainfo, "<launchable type=\"desktop-id\">org.nfn.Workbench.desktop</launchable>"));
  g_assert_nonnull (strstr (metainfo, "<binary>nfn-workbench</binary>"));

  /* the desktop entry runs the installed binary's name and shows the installed icon */
  g_autoptr (GKeyFile) entry = g_key_file_new ();
  g_assert_true (g_key_file_load_from_file (entry, paths[1], G_KEY_FILE_NONE, &error));
  g_assert_no_error (error);
  g_autofree char *exec = g_key_file_get_string (entry, G_KEY_FILE_DESKTOP_GROUP, G_KEY_FILE_DESKTOP_KEY_EXEC, NULL);
  g_autofree char *icon = g_key_file_get_string (entry, G_KEY_FILE_DESKTOP_GROUP, G_KEY_FILE_DESKTOP_KEY_ICON, NULL);
  g_autofree char *binary = g_path_get_basename (paths[0]);
  g_assert_true (g_str_has_prefix (exec, binary));
  g_assert_cmpstr (icon, ==, "org.nfn.Workbench");
  for (guint k = 3; k < G_N_ELEMENTS (suffixes); k++)
    {
      g_autoptr (GdkTexture) texture = gdk_texture_new_from_filename (paths[k], &error);
      g_assert_no_error (error);
      g_assert_cmpint (gdk_texture_get_width (texture), ==, gdk_texture_get_height (texture));
    }
  for (guint k = 0; k < G_N_ELEMENTS (suffixes); k++)
    g_free (paths[k]);
  ut_remove_tree (destdir);
}

int
main (int argc, char **argv)
{
  gtk_test_init (&argc, &argv, NULL);
  g_test_add_func ("/ui/install/desktop-integration", test_install);
  return g_test_run ();
}
