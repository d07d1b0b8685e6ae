/* nfn_store.c — the experiment store on SQLite's C API (DESIGN.md §4).
 *
 * Crash safety rests on three things: WAL mode (a writer killed mid-transaction leaves the
 * database as of its last COMMIT, and readers never block on it), one transaction per logical
 * write (a step's metrics, a batch of zoo networks), and the writer's host and pid in every
 * running run, so the next process to open the store can tell that the writer is gone.
 * synchronous=NORMAL in WAL mode may lose the last commits on power loss, never on a process
 * crash, which is the failure a long fit meets.
 */
#include "nfn-config.h"
#include "nfn_code_version.h"
#include "nfn_store.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <sqlite3.h>

#define STORE_SCHEMA_VERSION 2
/* PRAGMA application_id: "nfnw", so another program's SQLite file is not taken for a store. */
#define STORE_APPLICATION_ID 0x6e666e77

struct _NfnStore {
  sqlite3 *db;
  char *path;
  gboolean read_only;
};

static const char *const store_run_status_names[] = {
  [NFN_RUN_RUNNING] = "running",
  [NFN_RUN_COMPLETED] = "completed",
  [NFN_RUN_FAILED] = "failed",
  [NFN_RUN_CANCELLED] = "cancelled",
  [NFN_RUN_INTERRUPTED] = "interrupted",
};

const char *
nfn_run_status_name (NfnRunStatus status)
{
  g_return_val_if_fail ((unsigned) status < G_N_ELEMENTS (store_run_status_names), "?");
  return store_run_status_names[status];
}

static NfnRunStatus
store_run_status_from_name (const char *name)
{
  for (unsigned s = 0; s < G_N_ELEMENTS (store_run_status_names); s++)
    if (g_strcmp0 (name, store_run_status_names[s]) == 0)
      return (NfnRunStatus) s;
  /* the CHECK constraint admits nothing else */
  g_assert_not_reached ();
}

int
nfn_store_schema_version (void)
{
  return STORE_SCHEMA_VERSION;
}

const char *
nfn_store_code_version (void)
{
  return NFN_VERSION " (" NFN_CODE_VERSION_GIT ")";
}

char *
nfn_store_default_path (void)
{
  g_autofree char *dir = g_build_filename (g_get_user_data_dir (), "nfn-workbench", NULL);
  /* a failure here shows up, with its cause, when the file is opened */
  g_mkdir_with_parents (dir, 0700);
  return g_build_filename (dir, "experiments.sqlite", NULL);
}

/* ---- errors ---- */

/* One line "PATH: fault" for an SQLite result code, worded for the person at the terminal. */
static void
store_set_error (const char *path, sqlite3 *db, int rc, GError **error)
{
  const char *detail = db ? sqlite3_errmsg (db) : sqlite3_errstr (rc);
  switch (rc & 0xff)
    {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      g_set_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_IO, "%s: database is locked by another process", path);
      break;
    case SQLITE_READONLY:
      g_set_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_IO, "%s: database is read-only", path);
      break;
    case SQLITE_NOTADB:
      g_set_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_FORMAT,
                   "%s: not an nfn experiment store (file is not a database)", path);
      break;
    case SQLITE_CORRUPT:
      g_set_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_FORMAT, "%s: database is corrupt (%s)", path, detail);
      break;
    case SQLITE_FULL:
      g_set_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_IO, "%s: disk is full", path);
      break;
    case SQLITE_CANTOPEN:
      {
        int system_errno = db ? sqlite3_system_errno (db) : 0;
        g_set_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_IO, "%s: cannot open the database (%s)", path,
                     system_errno ? g_strerror (system_errno) : detail);
        break;
      }
    default:
      g_set_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_IO, "%s: %s", path, detail);
      break;
    }
}

static gboolean
store_fail (NfnStore *store, int rc, GError **error)
{
  store_set_error (store->path, store->db, rc, error);
  return FALSE;
}

static gboolean
store_exec (NfnStore *store, const char *sql, GError **error)
{
  int rc = sqlite3_exec (store->db, sql, NULL, NULL, NULL);
  return rc == SQLITE_OK ? TRUE : store_fail (store, rc, error);
}

