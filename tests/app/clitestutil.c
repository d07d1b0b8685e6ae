/* clitestutil.c — see clitestutil.h. */
#include "clitestutil.h"

#include <glib/gstdio.h>
#include <string.h>
#include <sys/wait.h>

#include "nfn_safetensors.h"

void
run_result_clear (run_result *r)
{
  g_free (r->out);
  g_free (r->err);
}

static run_result
run_nfn_valist (char **envp, const char *first, va_list ap)
{
  const char *cli = g_getenv ("NFN_CLI");
  g_assert_nonnull (cli);
  g_autoptr (GPtrArray) args = g_ptr_array_new ();
  g_ptr_array_add (args, (gpointer) cli);
  for (const char *a = first; a; a = va_arg (ap, const char *))
    g_ptr_array_add (args, (gpointer) a);
  g_ptr_array_add (args, NULL);
  run_result r = { 0 };
  g_autoptr (GError) error = NULL;
  int wait_status;
  g_assert_true (g_spawn_sync (NULL, (char **) args->pdata, envp, G_SPAWN_DEFAULT, NULL, NULL, &r.out, &r.err,
                               &wait_status, &error));
  g_assert_no_error (error);
  r.status = g_spawn_check_wait_status (wait_status, NULL) ? 0 : (WIFEXITED (wait_status) ? WEXITSTATUS (wait_status) : -1);
  return r;
}

run_result
run_nfn (const char *first, ...)
{
  va_list ap;
  va_start (ap, first);
  run_result r = run_nfn_valist (NULL, first, ap);
  va_end (ap);
  return r;
}

run_result
run_nfn_env (char **envp, const char *first, ...)
{
  va_list ap;
  va_start (ap, first);
  run_result r = run_nfn_valist (envp, first, ap);
  va_end (ap);
  return r;
}

JsonObject *
parse_object (JsonParser *parser, const char *text)
{
  g_autoptr (GError) error = NULL;
  g_assert_true (json_parser_load_from_data (parser, text, -1, &error));
  g_assert_no_error (error);
  return json_node_get_object (json_parser_get_root (parser));
}

void
assert_one_line_error (run_result *r, const char *needle)
{
  g_assert_cmpint (r->status, ==, 1);
  g_assert_nonnull (strstr (r->err, needle));
  g_assert_true (g_str_has_prefix (r->err, "nfn: "));
  const char *newline = strchr (r->err, '\n');
  g_assert_nonnull (newline);
  g_assert_cmpstr (newline + 1, ==, "");
}

void
ctu_remove_dir (const char *dir)
{
  GDir *handle = g_dir_open (dir, 0, NULL);
  for (const char *name; handle && (name = g_dir_read_name (handle));)
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);
      if (g_file_test (path, G_FILE_TEST_IS_DIR) && !g_file_test (path, G_FILE_TEST_IS_SYMLINK))
        ctu_remove_dir (path);
      else
        g_unlink (path);
    }
  if (handle)
    g_dir_close (handle);
  g_rmdir (dir);
}

void
assert_same_model_files (const char *a, const char *b)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NfnSafetensors) sa = nfn_safetensors_load (a, &error);
  g_assert_no_error (error);
  g_autoptr (NfnSafetensors) sb = nfn_safetensors_load (b, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (sa->tensors->len, ==, sb->tensors->len);
  for (guint k = 0; k < sa->tensors->len; k++)
    {
      NfnTensor *ta = g_ptr_array_index (sa->tensors, k), *tb = nfn_safetensors_find (sb, ta->name);
      g_assert_nonnull (tb);
      g_assert_cmpuint (ta->numel, ==, tb->numel);
      if (memcmp (ta->data, tb->data, ta->numel * sizeof (float)) != 0)
        g_error ("tensor %s differs between the uninterrupted and the resumed run", ta->name);
    }
}
