// SPDX-License-Identifier: LGPL-2.1-or-later
/* test-bad-journal.c: a journal that is not what the daemon writes — a byte that is not UTF-8
 * inside a revision string (it used to kill the daemon with SIGSEGV at every start), a
 * last result with a value D-Bus cannot carry (GetAll failed), a directory or a FIFO in the
 * file's place (a FIFO held the start-up forever) — is moved aside with one warning naming
 * it, and the restarted daemon serves: the modem becomes ready, Command works, every
 * property of the Fota interface reads, and a fresh record replaces the bad one.
 *
 * The real dfotad on a private bus with the simulator: the journal's name comes from the
 * first run (it holds the port and the module's IMEI); the daemon is killed, the file
 * replaced, the daemon started again on the same state directory.
 */
#include <sys/stat.h>

#include "fault-helpers.h"

typedef enum {
	BAD_NOT_UTF8,
	BAD_UNSENDABLE_LAST_RESULT,
	BAD_DIRECTORY,
	BAD_FIFO,
} BadJournal;

static const char not_utf8[] =
        "{'next-id': <uint64 65>, 'job': <{'id': <uint64 64>, 'kind': <'upgrade'>, "
        "'source': <'http://127.0.0.1/p.pack'>, 'started': <uint64 1>, "
        "'from-revision': <'BC65JAR01A\xe1\x31'>, 'step': <uint32 5>, 'phase': <'updating'>, "
        "'percent': <uint32 40>}>}";
/* A maybe: GVariant text has it, the D-Bus wire format does not. */
static const char unsendable_last_result[] =
        "{'next-id': <uint64 65>, 'last-result': <{'id': <uint64 64>, 'kind': <'upgrade'>, "
        "'success': <true>, 'from-revision': <@ms nothing>}>}";

/* The journal of the simulator's modem, or NULL before the first daemon has written it. */
static char *
find_journal(Harness *h)
{
	g_autofree char *state = fh_state_dir(h);
	g_autoptr(GPtrArray) files = fh_state_files(h);

	for (guint i = 0; i < files->len; i++)
		if (g_str_has_suffix(files->pdata[i], ".journal"))
			return g_build_filename(state, files->pdata[i], NULL);
	return NULL;
}

static gboolean
cond_journal_exists(Harness *h, gpointer data)
{
	g_autofree char *path = find_journal(h);

	return path != NULL;
}

/* Written when the modem's IMEI is known, around the time it becomes ready. */
static char *
journal_path(Harness *h)
{
	if (!harness_wait(h, cond_journal_exists, NULL, 30000, "the journal"))
		g_error("the daemon wrote no journal in the state directory");
	return find_journal(h);
}

typedef struct {
	const char *path;
	const char *aside_prefix;
} Replaced;

static guint
count_aside(Harness *h, const char *prefix)
{
	g_autoptr(GPtrArray) files = fh_state_files(h);
	guint n = 0;

	for (guint i = 0; i < files->len; i++)
		if (g_str_has_prefix(files->pdata[i], prefix))
			n++;
	return n;
}

/* The bad file moved aside and a regular file, the fresh record, in its place. */
static gboolean
cond_replaced(Harness *h, gpointer data)
{
	const Replaced *r = data;
	struct stat st;

	return count_aside(h, r->aside_prefix) > 0 && lstat(r->path, &st) == 0 &&
	       S_ISREG(st.st_mode);
}

static guint
count_lines_with(const char *text, const char *a, const char *b)
{
	g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
	guint n = 0;

	for (guint i = 0; lines[i]; i++)
		if (strstr(lines[i], a) && strstr(lines[i], b))
			n++;
	return n;
}

static void
test_bad_journal(gconstpointer data)
{
	BadJournal kind = GPOINTER_TO_INT(data);
	g_autoptr(Harness) h = harness_new(NULL);
	g_autofree char *path = journal_path(h);
	g_autofree char *base = g_path_get_basename(path);
	g_autofree char *aside_prefix = g_strconcat(base, ".corrupt-", NULL);
	g_autofree char *log_before = NULL;
	g_autofree char *log = NULL;
	g_autofree char *response = NULL;
	g_autoptr(GVariant) all = NULL;
	g_autoptr(GVariant) job = NULL;
	g_autoptr(GError) error = NULL;
	Replaced replaced;

	fh_daemon_kill(h);
	g_assert_cmpint(g_unlink(path), ==, 0);
	switch (kind) {
	case BAD_NOT_UTF8:
		g_assert_true(g_file_set_contents(path, not_utf8, -1, NULL));
		break;
	case BAD_UNSENDABLE_LAST_RESULT:
		g_assert_true(g_file_set_contents(path, unsendable_last_result, -1, NULL));
		break;
	case BAD_DIRECTORY:
		g_assert_cmpint(g_mkdir(path, 0700), ==, 0);
		break;
	case BAD_FIFO:
		g_assert_cmpint(mkfifo(path, 0600), ==, 0);
		break;
	}
	log_before = fh_daemon_log(h);
	fh_daemon_start(h);

	/* It serves: ready, Command, and every Fota property over GetAll. */
	g_assert_true(fh_wait_state(h, "ready", 30000));
	response = harness_command(h, NULL, "AT", 0, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(response, ==, "");
	all = g_dbus_connection_call_sync(
	        harness_bus(h), HARNESS_BUS_NAME, HARNESS_MODEM_PATH, HARNESS_IFACE_PROPS, "GetAll",
	        g_variant_new("(s)", HARNESS_IFACE_FOTA), G_VARIANT_TYPE("(a{sv})"),
	        G_DBUS_CALL_FLAGS_NONE, 30000, NULL, &error);
	g_assert_no_error(error);
	harness_message_variant("Fota properties", all);
	job = harness_get_property(h, HARNESS_IFACE_FOTA, "Job");
	g_assert_cmpuint(g_variant_n_children(job), ==, 0);
	g_assert_true(fh_proc_alive(h->daemon_proc));

	/* Moved aside, once, with one warning naming it; a fresh record in its place. */
	replaced.path = path;
	replaced.aside_prefix = aside_prefix;
	g_assert_true(harness_wait(h, cond_replaced, &replaced, 30000, "the journal moved aside"));
	g_assert_cmpuint(count_aside(h, aside_prefix), ==, 1);
	log = fh_daemon_log(h);
	g_assert_cmpuint(count_lines_with(log + strlen(log_before), path, "moved aside"), ==, 1);
}

int
main(int argc, char **argv)
{
	fh_test_init(&argc, &argv);
	g_test_add_data_func("/bad-journal/not-utf8", GINT_TO_POINTER(BAD_NOT_UTF8),
	                     test_bad_journal);
	g_test_add_data_func("/bad-journal/unsendable-last-result",
	                     GINT_TO_POINTER(BAD_UNSENDABLE_LAST_RESULT), test_bad_journal);
	g_test_add_data_func("/bad-journal/directory", GINT_TO_POINTER(BAD_DIRECTORY),
	                     test_bad_journal);
	g_test_add_data_func("/bad-journal/fifo", GINT_TO_POINTER(BAD_FIFO), test_bad_journal);
	return g_test_run();
}