static sqlite3_stmt *
store_prepare (NfnStore *store, const char *sql, GError **error)
{
  sqlite3_stmt *stmt = NULL;
  int rc = sqlite3_prepare_v2 (store->db, sql, -1, &stmt, NULL);
  if (rc != SQLITE_OK)
    {
      store_fail (store, rc, error);
      return NULL;
    }
  return stmt;
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (sqlite3_stmt, sqlite3_finalize)

/* BEGIN IMMEDIATE takes the write lock up front, so a busy database fails here, after the busy
 * timeout, and never half-way through a transaction that would then have to be retried. */
static gboolean
store_begin (NfnStore *store, GError **error)
{
  return store_exec (store, "BEGIN IMMEDIATE", error);
}

static void
store_rollback (NfnStore *store)
{
  if (!sqlite3_get_autocommit (store->db))
    sqlite3_exec (store->db, "ROLLBACK", NULL, NULL, NULL);
}

static gboolean
store_commit (NfnStore *store, GError **error)
{
  if (store_exec (store, "COMMIT", error))
    return TRUE;
  store_rollback (store);
  return FALSE;
}

/* Ends a transaction that `ok` says succeeded or failed; returns whether it committed. */
static gboolean
store_end (NfnStore *store, gboolean ok, GError **error)
{
  if (!ok)
    {
      store_rollback (store);
      return FALSE;
    }
  return store_commit (store, error);
}

/* Steps a statement that returns no rows. */
static gboolean
store_step_done (NfnStore *store, sqlite3_stmt *stmt, GError **error)
{
  int rc = sqlite3_step (stmt);
  return rc == SQLITE_DONE ? TRUE : store_fail (store, rc, error);
}

/* One integer from a single-row query (PRAGMAs, COUNTs). */
static gboolean
store_query_int (NfnStore *store, const char *sql, gint64 *value, GError **error)
{
  g_autoptr (sqlite3_stmt) stmt = store_prepare (store, sql, error);
  if (!stmt)
    return FALSE;
  int rc = sqlite3_step (stmt);
  if (rc != SQLITE_ROW)
    return store_fail (store, rc, error);
  *value = sqlite3_column_int64 (stmt, 0);
  return TRUE;
}

static char *
store_column_text (sqlite3_stmt *stmt, int column)
{
  const unsigned char *text = sqlite3_column_text (stmt, column);
  return g_strdup (text ? (const char *) text : "");
}

/* Checks that `json` is a JSON object, so `runs compare` can flatten every config and summary. */
static gboolean
store_check_json_object (NfnStore *store, const char *json, const char *what, GError **error)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) parse_error = NULL;
  if (!json_parser_load_from_data (parser, json, -1, &parse_error))
    {
      g_set_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_FORMAT, "%s: %s is not valid JSON (%s)", store->path, what,
                   parse_error->message);
      return FALSE;
    }
  JsonNode *root = json_parser_get_root (parser);
  if (!root || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_FORMAT, "%s: %s is not a JSON object", store->path, what);
      return FALSE;
    }
  return TRUE;
}

/* ---- schema and migrations ---- */

static const char store_schema_1[] =
  "CREATE TABLE experiments ("
  "  id INTEGER PRIMARY KEY,"
  "  name TEXT NOT NULL UNIQUE,"
  "  created_us INTEGER NOT NULL);"
  "CREATE TABLE runs ("
  "  id INTEGER PRIMARY KEY,"
  "  experiment_id INTEGER NOT NULL REFERENCES experiments (id) ON DELETE CASCADE,"
  "  task TEXT NOT NULL,"
  "  model TEXT NOT NULL DEFAULT '',"
  "  config_json TEXT NOT NULL DEFAULT '{}',"
  "  seed INTEGER NOT NULL DEFAULT 0,"
  "  status TEXT NOT NULL CHECK (status IN ('running', 'completed', 'failed', 'cancelled', 'interrupted')),"
  "  started_us INTEGER NOT NULL,"
  "  finished_us INTEGER NOT NULL DEFAULT 0,"
  "  code_version TEXT NOT NULL DEFAULT '',"
  "  host TEXT NOT NULL DEFAULT '',"
  "  pid INTEGER NOT NULL DEFAULT 0,"
  "  summary_json TEXT NOT NULL DEFAULT '{}');"
  "CREATE INDEX runs_by_experiment ON runs (experiment_id);"
  "CREATE INDEX runs_by_status ON runs (status);"
  /* WITHOUT ROWID: the primary key is the order a series is read in */
  "CREATE TABLE metrics ("
  "  run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,"
  "  step INTEGER NOT NULL,"
  "  name TEXT NOT NULL,"
  "  value REAL,"
  "  PRIMARY KEY (run_id, name, step)) WITHOUT ROWID;"
  "CREATE TABLE artifacts ("
  "  id INTEGER PRIMARY KEY,"
  "  run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,"
  "  kind TEXT NOT NULL,"
  "  path TEXT NOT NULL,"
  "  description TEXT NOT NULL DEFAULT '',"
  "  created_us INTEGER NOT NULL);"
  "CREATE INDEX artifacts_by_run ON artifacts (run_id);"
  "CREATE TABLE zoos ("
  "  id INTEGER PRIMARY KEY,"
  "  name TEXT NOT NULL UNIQUE,"
  "  path TEXT NOT NULL UNIQUE,"
  "  arch_json TEXT NOT NULL DEFAULT '{}',"
  "  dataset TEXT NOT NULL DEFAULT '',"
  "  split TEXT NOT NULL DEFAULT '',"
  "  created_us INTEGER NOT NULL);"
  "CREATE TABLE zoo_networks ("
  "  zoo_id INTEGER NOT NULL REFERENCES zoos (id) ON DELETE CASCADE,"
  "  idx INTEGER NOT NULL,"
  "  source_index INTEGER NOT NULL,"
  "  label INTEGER NOT NULL,"
  "  quality REAL,"
  "  shard TEXT NOT NULL,"
  "  PRIMARY KEY (zoo_id, idx)) WITHOUT ROWID;";

static gboolean
store_migrate_0_to_1 (NfnStore *store, GError **error)
{
  return store_exec (store, store_schema_1, error);
}

/* store_migrations[v] takes a store from user_version v to v + 1, inside the caller's
 * transaction. A new schema version appends a function here. */
/* Version 2: a run may be given a name (renaming in the GUI); "" until then. */
static gboolean
store_migrate_1_to_2 (NfnStore *store, GError **error)
{
  return store_exec (store, "ALTER TABLE runs ADD COLUMN name TEXT NOT NULL DEFAULT ''", error);
}

static gboolean (*const store_migrations[]) (NfnStore *store, GError **error) = {
  store_migrate_0_to_1,
  store_migrate_1_to_2,
};
G_STATIC_ASSERT (G_N_ELEMENTS (store_migrations) == STORE_SCHEMA_VERSION);

static gboolean
store_refuse_newer (NfnStore *store, gint64 version, GError **error)
{
  g_set_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_UNSUPPORTED,
               "%s: written by a newer nfn (schema %" G_GINT64_FORMAT ", this build reads up to %d); upgrade nfn-workbench",
               store->path, version, STORE_SCHEMA_VERSION);
  return FALSE;
}

static gboolean
store_migrate (NfnStore *store, GError **error)
{
  if (!store_begin (store, error))
    return FALSE;
  /* another process may have migrated between our first look and the write lock */
  gint64 version;
  gboolean ok = store_query_int (store, "PRAGMA user_version", &version, error);
  if (ok && version > STORE_SCHEMA_VERSION)
    ok = store_refuse_newer (store, version, error);
  for (gint64 v = version; ok && v < STORE_SCHEMA_VERSION; v++)
    ok = store_migrations[v](store, error);
  if (ok && version < STORE_SCHEMA_VERSION)
    {
      g_autofree char *set = g_strdup_printf ("PRAGMA user_version = %d; PRAGMA application_id = %d", STORE_SCHEMA_VERSION,
                                              STORE_APPLICATION_ID);
      ok = store_exec (store, set, error);
    }
  return store_end (store, ok, error);
}

/* ---- dead writers ---- */

/* A run is the writer's as long as its process lives; a zombie still counts as alive, so a
 * parent must reap a killed child before it looks. A recycled pid keeps a run "running" (a
 * false negative, never a false "interrupted"). */
static gboolean
store_writer_is_dead (const char *host, gint64 pid)
{
  if (g_strcmp0 (host, g_get_host_name ()) != 0)
    return FALSE; /* another machine's process: we cannot tell */
  if (pid <= 0 || pid > G_MAXINT)
    return TRUE;
  return kill ((pid_t) pid, 0) == -1 && errno == ESRCH;
}

static gboolean
store_mark_interrupted (NfnStore *store, GError **error)
{
  g_autoptr (GArray) dead = g_array_new (FALSE, FALSE, sizeof (gint64));
  {
    g_autoptr (sqlite3_stmt) stmt = store_prepare (store, "SELECT id, pid FROM runs WHERE status = 'running' AND host = ?", error);
    if (!stmt)
      return FALSE;
    sqlite3_bind_text (stmt, 1, g_get_host_name (), -1, SQLITE_STATIC);
    int rc;
    while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
      if (store_writer_is_dead (g_get_host_name (), sqlite3_column_int64 (stmt, 1)))
        {
          gint64 id = sqlite3_column_int64 (stmt, 0);
          g_array_append_val (dead, id);
        }
    if (rc != SQLITE_DONE)
      return store_fail (store, rc, error);
  }
  /* only take the write lock when there is something to write, so opening never waits on a
   * live writer for nothing */
  if (dead->len == 0)
    return TRUE;
  if (!store_begin (store, error))
    return FALSE;
  g_autoptr (sqlite3_stmt) update
    = store_prepare (store, "UPDATE runs SET status = 'interrupted' WHERE id = ? AND status = 'running'", error);
  gboolean ok = update != NULL;
  for (guint k = 0; ok && k < dead->len; k++)
    {
      sqlite3_reset (update);
      sqlite3_bind_int64 (update, 1, g_array_index (dead, gint64, k));
      ok = store_step_done (store, update, error);
    }
  return store_end (store, ok, error);
}

/* ---- open and close ---- */

/* Reads what the file claims to be, without writing: refuses newer schemas and foreign files. */
static gboolean
store_check_identity (NfnStore *store, gint64 *version, GError **error)
{
  gint64 application_id, tables;
  if (!store_query_int (store, "PRAGMA user_version", version, error)
      || !store_query_int (store, "PRAGMA application_id", &application_id, error)
      || !store_query_int (store, "SELECT count(*) FROM sqlite_master", &tables, error))
    return FALSE;
  if (*version > STORE_SCHEMA_VERSION)
    return store_refuse_newer (store, *version, error);
  if ((*version == 0 && tables > 0) || (*version > 0 && application_id != STORE_APPLICATION_ID))
    {
      g_set_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_FORMAT,
                   "%s: not an nfn experiment store (a SQLite database of another program)", store->path);
      return FALSE;
    }
  if (store->read_only && *version < STORE_SCHEMA_VERSION)
    {
      g_set_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_FORMAT,
                   "%s: store has schema %" G_GINT64_FORMAT " (this build reads %d); open it once for writing to upgrade",
                   store->path, *version, STORE_SCHEMA_VERSION);
      return FALSE;
    }
  return TRUE;
}

NfnStore *
nfn_store_open (const char *path, gboolean read_only, GError **error)
{
  /* "" would be a private temporary database: never what a caller meant */
  g_return_val_if_fail (path != NULL && path[0] != '\0', NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  NfnStore *store = g_new0 (NfnStore, 1);
  store->path = g_strdup (path);
  store->read_only = read_only;
  int flags = read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
  int rc = sqlite3_open_v2 (path, &store->db, flags, NULL);
  if (rc != SQLITE_OK)
    {
      store_fail (store, rc, error);
      nfn_store_close (store);
      return NULL;
    }
  sqlite3_extended_result_codes (store->db, 1);
  sqlite3_busy_timeout (store->db, NFN_STORE_BUSY_TIMEOUT_MS);

  gint64 version;
  gboolean ok = store_exec (store, "PRAGMA foreign_keys = ON", error) && store_check_identity (store, &version, error);
  if (ok && !read_only)
    {
      /* journal_mode writes the file header: only after the identity check, so a newer or
       * foreign file is left byte for byte as it was */
      ok = store_exec (store, "PRAGMA journal_mode = WAL", error) && store_exec (store, "PRAGMA synchronous = NORMAL", error)
           && (version == STORE_SCHEMA_VERSION || store_migrate (store, error)) && store_mark_interrupted (store, error);
    }
  if (!ok)
    {
      nfn_store_close (store);
      return NULL;
    }
  return store;
}

void
nfn_store_close (NfnStore *store)
{
  if (!store)
    return;
  /* close_v2: a statement leaked by a bug must not keep the file open and locked */
  sqlite3_close_v2 (store->db);
  g_free (store->path);
  g_free (store);
}

const char *
nfn_store_get_path (NfnStore *store)
{
  g_return_val_if_fail (store != NULL, NULL);
  return store->path;
}

/* ---- runs ---- */

void
nfn_run_free (NfnRun *run)
{
  if (!run)
    return;
  g_free (run->name);
  g_free (run->experiment);
  g_free (run->task);
  g_free (run->model);
  g_free (run->config_json);
  g_free (run->code_version);
  g_free (run->host);
  g_free (run->summary_json);
  g_free (run);
}

/* Returns the experiment's id, creating it; inside the caller's transaction. */
static gint64
store_experiment_id (NfnStore *store, const char *name, GError **error)
{
  g_autoptr (sqlite3_stmt) insert
    = store_prepare (store, "INSERT OR IGNORE INTO experiments (name, created_us) VALUES (?, ?)", error);
  if (!insert)
    return 0;
  sqlite3_bind_text (insert, 1, name, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (insert, 2, g_get_real_time ());
  if (!store_step_done (store, insert, error))
    return 0;
  g_autoptr (sqlite3_stmt) select = store_prepare (store, "SELECT id FROM experiments WHERE name = ?", error);
  if (!select)
    return 0;
  sqlite3_bind_text (select, 1, name, -1, SQLITE_STATIC);
  int rc = sqlite3_step (select);
  if (rc != SQLITE_ROW)
    {
      store_fail (store, rc, error);
      return 0;
    }
  return sqlite3_column_int64 (select, 0);
}

gint64
nfn_store_run_begin (NfnStore *store, const char *experiment, const char *task, const char *model,
                     const char *config_json, guint64 seed, GError **error)
{
  g_return_val_if_fail (store != NULL, 0);
  g_return_val_if_fail (task != NULL, 0);
  if (!config_json)
    config_json = "{}";
  if (!store_check_json_object (store, config_json, "run config", error) || !store_begin (store, error))
    return 0;
  gint64 experiment_id = store_experiment_id (store, experiment ? experiment : "default", error);
  gint64 run = 0;
  if (experiment_id > 0)
    {
      g_autoptr (sqlite3_stmt) stmt = store_prepare (store,
                                                     "INSERT INTO runs (experiment_id, task, model, config_json, seed, status,"
                                                     " started_us, code_version, host, pid) VALUES (?, ?, ?, ?, ?, 'running', ?, ?, ?, ?)",
                                                     error);
      if (stmt)
        {
          sqlite3_bind_int64 (stmt, 1, experiment_id);
          sqlite3_bind_text (stmt, 2, task, -1, SQLITE_STATIC);
          sqlite3_bind_text (stmt, 3, model ? model : "", -1, SQLITE_STATIC);
          sqlite3_bind_text (stmt, 4, config_json, -1, SQLITE_STATIC);
          /* two's complement: a seed above 2^63 reads back as the same 64 bits */
          sqlite3_bind_int64 (stmt, 5, (sqlite3_int64) seed);
          sqlite3_bind_int64 (stmt, 6, g_get_real_time ());
          sqlite3_bind_text (stmt, 7, nfn_store_code_version (), -1, SQLITE_STATIC);
          sqlite3_bind_text (stmt, 8, g_get_host_name (), -1, SQLITE_STATIC);
          sqlite3_bind_int64 (stmt, 9, getpid ());
          if (store_step_done (store, stmt, error))
            run = sqlite3_last_insert_rowid (store->db);
        }
    }
  return store_end (store, run > 0, error) ? run : 0;
}

static gboolean
store_no_run (NfnStore *store, gint64 run, GError **error)
{
  g_set_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_NOT_FOUND, "%s: no run %" G_GINT64_FORMAT, store->path, run);
  return FALSE;
}

/* Runs an UPDATE of one run in its own transaction: ?1 the run id, ?2 `text`, ?3 `number` (when
 * the SQL names it). No row changed means no such run. */
static gboolean
store_update_run (NfnStore *store, gint64 run, const char *sql, const char *text, gint64 number, GError **error)
{
  if (!store_begin (store, error))
    return FALSE;
  g_autoptr (sqlite3_stmt) stmt = store_prepare (store, sql, error);
  gboolean ok = stmt != NULL;
  if (ok)
    {
      sqlite3_bind_int64 (stmt, 1, run);
      if (text)
        sqlite3_bind_text (stmt, 2, text, -1, SQLITE_STATIC);
      if (sqlite3_bind_parameter_count (stmt) >= 3)
        sqlite3_bind_int64 (stmt, 3, number);
      ok = store_step_done (store, stmt, error) && (sqlite3_changes (store->db) == 1 || store_no_run (store, run, error));
    }
  return store_end (store, ok, error);
}

gboolean
nfn_store_run_log (NfnStore *store, gint64 run, gint64 step, int n, const char *const *names, const double *values,
                   GError **error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  g_return_val_if_fail (n >= 0 && (n == 0 || (names && values)), FALSE);
  if (!store_begin (store, error))
    return FALSE;
  /* REPLACE: a resumed run may log a step again */
  g_autoptr (sqlite3_stmt) stmt
    = store_prepare (store, "INSERT OR REPLACE INTO metrics (run_id, step, name, value) VALUES (?, ?, ?, ?)", error);
  gboolean ok = stmt != NULL;
  for (int k = 0; ok && k < n; k++)
    {
      sqlite3_reset (stmt);
      sqlite3_bind_int64 (stmt, 1, run);
      sqlite3_bind_int64 (stmt, 2, step);
      sqlite3_bind_text (stmt, 3, names[k], -1, SQLITE_STATIC);
      /* SQLite would store NaN as NULL anyway; say so */
      if (isnan (values[k]))
        sqlite3_bind_null (stmt, 4);
      else
        sqlite3_bind_double (stmt, 4, values[k]);
      int rc = sqlite3_step (stmt);
      if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
        ok = store_no_run (store, run, error);
      else if (rc != SQLITE_DONE)
        ok = store_fail (store, rc, error);
    }
  return store_end (store, ok, error);
}

gboolean
nfn_store_run_set_summary (NfnStore *store, gint64 run, const char *summary_json, GError **error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  g_return_val_if_fail (summary_json != NULL, FALSE);
  return store_check_json_object (store, summary_json, "run summary", error)
         && store_update_run (store, run, "UPDATE runs SET summary_json = ?2 WHERE id = ?1", summary_json, 0, error);
}

gboolean
nfn_store_run_add_artifact (NfnStore *store, gint64 run, const char *kind, const char *path, const char *description,
                            GError **error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  g_return_val_if_fail (kind != NULL && path != NULL, FALSE);
  if (!store_begin (store, error))
    return FALSE;
  g_autoptr (sqlite3_stmt) stmt
    = store_prepare (store, "INSERT INTO artifacts (run_id, kind, path, description, created_us) VALUES (?, ?, ?, ?, ?)", error);
  gboolean ok = stmt != NULL;
  if (ok)
    {
      sqlite3_bind_int64 (stmt, 1, run);
      sqlite3_bind_text (stmt, 2, kind, -1, SQLITE_STATIC);
      sqlite3_bind_text (stmt, 3, path, -1, SQLITE_STATIC);
      sqlite3_bind_text (stmt, 4, description ? description : "", -1, SQLITE_STATIC);
      sqlite3_bind_int64 (stmt, 5, g_get_real_time ());
      int rc = sqlite3_step (stmt);
      if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
        ok = store_no_run (store, run, error);
      else if (rc != SQLITE_DONE)
        ok = store_fail (store, rc, error);
    }
  return store_end (store, ok, error);
}

gboolean
nfn_store_run_resume (NfnStore *store, gint64 run, GError **error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  return store_update_run (store, run,
                           "UPDATE runs SET status = 'running', finished_us = 0, host = ?2, pid = ?3 WHERE id = ?1",
                           g_get_host_name (), getpid (), error);
}

gboolean
nfn_store_run_finish (NfnStore *store, gint64 run, NfnRunStatus status, GError **error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  g_return_val_if_fail (status == NFN_RUN_COMPLETED || status == NFN_RUN_FAILED || status == NFN_RUN_CANCELLED, FALSE);
  return store_update_run (store, run, "UPDATE runs SET status = ?2, finished_us = ?3 WHERE id = ?1",
                           nfn_run_status_name (status), g_get_real_time (), error);
}

gboolean
nfn_store_run_rename (NfnStore *store, gint64 run, const char *name, GError **error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  g_return_val_if_fail (name != NULL && g_utf8_validate (name, -1, NULL), FALSE);
  g_autofree char *trimmed = g_strstrip (g_strdup (name));
  return store_update_run (store, run, "UPDATE runs SET name = ?2 WHERE id = ?1", trimmed, 0, error);
}

gboolean
nfn_store_run_delete (NfnStore *store, gint64 run, GError **error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  if (!store_begin (store, error))
    return FALSE;
  gboolean ok = TRUE;
  {
    /* inside the write transaction, so the writer cannot start logging between look and delete */
    g_autoptr (sqlite3_stmt) look = store_prepare (store, "SELECT status, host, pid FROM runs WHERE id = ?", error);
    ok = look != NULL;
    if (ok)
      {
        sqlite3_bind_int64 (look, 1, run);
        int rc = sqlite3_step (look);
        if (rc == SQLITE_DONE)
          ok = store_no_run (store, run, error);
        else if (rc != SQLITE_ROW)
          ok = store_fail (store, rc, error);
        else if (g_strcmp0 ((const char *) sqlite3_column_text (look, 0), "running") == 0
                 && !store_writer_is_dead ((const char *) sqlite3_column_text (look, 1), sqlite3_column_int64 (look, 2)))
          {
            g_set_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_UNSUPPORTED,
                         "%s: run %" G_GINT64_FORMAT " is still running (pid %" G_GINT64_FORMAT " on %s); cancel it first",
                         store->path, run, (gint64) sqlite3_column_int64 (look, 2), (const char *) sqlite3_column_text (look, 1));
            ok = FALSE;
          }
      }
  }
  if (ok)
    {
      /* metrics and artifacts go with it: ON DELETE CASCADE */
      g_autoptr (sqlite3_stmt) stmt = store_prepare (store, "DELETE FROM runs WHERE id = ?", error);
      ok = stmt != NULL;
      if (ok)
        {
          sqlite3_bind_int64 (stmt, 1, run);
          ok = store_step_done (store, stmt, error);
        }
    }
  return store_end (store, ok, error);
}

#define STORE_RUN_COLUMNS \
  "SELECT r.id, e.name, r.task, r.model, r.config_json, r.seed, r.status, r.started_us, r.finished_us," \
  " r.code_version, r.host, r.pid, r.summary_json, r.name FROM runs r JOIN experiments e ON e.id = r.experiment_id"

static NfnRun *
store_run_from_row (sqlite3_stmt *stmt)
{
  NfnRun *run = g_new0 (NfnRun, 1);
  run->id = sqlite3_column_int64 (stmt, 0);
  run->experiment = store_column_text (stmt, 1);
  run->task = store_column_text (stmt, 2);
  run->model = store_column_text (stmt, 3);
  run->config_json = store_column_text (stmt, 4);
  run->seed = (guint64) sqlite3_column_int64 (stmt, 5);
  run->status = store_run_status_from_name ((const char *) sqlite3_column_text (stmt, 6));
  run->started_us = sqlite3_column_int64 (stmt, 7);
  run->finished_us = sqlite3_column_int64 (stmt, 8);
  run->code_version = store_column_text (stmt, 9);
  run->host = store_column_text (stmt, 10);
  run->pid = sqlite3_column_int64 (stmt, 11);
  run->summary_json = store_column_text (stmt, 12);
  run->name = store_column_text (stmt, 13);
  /* what a read-only viewer (which may not mark it) must still show truthfully */
  if (run->status == NFN_RUN_RUNNING && store_writer_is_dead (run->host, run->pid))
    run->status = NFN_RUN_INTERRUPTED;
  return run;
}

GPtrArray *
nfn_store_list_runs (NfnStore *store, const char *task_filter, GError **error)
{
  g_return_val_if_fail (store != NULL, NULL);
  g_autoptr (sqlite3_stmt) stmt
    = store_prepare (store, STORE_RUN_COLUMNS " WHERE ?1 IS NULL OR r.task = ?1 ORDER BY r.started_us DESC, r.id DESC", error);
  if (!stmt)
    return NULL;
  if (task_filter)
    sqlite3_bind_text (stmt, 1, task_filter, -1, SQLITE_STATIC);
  g_autoptr (GPtrArray) runs = g_ptr_array_new_with_free_func ((GDestroyNotify) nfn_run_free);
  int rc;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    g_ptr_array_add (runs, store_run_from_row (stmt));
  if (rc != SQLITE_DONE)
    {
      store_fail (store, rc, error);
      return NULL;
    }
  return g_steal_pointer (&runs);
}

NfnRun *
nfn_store_get_run (NfnStore *store, gint64 run, GError **error)
{
  g_return_val_if_fail (store != NULL, NULL);
  g_autoptr (sqlite3_stmt) stmt = store_prepare (store, STORE_RUN_COLUMNS " WHERE r.id = ?", error);
  if (!stmt)
    return NULL;
  sqlite3_bind_int64 (stmt, 1, run);
  int rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    return store_run_from_row (stmt);
  if (rc == SQLITE_DONE)
    store_no_run (store, run, error);
  else
    store_fail (store, rc, error);
  return NULL;
}

GPtrArray *
nfn_store_run_metric_names (NfnStore *store, gint64 run, GError **error)
{
  g_return_val_if_fail (store != NULL, NULL);
  g_autoptr (sqlite3_stmt) stmt = store_prepare (store, "SELECT DISTINCT name FROM metrics WHERE run_id = ? ORDER BY name", error);
  if (!stmt)
    return NULL;
  sqlite3_bind_int64 (stmt, 1, run);
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  int rc;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    g_ptr_array_add (names, store_column_text (stmt, 0));
  if (rc != SQLITE_DONE)
    {
      store_fail (store, rc, error);
      return NULL;
    }
  return g_steal_pointer (&names);
}

GArray *
nfn_store_run_metric (NfnStore *store, gint64 run, const char *name, gint64 after_step, GError **error)
{
  g_return_val_if_fail (store != NULL, NULL);
  g_return_val_if_fail (name != NULL, NULL);
  g_autoptr (sqlite3_stmt) stmt
    = store_prepare (store, "SELECT step, value FROM metrics WHERE run_id = ? AND name = ? AND step > ? ORDER BY step", error);
  if (!stmt)
    return NULL;
  sqlite3_bind_int64 (stmt, 1, run);
  sqlite3_bind_text (stmt, 2, name, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 3, after_step);
  g_autoptr (GArray) points = g_array_new (FALSE, FALSE, sizeof (NfnMetricPoint));
  int rc;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      NfnMetricPoint point = {
        .step = sqlite3_column_int64 (stmt, 0),
        .value = sqlite3_column_type (stmt, 1) == SQLITE_NULL ? NAN : sqlite3_column_double (stmt, 1),
      };
      g_array_append_val (points, point);
    }
  if (rc != SQLITE_DONE)
    {
      store_fail (store, rc, error);
      return NULL;
    }
  return g_steal_pointer (&points);
}

static void
store_metric_summary_clear (gpointer element)
{
  g_free (((NfnMetricSummary *) element)->name);
}

GArray *
nfn_store_run_metric_summaries (NfnStore *store, gint64 run, GError **error)
{
  g_return_val_if_fail (store != NULL, NULL);
  /* with one max() aggregate, SQLite takes the bare column `value` from the row holding the max */
  g_autoptr (sqlite3_stmt) stmt = store_prepare (
    store, "SELECT name, count(*), max(step), value FROM metrics WHERE run_id = ? GROUP BY name ORDER BY name", error);
  if (!stmt)
    return NULL;
  sqlite3_bind_int64 (stmt, 1, run);
  g_autoptr (GArray) summaries = g_array_new (FALSE, FALSE, sizeof (NfnMetricSummary));
  g_array_set_clear_func (summaries, store_metric_summary_clear);
  int rc;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      NfnMetricSummary summary = {
        .name = store_column_text (stmt, 0),
        .count = sqlite3_column_int64 (stmt, 1),
        .last_step = sqlite3_column_int64 (stmt, 2),
        .last_value = sqlite3_column_type (stmt, 3) == SQLITE_NULL ? NAN : sqlite3_column_double (stmt, 3),
      };
      g_array_append_val (summaries, summary);
    }
  if (rc != SQLITE_DONE)
    {
      store_fail (store, rc, error);
      return NULL;
    }
  return g_steal_pointer (&summaries);
}

void
nfn_artifact_free (NfnArtifact *artifact)
{
  if (!artifact)
    return;
  g_free (artifact->kind);
  g_free (artifact->path);
  g_free (artifact->description);
  g_free (artifact);
}

GPtrArray *
nfn_store_run_artifacts (NfnStore *store, gint64 run, GError **error)
{
  g_return_val_if_fail (store != NULL, NULL);
  g_autoptr (sqlite3_stmt) stmt
    = store_prepare (store, "SELECT id, kind, path, description, created_us FROM artifacts WHERE run_id = ? ORDER BY id", error);
  if (!stmt)
    return NULL;
  sqlite3_bind_int64 (stmt, 1, run);
  g_autoptr (GPtrArray) artifacts = g_ptr_array_new_with_free_func ((GDestroyNotify) nfn_artifact_free);
  int rc;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      NfnArtifact *artifact = g_new0 (NfnArtifact, 1);
      artifact->id = sqlite3_column_int64 (stmt, 0);
      artifact->kind = store_column_text (stmt, 1);
      artifact->path = store_column_text (stmt, 2);
      artifact->description = store_column_text (stmt, 3);
      artifact->created_us = sqlite3_column_int64 (stmt, 4);
      g_ptr_array_add (artifacts, artifact);
    }
  if (rc != SQLITE_DONE)
    {
      store_fail (store, rc, error);
      return NULL;
    }
  return g_steal_pointer (&artifacts);
}

/* ---- zoos ---- */

void
nfn_zoo_free (NfnZoo *zoo)
{
  if (!zoo)
    return;
  g_free (zoo->name);
  g_free (zoo->path);
  g_free (zoo->arch_json);
  g_free (zoo->dataset);
  g_free (zoo->split);
  g_free (zoo);
}

#define STORE_ZOO_COLUMNS \
  "SELECT z.id, z.name, z.path, z.arch_json, z.dataset, z.split, z.created_us," \
  " (SELECT count(*) FROM zoo_networks n WHERE n.zoo_id = z.id) FROM zoos z"

static NfnZoo *
store_zoo_from_row (sqlite3_stmt *stmt)
{
  NfnZoo *zoo = g_new0 (NfnZoo, 1);
  zoo->id = sqlite3_column_int64 (stmt, 0);
  zoo->name = store_column_text (stmt, 1);
  zoo->path = store_column_text (stmt, 2);
  zoo->arch_json = store_column_text (stmt, 3);
  zoo->dataset = store_column_text (stmt, 4);
  zoo->split = store_column_text (stmt, 5);
  zoo->created_us = sqlite3_column_int64 (stmt, 6);
  zoo->networks = sqlite3_column_int64 (stmt, 7);
  return zoo;
}

/* The zoo id for a path, or 0 when none; a failed query sets error and returns -1. */
static gint64
store_zoo_id_at (NfnStore *store, const char *column, const char *value, GError **error)
{
  g_autofree char *sql = g_strdup_printf ("SELECT id FROM zoos WHERE %s = ?", column);
  g_autoptr (sqlite3_stmt) stmt = store_prepare (store, sql, error);
  if (!stmt)
    return -1;
  sqlite3_bind_text (stmt, 1, value, -1, SQLITE_STATIC);
  int rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    return sqlite3_column_int64 (stmt, 0);
  if (rc == SQLITE_DONE)
    return 0;
  store_fail (store, rc, error);
  return -1;
}

gint64
nfn_store_zoo_register (NfnStore *store, const char *name, const char *path, const char *arch_json, const char *dataset,
                        const char *split, GError **error)
{
  g_return_val_if_fail (store != NULL, 0);
  g_return_val_if_fail (path != NULL, 0);
  g_autofree char *absolute = g_canonicalize_filename (path, NULL);
  g_autofree char *basename = g_path_get_basename (absolute);
  if (!name)
    name = basename;
  if (!arch_json)
    arch_json = "{}";
  if (!store_check_json_object (store, arch_json, "zoo architecture", error) || !store_begin (store, error))
    return 0;
  gint64 zoo = store_zoo_id_at (store, "path", absolute, error);
  gboolean ok = zoo >= 0;
  if (ok && zoo == 0)
    {
      gint64 named = store_zoo_id_at (store, "name", name, error);
      ok = named >= 0;
      if (ok && named > 0)
        {
          g_set_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_FORMAT, "%s: a zoo named \"%s\" is already registered elsewhere",
                       store->path, name);
          ok = FALSE;
        }
    }
  if (ok && zoo == 0)
    {
      g_autoptr (sqlite3_stmt) stmt = store_prepare (
        store, "INSERT INTO zoos (name, path, arch_json, dataset, split, created_us) VALUES (?, ?, ?, ?, ?, ?)", error);
      ok = stmt != NULL;
      if (ok)
        {
          sqlite3_bind_text (stmt, 1, name, -1, SQLITE_STATIC);
          sqlite3_bind_text (stmt, 2, absolute, -1, SQLITE_STATIC);
          sqlite3_bind_text (stmt, 3, arch_json, -1, SQLITE_STATIC);
          sqlite3_bind_text (stmt, 4, dataset ? dataset : "", -1, SQLITE_STATIC);
          sqlite3_bind_text (stmt, 5, split ? split : "", -1, SQLITE_STATIC);
          sqlite3_bind_int64 (stmt, 6, g_get_real_time ());
          ok = store_step_done (store, stmt, error);
          zoo = sqlite3_last_insert_rowid (store->db);
        }
    }
  return store_end (store, ok, error) ? zoo : 0;
}

gboolean
nfn_store_zoo_add_networks (NfnStore *store, gint64 zoo, int n, const gint64 *index, const gint64 *source_index,
                            const int *label, const double *quality, const char *shard, GError **error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  g_return_val_if_fail (n >= 0 && (n == 0 || (index && source_index && label && quality)), FALSE);
  g_return_val_if_fail (shard != NULL, FALSE);
  if (!store_begin (store, error))
    return FALSE;
  g_autoptr (sqlite3_stmt) stmt = store_prepare (
    store, "INSERT OR REPLACE INTO zoo_networks (zoo_id, idx, source_index, label, quality, shard) VALUES (?, ?, ?, ?, ?, ?)",
    error);
  gboolean ok = stmt != NULL;
  for (int k = 0; ok && k < n; k++)
    {
      sqlite3_reset (stmt);
      sqlite3_bind_int64 (stmt, 1, zoo);
      sqlite3_bind_int64 (stmt, 2, index[k]);
      sqlite3_bind_int64 (stmt, 3, source_index[k]);
      sqlite3_bind_int (stmt, 4, label[k]);
      if (isnan (quality[k]))
        sqlite3_bind_null (stmt, 5);
      else
        sqlite3_bind_double (stmt, 5, quality[k]);
      sqlite3_bind_text (stmt, 6, shard, -1, SQLITE_STATIC);
      int rc = sqlite3_step (stmt);
      if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
        {
          g_set_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_NOT_FOUND, "%s: no zoo %" G_GINT64_FORMAT, store->path, zoo);
          ok = FALSE;
        }
      else if (rc != SQLITE_DONE)
        ok = store_fail (store, rc, error);
    }
  return store_end (store, ok, error);
}

GPtrArray *
nfn_store_list_zoos (NfnStore *store, GError **error)
{
  g_return_val_if_fail (store != NULL, NULL);
  g_autoptr (sqlite3_stmt) stmt = store_prepare (store, STORE_ZOO_COLUMNS " ORDER BY z.name", error);
  if (!stmt)
    return NULL;
  g_autoptr (GPtrArray) zoos = g_ptr_array_new_with_free_func ((GDestroyNotify) nfn_zoo_free);
  int rc;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    g_ptr_array_add (zoos, store_zoo_from_row (stmt));
  if (rc != SQLITE_DONE)
    {
      store_fail (store, rc, error);
      return NULL;
    }
  return g_steal_pointer (&zoos);
}

NfnZoo *
nfn_store_find_zoo (NfnStore *store, const char *name_or_path, GError **error)
{
  g_return_val_if_fail (store != NULL, NULL);
  g_return_val_if_fail (name_or_path != NULL, NULL);
  g_autofree char *absolute = g_canonicalize_filename (name_or_path, NULL);
  /* a name wins over a relative path that happens to spell it */
  g_autoptr (sqlite3_stmt) stmt
    = store_prepare (store, STORE_ZOO_COLUMNS " WHERE z.name = ?1 OR z.path = ?2 ORDER BY z.name = ?1 DESC LIMIT 1", error);
  if (!stmt)
    return NULL;
  sqlite3_bind_text (stmt, 1, name_or_path, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 2, absolute, -1, SQLITE_STATIC);
  int rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    return store_zoo_from_row (stmt);
  if (rc == SQLITE_DONE)
    g_set_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_NOT_FOUND, "%s: no zoo %s", store->path, name_or_path);
  else
    store_fail (store, rc, error);
  return NULL;
}

static void
store_zoo_network_clear (gpointer element)
{
  g_free (((NfnZooNetwork *) element)->shard);
}

GArray *
nfn_store_zoo_networks (NfnStore *store, gint64 zoo, GError **error)
{
  g_return_val_if_fail (store != NULL, NULL);
  g_autoptr (sqlite3_stmt) stmt
    = store_prepare (store, "SELECT idx, source_index, label, quality, shard FROM zoo_networks WHERE zoo_id = ? ORDER BY idx", error);
  if (!stmt)
    return NULL;
  sqlite3_bind_int64 (stmt, 1, zoo);
  g_autoptr (GArray) networks = g_array_new (FALSE, FALSE, sizeof (NfnZooNetwork));
  g_array_set_clear_func (networks, store_zoo_network_clear);
  int rc;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      NfnZooNetwork network = {
        .index = sqlite3_column_int64 (stmt, 0),
        .source_index = sqlite3_column_int64 (stmt, 1),
        .label = sqlite3_column_int (stmt, 2),
        .quality = sqlite3_column_type (stmt, 3) == SQLITE_NULL ? NAN : sqlite3_column_double (stmt, 3),
        .shard = store_column_text (stmt, 4),
      };
      g_array_append_val (networks, network);
    }
  if (rc != SQLITE_DONE)
    {
      store_fail (store, rc, error);
      return NULL;
    }
  return g_steal_pointer (&networks);
}
