/* test-local.c: the upgrades that start from a package on this side of the module, against the
 * real daemon and simulator: Fota.UpgradeLocal (seed 3.2) after Files.Upload, missing
 * fota.pack, END errors; Fota.UpgradeFromFile from a regular file and a pipe; Fota.Cancel in
 * the host-side phases and its refusals; a caller that leaves the bus cancels nothing. */
#include "harness.h"

#include <fcntl.h>
#include <gio/gunixfdlist.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#define SLOW_BPS "4000"

/* ---- the simulator's log -------------------------------------------------------------------- */

/* What the daemon may send at any time: initialisation, identity and network refreshes, and
 * the "AT" of harness_wait_finished(). Everything else must be expected by the test. */
static const char *const baseline_prefixes[] = { "ATE0",       "AT+CMEE=1", "ATI",
	                                         "AT+CGSN",    "AT+CESQ",   "AT+COPS?",
	                                         "AT+CGPADDR", "AT+CGACT?", "AT+CEREG?",
	                                         "AT+QSCLK",   NULL };

static gboolean
has_any_prefix(const char *line, const char *const *prefixes)
{
	for (guint i = 0; prefixes != NULL && prefixes[i] != NULL; i++) {
		if (g_str_has_prefix(line, prefixes[i]))
			return TRUE;
	}
	return FALSE;
}

/* Fails the test when a line the host sent since @from is neither baseline nor @allowed. */
static void
assert_tty_only(Harness *h, guint from, const char *const *allowed)
{
	g_autoptr(GPtrArray) lines = harness_tty_lines(h);

	for (guint i = from; i < lines->len; i++) {
		const char *line = lines->pdata[i];

		if (strcmp(line, "AT") == 0 || has_any_prefix(line, baseline_prefixes) ||
		    has_any_prefix(line, allowed))
			continue;
		g_error("unexpected line on the simulator's tty (line %u): \"%s\"", i, line);
	}
}

static guint
count_tty(Harness *h, guint from, const char *prefix)
{
	g_autoptr(GPtrArray) lines = harness_tty_lines(h);
	guint n = 0;

	for (guint i = from; i < lines->len; i++) {
		if (g_str_has_prefix(lines->pdata[i], prefix))
			n++;
	}
	return n;
}

/* ---- waiting and helper processes ------------------------------------------------------------ */

static gboolean
on_deadline(gpointer data)
{
	*(gboolean *)data = TRUE;
	return G_SOURCE_REMOVE;
}

static gboolean
on_recheck(gpointer data)
{
	return G_SOURCE_CONTINUE;
}

/* Iterates the default main context until @cond holds or @timeout_ms passed. D-Bus messages
 * (the harness's filter wakes the context) and child exits wake it; a slow tick re-checks
 * conditions on files. */
static gboolean
wait_cond(gboolean (*cond)(gpointer), gpointer data, guint timeout_ms)
{
	gboolean expired = FALSE;
	guint deadline = g_timeout_add(timeout_ms, on_deadline, &expired);
	guint tick = g_timeout_add(100, on_recheck, NULL);
	gboolean ok;

	while (!(ok = cond(data)) && !expired)
		g_main_context_iteration(NULL, TRUE);
	if (!expired)
		g_source_remove(deadline);
	g_source_remove(tick);
	return ok;
}

static void
child_setup(gpointer data)
{
	prctl(PR_SET_PDEATHSIG, SIGTERM);
}

/* A helper process of this file (a second simulator, a TLS httpd), tracked by PID. */
typedef struct {
	GSubprocess *proc;
	char *out;        /* its stdout and stderr */
	char *ready_file; /* exists and holds ready_text once it is up */
	const char *ready_text;
} Aux;

static gboolean
aux_exited(gpointer data)
{
	return g_subprocess_get_identifier(((Aux *)data)->proc) == NULL;
}

static gboolean
aux_ready(gpointer data)
{
	Aux *a = data;
	g_autofree char *contents = NULL;

	if (aux_exited(a))
		return TRUE;
	if (!g_file_get_contents(a->ready_file, &contents, NULL, NULL))
		return FALSE;
	return strstr(contents, a->ready_text) != NULL;
}

static void
on_aux_exit(GObject *source, GAsyncResult *res, gpointer data)
{
	g_subprocess_wait_finish(G_SUBPROCESS(source), res, NULL);
}

static Aux *
aux_start(const char *const *argv, const char *out, const char *ready_file, const char *ready_text)
{
	Aux *a = g_new0(Aux, 1);
	g_autoptr(GSubprocessLauncher) launcher =
	        g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDERR_MERGE);
	g_autoptr(GError) error = NULL;
	g_autofree char *cmdline = g_strjoinv(" ", (char **)argv);

	a->out = g_strdup(out);
	a->ready_file = g_strdup(ready_file);
	a->ready_text = ready_text;
	g_subprocess_launcher_set_stdout_file_path(launcher, out);
	g_subprocess_launcher_set_child_setup(launcher, child_setup, NULL, NULL);
	a->proc = g_subprocess_launcher_spawnv(launcher, argv, &error);
	g_assert_no_error(error);
	g_subprocess_wait_async(a->proc, NULL, on_aux_exit, NULL);
	g_test_message("started pid %s: %s", g_subprocess_get_identifier(a->proc), cmdline);
	if (!wait_cond(aux_ready, a, 20000) || aux_exited(a)) {
		g_autofree char *text = NULL;

		g_file_get_contents(out, &text, NULL, NULL);
		g_error("%s did not start: %s", cmdline, text);
	}
	return a;
}

static void
aux_free(Aux *a)
{
	if (a == NULL)
		return;
	if (!aux_exited(a)) {
		g_subprocess_send_signal(a->proc, SIGTERM);
		if (!wait_cond(aux_exited, a, 5000)) {
			g_subprocess_force_exit(a->proc);
			g_subprocess_wait(a->proc, NULL, NULL);
		}
	}
	if (g_test_failed()) {
		g_autofree char *text = NULL;

		g_file_get_contents(a->out, &text, NULL, NULL);
		g_printerr("==== %s ====\n%s\n", a->out, text != NULL ? text : "");
	}
	g_clear_object(&a->proc);
	g_free(a->out);
	g_free(a->ready_file);
	g_free(a);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Aux, aux_free)

/* A directory of this test's own (what must exist before the harness starts the daemon). */
typedef struct {
	char *path;
} TestDir;

static TestDir *
test_dir_new(void)
{
	TestDir *d = g_new0(TestDir, 1);
	g_autoptr(GError) error = NULL;

	d->path = g_dir_make_tmp("dfotad-host-XXXXXX", &error);
	g_assert_no_error(error);
	return d;
}

static void
test_dir_free(TestDir *d)
{
	if (g_test_failed() || g_getenv("DFOTA_TEST_KEEP") != NULL) {
		g_printerr("kept %s\n", d->path);
	} else {
		g_autofree char *rm = g_find_program_in_path("rm");
		const char *argv[] = { rm, "-rf", "--", d->path, NULL };

		g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, NULL, NULL,
		             NULL, NULL);
	}
	g_free(d->path);
	g_free(d);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TestDir, test_dir_free)

static char *
in_dir(TestDir *d, const char *name)
{
	return g_build_filename(d->path, name, NULL);
}

/* ---- jobs ------------------------------------------------------------------------------------ */

/* The phases the job on @path entered since @since, comma-separated, without the final
 * "idle"; checks every Progress: percent at most 100 and never decreasing within one stay in a
 * phase. *@fetch_max gets the highest percent announced while fetching. */
static char *
job_phases_at(Harness *h, const char *path, guint64 since, guint *fetch_max)
{
	g_autoptr(GPtrArray) events = harness_events(h, since);
	g_autoptr(GString) phases = g_string_new(NULL);
	g_autofree char *current = NULL;
	guint last = 0;

	if (fetch_max != NULL)
		*fetch_max = 0;
	for (guint i = 0; i < events->len; i++) {
		HarnessEvent *ev = events->pdata[i];
		const char *phase;
		guint32 percent;

		if (ev->type != HARNESS_EVENT_SIGNAL || g_strcmp0(ev->member, "Progress") != 0 ||
		    g_strcmp0(ev->path, path) != 0)
			continue;
		g_variant_get(ev->body, "(&su)", &phase, &percent);
		g_assert_cmpuint(percent, <=, 100);
		if (g_strcmp0(phase, current) != 0) {
			if (phases->len > 0)
				g_string_append_c(phases, ',');
			g_string_append(phases, phase);
			g_free(current);
			current = g_strdup(phase);
			last = percent;
		}
		if (percent < last)
			g_error("%s went back from %u%% to %u%%", phase, last, percent);
		last = percent;
		if (fetch_max != NULL && strcmp(phase, "fetching") == 0)
			*fetch_max = MAX(*fetch_max, percent);
	}
	if (g_str_has_suffix(phases->str, ",idle"))
		g_string_truncate(phases, phases->len - strlen(",idle"));
	return g_string_free(g_steal_pointer(&phases), FALSE);
}

static char *
job_phases(Harness *h, guint64 since)
{
	return job_phases_at(h, HARNESS_MODEM_PATH, since, NULL);
}

static void
assert_no_finished(Harness *h, guint64 since)
{
	harness_round_trip(h);
	g_assert_cmpuint(harness_count_signals(h, since, HARNESS_IFACE_FOTA, "Finished"), ==, 0);
}

static void
assert_idle_with_result(Harness *h, GVariant *result)
{
	g_autoptr(GVariant) phase = harness_get_property(h, HARNESS_IFACE_FOTA, "Phase");
	g_autoptr(GVariant) job = harness_get_property(h, HARNESS_IFACE_FOTA, "Job");
	g_autoptr(GVariant) last = harness_get_property(h, HARNESS_IFACE_FOTA, "LastResult");
	g_autoptr(GVariant) state = harness_get_property(h, HARNESS_IFACE_MODEM, "State");

	g_assert_cmpstr(g_variant_get_string(phase, NULL), ==, "idle");
	g_assert_cmpuint(g_variant_n_children(job), ==, 0);
	g_assert_true(g_variant_equal(last, result));
	g_assert_cmpstr(g_variant_get_string(state, NULL), ==, "ready");
}

static const char *
revision(Harness *h)
{
	static char rev[64];
	g_autoptr(GVariant) v = harness_get_property(h, HARNESS_IFACE_MODEM, "Revision");

	g_strlcpy(rev, g_variant_get_string(v, NULL), sizeof rev);
	return rev;
}

/* Waits for the job's single Finished and checks it names @error_name (NULL: success). */
static GVariant *
finished(Harness *h, guint64 since, const char *kind, const char *error_name, guint timeout_ms)
{
	GVariant *result = harness_wait_finished(h, since, timeout_ms);
	g_autofree char *printed = g_variant_print(result, TRUE);

	g_test_message("Finished: %s", printed);
	g_assert_cmpstr(harness_dict_str(result, "kind"), ==, kind);
	g_assert_cmpstr(harness_dict_str(result, "from-revision"), ==, HARNESS_REV_FROM);
	if (error_name == NULL) {
		g_assert_true(harness_dict_bool(result, "success"));
		g_assert_cmpint(harness_dict_int(result, "code"), ==, 0);
		g_assert_cmpstr(harness_dict_str(result, "error"), ==, "");
		g_assert_cmpstr(harness_dict_str(result, "to-revision"), ==, HARNESS_REV_TO);
		g_assert_cmpstr(revision(h), ==, HARNESS_REV_TO);
	} else {
		g_assert_false(harness_dict_bool(result, "success"));
		if (!harness_error_name_is(harness_dict_str(result, "error"), error_name))
			g_error("expected %s, the job ended with %s", error_name,
			        harness_dict_str(result, "error"));
		g_assert_cmpstr(revision(h), ==, HARNESS_REV_FROM);
	}
	assert_idle_with_result(h, result);
	return result;
}

/* ---- UFS and fds ------------------------------------------------------------------------------ */

/* Files.List: the size of @name, or -1 when it is not listed. */
static gint64
ufs_size(Harness *h, const char *name)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) ret =
	        harness_call(h, NULL, HARNESS_IFACE_FILES, "List", NULL, NULL, &error);
	g_autoptr(GVariantIter) iter = NULL;
	const char *fname;
	guint64 size;
	gint64 found = -1;

	g_assert_no_error(error);
	g_variant_get(ret, "(a(st))", &iter);
	while (g_variant_iter_next(iter, "(&st)", &fname, &size)) {
		if (strcmp(fname, name) == 0)
			found = (gint64)size;
	}
	return found;
}

/* Calls @iface.@method on Modem/0 through @conn (NULL: the main connection) with @fd. */
static GVariant *
call_fd(Harness *h, GDBusConnection *conn, const char *iface, const char *method, GVariant *params,
        int fd, GError **error)
{
	g_autoptr(GUnixFDList) fds = g_unix_fd_list_new();
	g_autoptr(GError) local = NULL;

	g_unix_fd_list_append(fds, fd, &local);
	g_assert_no_error(local);
	return g_dbus_connection_call_with_unix_fd_list_sync(
	        conn != NULL ? conn : harness_bus(h), HARNESS_BUS_NAME, HARNESS_MODEM_PATH, iface,
	        method, params, NULL, G_DBUS_CALL_FLAGS_NONE, 60000, fds, NULL, NULL, error);
}

/* A package in the HTTP root; returns its path. */
static char *
make_package(Harness *h, const char *name, const char *payload_size)
{
	const char *const extra[] = { "--payload-size", payload_size, NULL };

	harness_make_package(h, name, "BC65", HARNESS_REV_FROM, HARNESS_REV_TO,
	                     payload_size != NULL ? extra : NULL);
	return g_build_filename(harness_tmpdir(h), "www", name, NULL);
}

static void
upload_file(Harness *h, const char *path, const char *name)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) ret = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	g_assert_cmpint(fd, >=, 0);
	ret = call_fd(h, NULL, HARNESS_IFACE_FILES, "Upload", g_variant_new("(sh)", name, 0), fd,
	              &error);
	close(fd);
	g_assert_no_error(error);
}

static gsize
file_size(const char *path)
{
	g_autofree char *contents = NULL;
	gsize len = 0;

	g_assert_true(g_file_get_contents(path, &contents, &len, NULL));
	return len;
}

static GVariant *
no_options(void)
{
	return g_variant_new_array(G_VARIANT_TYPE("{sv}"), NULL, 0);
}

static gboolean
percent_at_least_5(GVariant *value)
{
	return g_variant_get_uint32(value) >= 5;
}

/* ---- UpgradeLocal ------------------------------------------------------------------------- */

static void
test_local_success(void)
{
	g_autoptr(Harness) h = harness_new(NULL);
	g_autofree char *pkg = make_package(h, "update.pack", NULL);
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) reply = NULL;
	g_autoptr(GVariant) result = NULL;
	g_autofree char *phases = NULL;
	guint64 since;
	guint mark;
	int qflst, qfotadl;
	const char *const allowed[] = { "AT+QFLST", "AT+QFOTADL=1", NULL };

	upload_file(h, pkg, "fota.pack");
	g_assert_cmpint(ufs_size(h, "fota.pack"), ==, (gint64)file_size(pkg));

	since = harness_mark(h);
	mark = harness_tty_mark(h);
	reply = harness_call(h, NULL, HARNESS_IFACE_FOTA, "UpgradeLocal", NULL, NULL, &error);
	g_assert_no_error(error);
	result = finished(h, since, "upgrade-local", NULL, 30000);
	phases = job_phases(h, since);
	g_assert_cmpstr(phases, ==, "updating,rebooting,verifying");

	/* Seed 3.2: the package is checked first, then AT+QFOTADL=1, once. */
	qflst = harness_tty_find(h, mark, "AT+QFLST");
	qfotadl = harness_tty_find(h, mark, "AT+QFOTADL=1");
	g_assert_cmpint(qflst, >=, 0);
	g_assert_cmpint(qfotadl, >, qflst);
	g_assert_cmpuint(count_tty(h, mark, "AT+QFOTADL"), ==, 1);
	assert_tty_only(h, mark, allowed);
}

static void
test_local_no_package(void)
{
	g_autoptr(Harness) h = harness_new(NULL);
	g_autofree char *other = make_package(h, "other.pack", NULL);
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) reply = NULL;
	g_autoptr(GVariant) job = NULL;
	g_autoptr(GVariant) state = NULL;
	guint64 since;
	guint mark;
	const char *const allowed[] = { "AT+QFLST", NULL };

	/* A file under another name does not count. */
	upload_file(h, other, "other.pack");
	since = harness_mark(h);
	mark = harness_tty_mark(h);
	reply = harness_call(h, NULL, HARNESS_IFACE_FOTA, "UpgradeLocal", NULL, NULL, &error);
	harness_assert_error(error, "NoPackage");
	g_test_message("%s", error->message);

	/* Nothing started: no job, no Finished, no AT+QFOTADL on the line. */
	assert_no_finished(h, since);
	g_assert_cmpuint(count_tty(h, mark, "AT+QFLST"), >=, 1);
	assert_tty_only(h, mark, allowed);
	job = harness_get_property(h, HARNESS_IFACE_FOTA, "Job");
	g_assert_cmpuint(g_variant_n_children(job), ==, 0);
	state = harness_get_property(h, HARNESS_IFACE_MODEM, "State");
	g_assert_cmpstr(g_variant_get_string(state, NULL), ==, "ready");
}

static void
test_local_end_error(void)
{
	g_autoptr(Harness) h = harness_new(NULL);
	g_autofree char *pkg = make_package(h, "update.pack", NULL);
	g_autoptr(GVariant) result = NULL;
	const char *const allowed[] = { "AT+QFLST", "AT+QFOTADL=1", NULL };

	upload_file(h, pkg, "fota.pack");
	/* The module fails the update: END,6508. */
	harness_control(h, "error 6508 end");
	for (guint round = 0; round < 2; round++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(GVariant) reply = NULL;
		g_autofree char *phases = NULL;
		guint64 since = harness_mark(h);
		guint mark = harness_tty_mark(h);

		reply = harness_call(h, NULL, HARNESS_IFACE_FOTA, "UpgradeLocal", NULL, NULL,
		                     &error);
		g_assert_no_error(error);
		if (round == 0) {
			result = finished(h, since, "upgrade-local", "UpgradeFailed", 30000);
			g_assert_cmpint(harness_dict_int(result, "code"), ==, 6508);
			phases = job_phases(h, since);
			g_assert_cmpstr(phases, ==, "updating");
			g_clear_pointer(&result, g_variant_unref);
		} else {
			/* The next attempt (the error was one-shot) succeeds. */
			result = finished(h, since, "upgrade-local", NULL, 30000);
			phases = job_phases(h, since);
			g_assert_cmpstr(phases, ==, "updating,rebooting,verifying");
		}
		g_assert_cmpuint(count_tty(h, mark, "AT+QFOTADL"), ==, 1);
		assert_tty_only(h, mark, allowed);
	}
}

static void
test_local_corrupt_package(void)
{
	g_autoptr(Harness) h = harness_new(NULL);
	const char *const corrupt[] = { "--corrupt", NULL };
	g_autofree char *pkg = g_build_filename(harness_tmpdir(h), "www", "bad.pack", NULL);
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) reply = NULL;
	g_autoptr(GVariant) result = NULL;
	guint64 since;
	guint mark;
	const char *const allowed[] = { "AT+QFLST", "AT+QFOTADL=1", NULL };

	harness_make_package(h, "bad.pack", "BC65", HARNESS_REV_FROM, HARNESS_REV_TO, corrupt);
	upload_file(h, pkg, "fota.pack");
	since = harness_mark(h);
	mark = harness_tty_mark(h);
	reply = harness_call(h, NULL, HARNESS_IFACE_FOTA, "UpgradeLocal", NULL, NULL, &error);
	g_assert_no_error(error);
	/* END,6507: the module's own package verification. */
	result = finished(h, since, "upgrade-local", "PackageVerifyFailed", 30000);
	g_assert_cmpint(harness_dict_int(result, "code"), ==, 6507);
	g_assert_cmpuint(count_tty(h, mark, "AT+QFOTADL"), ==, 1);
	assert_tty_only(h, mark, allowed);
}

/* ---- UpgradeFromFile ------------------------------------------------------------------------ */

static void
from_file_success(Harness *h, int fd)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) reply = NULL;
	g_autoptr(GVariant) result = NULL;
	g_autofree char *phases = NULL;
	guint64 since = harness_mark(h);
	guint mark = harness_tty_mark(h);
	const char *const allowed[] = { "AT+QFLDS=\"UFS\"",
		                        "AT+QFLST",
		                        "AT+QFDEL=\"fota.pack\"",
		                        "AT+QFUPL=\"fota.pack\",",
		                        "[data ",
		                        "AT+QFOTADL=1",
		                        NULL };

	reply = call_fd(h, NULL, HARNESS_IFACE_FOTA, "UpgradeFromFile",
	                g_variant_new("(h@a{sv})", 0, no_options()), fd, &error);
	g_assert_no_error(error);
	result = finished(h, since, "upgrade-from-file", NULL, 60000);
	phases = job_phases(h, since);
	g_assert_cmpstr(phases, ==, "fetching,uploading,updating,rebooting,verifying");
	g_assert_cmpuint(count_tty(h, mark, "AT+QFUPL="), ==, 1);
	g_assert_cmpuint(count_tty(h, mark, "AT+QFOTADL"), ==, 1);
	g_assert_cmpint(harness_tty_find(h, mark, "AT+QFOTADL=1"), >,
	                harness_tty_find(h, mark, "[data "));
	assert_tty_only(h, mark, allowed);
}

static void
test_from_file_regular(void)
{
	g_autoptr(Harness) h = harness_new(NULL);
	g_autofree char *pkg = make_package(h, "update.pack", NULL);
	int fd = open(pkg, O_RDONLY | O_CLOEXEC);

	g_assert_cmpint(fd, >=, 0);
	from_file_success(h, fd);
	close(fd);
	g_assert_cmpint(ufs_size(h, "fota.pack"), ==, (gint64)file_size(pkg));
}

static void
test_from_file_pipe(void)
{
	g_autoptr(Harness) h = harness_new(NULL);
	g_autofree char *pkg = make_package(h, "update.pack", NULL);
	g_autofree char *contents = NULL;
	gsize len = 0;
	int pipefd[2];

	/* The package fits the pipe's buffer: write it all, then pass the read end. */
	g_assert_true(g_file_get_contents(pkg, &contents, &len, NULL));
	g_assert_cmpuint(len, <, 65536);
	g_assert_cmpint(pipe2(pipefd, O_CLOEXEC), ==, 0);
	g_assert_cmpint(write(pipefd[1], contents, len), ==, (gssize)len);
	close(pipefd[1]);
	from_file_success(h, pipefd[0]);
	close(pipefd[0]);
}

/* ---- UpgradeViaHost ----------------------------------------------------------------------- */

static GVariant *
options(const char *sha256, const char *from_revision)
{
	GVariantBuilder b;

	g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
	if (sha256 != NULL)
		g_variant_builder_add(&b, "{sv}", "sha256", g_variant_new_string(sha256));
	if (from_revision != NULL)
		g_variant_builder_add(&b, "{sv}", "from-revision",
		                      g_variant_new_string(from_revision));
	return g_variant_builder_end(&b);
}

static char *
sha256_of(const char *path)
{
	g_autofree char *contents = NULL;
	gsize len = 0;

	g_assert_true(g_file_get_contents(path, &contents, &len, NULL));
	return g_compute_checksum_for_data(G_CHECKSUM_SHA256, (const guchar *)contents, len);
}

static char *
package_path(Harness *h, const char *name)
{
	return g_build_filename(harness_tmpdir(h), "www", name, NULL);
}

/* One UpgradeViaHost that must succeed from @from to @to; checks the result, the properties,
 * the order of events, the phases and what went out on the line. */
static void
via_host_ok(Harness *h, const char *url, GVariant *opts, const char *from, const char *to,
            gsize package_size)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) reply = NULL;
	g_autoptr(GVariant) result = NULL;
	g_autoptr(GVariant) last = NULL;
	g_autoptr(GPtrArray) events = NULL;
	g_autofree char *phases = NULL;
	g_autofree char *printed = NULL;
	g_autofree char *upl = NULL;
	guint64 since = harness_mark(h);
	guint mark = harness_tty_mark(h);
	guint32 serial = 0;
	guint fetch_max = 0;
	int reply_at = -1, progress_at = -1;
	const char *const allowed[] = { "AT+QFLDS=\"UFS\"",
		                        "AT+QFLST",
		                        "AT+QFDEL=\"fota.pack\"",
		                        "AT+QFUPL=\"fota.pack\",",
		                        "[data ",
		                        "AT+QFOTADL=1",
		                        NULL };

	reply = harness_call(h, NULL, HARNESS_IFACE_FOTA, "UpgradeViaHost",
	                     g_variant_new("(s@a{sv})", url, opts), &serial, &error);
	g_assert_no_error(error);
	result = harness_wait_finished(h, since, 60000);
	printed = g_variant_print(result, TRUE);
	g_test_message("Finished: %s", printed);
	g_assert_true(harness_dict_bool(result, "success"));
	g_assert_cmpint(harness_dict_int(result, "code"), ==, 0);
	g_assert_cmpstr(harness_dict_str(result, "error"), ==, "");
	g_assert_cmpstr(harness_dict_str(result, "kind"), ==, "upgrade-via-host");
	g_assert_cmpstr(harness_dict_str(result, "source"), ==, url);
	g_assert_cmpstr(harness_dict_str(result, "from-revision"), ==, from);
	g_assert_cmpstr(harness_dict_str(result, "to-revision"), ==, to);
	g_assert_cmpstr(revision(h), ==, to);
	last = harness_get_property(h, HARNESS_IFACE_FOTA, "LastResult");
	g_assert_true(g_variant_equal(last, result));

	/* The reply before the job's first Progress; every phase, percent monotonic. */
	events = harness_events(h, since);
	for (guint i = 0; i < events->len; i++) {
		HarnessEvent *ev = events->pdata[i];

		if (reply_at < 0 && ev->type == HARNESS_EVENT_REPLY && ev->reply_serial == serial)
			reply_at = (int)i;
		if (progress_at < 0 && ev->type == HARNESS_EVENT_SIGNAL &&
		    g_strcmp0(ev->member, "Progress") == 0)
			progress_at = (int)i;
	}
	g_assert_cmpint(reply_at, >=, 0);
	g_assert_cmpint(progress_at, >, reply_at);
	phases = job_phases_at(h, HARNESS_MODEM_PATH, since, &fetch_max);
	g_assert_cmpstr(phases, ==, "fetching,uploading,updating,rebooting,verifying");
	g_assert_cmpuint(fetch_max, ==, 100);

	/* On the line: one acknowledged upload of the whole package, then the seed's local
	 * upgrade; the module never downloads anything itself. */
	upl = g_strdup_printf("AT+QFUPL=\"fota.pack\",%" G_GSIZE_FORMAT ",", package_size);
	g_assert_cmpuint(count_tty(h, mark, upl), ==, 1);
	g_assert_cmpuint(count_tty(h, mark, "AT+QFUPL"), ==, 1);
	g_assert_cmpuint(count_tty(h, mark, "AT+QFOTADL"), ==, 1);
	g_assert_cmpint(harness_tty_find(h, mark, "AT+QFOTADL=1"), >,
	                harness_tty_find(h, mark, "[data "));
	assert_tty_only(h, mark, allowed);
	g_assert_cmpint(ufs_size(h, "fota.pack"), ==, (gint64)package_size);
}

/* One UpgradeViaHost that is accepted and ends with @error_name before anything is uploaded.
 * Returns the result. */
static GVariant *
via_host_fails(Harness *h, const char *url, GVariant *opts, const char *error_name)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) reply = NULL;
	g_autofree char *printed = NULL;
	g_autofree char *phases = NULL;
	guint64 since = harness_mark(h);
	guint mark = harness_tty_mark(h);
	GVariant *result;

	reply = harness_call(h, NULL, HARNESS_IFACE_FOTA, "UpgradeViaHost",
	                     g_variant_new("(s@a{sv})", url, opts), NULL, &error);
	g_assert_no_error(error);
	result = harness_wait_finished(h, since, 60000);
	printed = g_variant_print(result, TRUE);
	g_test_message("Finished: %s", printed);
	g_assert_false(harness_dict_bool(result, "success"));
	if (!harness_error_name_is(harness_dict_str(result, "error"), error_name))
		g_error("expected %s, the job ended with %s", error_name,
		        harness_dict_str(result, "error"));
	g_assert_cmpstr(harness_dict_str(result, "kind"), ==, "upgrade-via-host");
	g_assert_cmpstr(harness_dict_str(result, "source"), ==, url);
	/* The module gave no code for a failure on the gateway's side: -1 (the contract's
	 * LastResult "code"). Not fatal, so that the rest of the test still runs. */
	if (harness_dict_int(result, "code") != -1)
		g_test_fail_printf("%s: LastResult code is %d, expected -1 (the module gave none)",
		                   error_name, harness_dict_int(result, "code"));
	phases = job_phases(h, since);
	g_assert_cmpstr(phases, ==, "fetching");
	/* Nothing reached the module. */
	assert_tty_only(h, mark, NULL);
	g_assert_cmpstr(revision(h), ==, HARNESS_REV_FROM);
	{
		g_autoptr(GVariant) phase = harness_get_property(h, HARNESS_IFACE_FOTA, "Phase");
		g_autoptr(GVariant) job = harness_get_property(h, HARNESS_IFACE_FOTA, "Job");

		g_assert_cmpstr(g_variant_get_string(phase, NULL), ==, "idle");
		g_assert_cmpuint(g_variant_n_children(job), ==, 0);
	}
	return result;
}

static void
test_http(void)
{
	g_autoptr(Harness) h = harness_new(NULL);
	g_autofree char *pkg = package_path(h, "update.pack");
	g_autofree char *pkg2 = package_path(h, "next.pack");
	g_autofree char *url = harness_url(h, "update.pack");
	g_autofree char *url2 = harness_url(h, "redirect/2/next.pack");
	g_autofree char *sha = NULL;
	g_autofree char *sha_upper = NULL;
	g_autofree char *contents = NULL;
	gsize len = 0, len2 = 0;

	harness_make_package(h, "update.pack", "BC65", HARNESS_REV_FROM, HARNESS_REV_TO, NULL);
	harness_make_package(h, "next.pack", "BC65", HARNESS_REV_TO, "BC65JAR01A03", NULL);
	g_assert_true(g_file_get_contents(pkg, &contents, &len, NULL));
	g_clear_pointer(&contents, g_free);
	g_assert_true(g_file_get_contents(pkg2, &contents, &len2, NULL));
	sha = sha256_of(pkg);
	/* Both options, both matching. */
	via_host_ok(h, url, options(sha, HARNESS_REV_FROM), HARNESS_REV_FROM, HARNESS_REV_TO, len);

	/* Through two redirects, with the digest in upper case, replacing the old fota.pack. */
	g_clear_pointer(&sha, g_free);
	sha = sha256_of(pkg2);
	sha_upper = g_ascii_strup(sha, -1);
	via_host_ok(h, url2, options(sha_upper, NULL), HARNESS_REV_TO, "BC65JAR01A03", len2);
}

/* A CA and a server certificate for 127.0.0.1 (and only that), made with openssl. */
static void
make_test_ca(TestDir *d)
{
	g_autofree char *ext = in_dir(d, "ext.cnf");
	g_autoptr(GError) error = NULL;
	const char *const cmds[][32] = {
		{ "openssl",
		  "req",
		  "-x509",
		  "-newkey",
		  "ec",
		  "-pkeyopt",
		  "ec_paramgen_curve:prime256v1",
		  "-nodes",
		  "-keyout",
		  "ca.key",
		  "-out",
		  "ca.pem",
		  "-days",
		  "2",
		  "-subj",
		  "/CN=dfotad test CA",
		  "-addext",
		  "basicConstraints=critical,CA:TRUE",
		  "-addext",
		  "keyUsage=critical,keyCertSign,cRLSign",
		  NULL },
		{ "openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
		  "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1",
		  NULL },
		{ "openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey",
		  "ca.key", "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile",
		  "ext.cnf", NULL },
	};

	g_file_set_contents(ext,
	                    "basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1\n"
	                    "extendedKeyUsage=serverAuth\n",
	                    -1, &error);
	g_assert_no_error(error);
	for (guint i = 0; i < G_N_ELEMENTS(cmds); i++) {
		g_autofree char *out = NULL;
		int status = 0;

		g_spawn_sync(d->path, (char **)cmds[i], NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL,
		             &out, &status, &error);
		g_assert_no_error(error);
		if (!g_spawn_check_wait_status(status, NULL))
			g_error("%s failed: %s", cmds[i][1], out);
	}
}

static void
test_https(void)
{
	g_autoptr(TestDir) dir = test_dir_new();
	g_autofree char *ca = in_dir(dir, "ca.pem");
	g_autofree char *ca_key = g_strdup_printf("ca-file=%s", ca);
	const char *keys[] = { ca_key, NULL };
	HarnessOptions opts = { .daemon_keys = keys };
	g_autoptr(Harness) h = NULL;
	g_autoptr(Aux) tls = NULL;
	g_autofree char *www = NULL;
	g_autofree char *port_file = in_dir(dir, "tls.port");
	g_autofree char *out = in_dir(dir, "tls-httpd.log");
	g_autofree char *cert = in_dir(dir, "server.pem");
	g_autofree char *key = in_dir(dir, "server.key");
	g_autofree char *port = NULL;
	g_autofree char *url = NULL;
	g_autofree char *wrong_name = NULL;
	g_autofree char *pkg = NULL;
	g_autoptr(GVariant) failed = NULL;
	gsize len = 0;

	make_test_ca(dir);
	h = harness_new(&opts);
	www = g_build_filename(harness_tmpdir(h), "www", NULL);
	{
		const char *argv[] = { g_getenv("PYTHON"),
			               g_getenv("HTTPD"),
			               "--root",
			               www,
			               "--port-file",
			               port_file,
			               "--tls-cert",
			               cert,
			               "--tls-key",
			               key,
			               NULL };

		g_assert_nonnull(argv[0]);
		g_assert_nonnull(argv[1]);
		tls = aux_start(argv, out, port_file, "\n");
	}
	g_assert_true(g_file_get_contents(port_file, &port, NULL, NULL));
	g_strstrip(port);
	harness_make_package(h, "update.pack", "BC65", HARNESS_REV_FROM, HARNESS_REV_TO, NULL);
	pkg = package_path(h, "update.pack");
	{
		g_autofree char *contents = NULL;

		g_assert_true(g_file_get_contents(pkg, &contents, &len, NULL));
	}

	/* The certificate names 127.0.0.1 only: the same server as "localhost" is refused, so
	 * verification is on (and the success below is owed to ca-file). */
	wrong_name = g_strdup_printf("https://localhost:%s/update.pack", port);
	failed = via_host_fails(h, wrong_name, options(NULL, NULL), "FetchFailed");
	g_test_message("wrong name: %s", harness_dict_str(failed, "message"));

	url = g_strdup_printf("https://127.0.0.1:%s/update.pack", port);
	via_host_ok(h, url, options(NULL, NULL), HARNESS_REV_FROM, HARNESS_REV_TO, len);
}

/* ---- Cancel --------------------------------------------------------------------------------- */

static void
cancel_ok(Harness *h)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) reply =
	        harness_call(h, NULL, HARNESS_IFACE_FOTA, "Cancel", NULL, NULL, &error);

	g_assert_no_error(error);
}

static void
cancel_refused(Harness *h)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) reply =
	        harness_call(h, NULL, HARNESS_IFACE_FOTA, "Cancel", NULL, NULL, &error);

	harness_assert_error(error, "NotCancellable");
	g_test_message("%s", error->message);
}

static void
test_cancel_from_file_fetching(void)
{
	g_autoptr(Harness) h = harness_new(NULL);
	g_autofree char *pkg = make_package(h, "update.pack", NULL);
	g_autofree char *contents = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) reply = NULL;
	g_autoptr(GVariant) result = NULL;
	g_autofree char *phases = NULL;
	gsize len = 0;
	guint64 since;
	guint mark;
	int pipefd[2];
	const char *const allowed[] = { "AT+QFLST", NULL };

	/* Half the package, and the write end stays open: the daemon waits for the rest. */
	g_assert_true(g_file_get_contents(pkg, &contents, &len, NULL));
	g_assert_cmpint(pipe2(pipefd, O_CLOEXEC), ==, 0);
	g_assert_cmpint(write(pipefd[1], contents, len / 2), ==, (gssize)(len / 2));
	since = harness_mark(h);
	mark = harness_tty_mark(h);
	reply = call_fd(h, NULL, HARNESS_IFACE_FOTA, "UpgradeFromFile",
	                g_variant_new("(h@a{sv})", 0, no_options()), pipefd[0], &error);
	g_assert_no_error(error);
	close(pipefd[0]);
	g_assert_true(harness_wait_property(h, HARNESS_IFACE_FOTA, "Phase",
	                                    g_variant_new_string("fetching"), 10000));
	cancel_ok(h);
	result = finished(h, since, "upgrade-from-file", "Cancelled", 20000);
	close(pipefd[1]);
	phases = job_phases(h, since);
	g_assert_cmpstr(phases, ==, "fetching");
	g_assert_cmpint(ufs_size(h, "fota.pack"), ==, -1);
	assert_tty_only(h, mark, allowed);
}

static void
test_cancel_fetching(void)
{
	g_autoptr(Harness) h = harness_new(NULL);
	g_autofree char *pkg = make_package(h, "update.pack", NULL);
	g_autofree char *url = harness_url(h, "slow/update.pack?bps=" SLOW_BPS);
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) reply = NULL;
	g_autoptr(GVariant) result = NULL;
	g_autofree char *phases = NULL;
	guint64 since = harness_mark(h);
	guint mark = harness_tty_mark(h);
	gint64 t0;
	const char *const allowed[] = { "AT+QFLST", NULL };

	reply = harness_call(h, NULL, HARNESS_IFACE_FOTA, "UpgradeViaHost",
	                     g_variant_new("(s@a{sv})", url, no_options()), NULL, &error);
	g_assert_no_error(error);
	/* Some bytes came (the transfer runs), most did not (about 5 s at this rate). */
	g_assert_true(harness_wait_property_cond(h, HARNESS_IFACE_FOTA, "Percent",
	                                         percent_at_least_5, 10000));
	{
		g_autoptr(GVariant) phase = harness_get_property(h, HARNESS_IFACE_FOTA, "Phase");

		g_assert_cmpstr(g_variant_get_string(phase, NULL), ==, "fetching");
	}
	t0 = g_get_monotonic_time();
	cancel_ok(h);
	result = finished(h, since, "upgrade-via-host", "Cancelled", 20000);
	/* The transfer stopped; it did not run to its end first. */
	g_assert_cmpint(g_get_monotonic_time() - t0, <, 3 * G_USEC_PER_SEC);
	phases = job_phases(h, since);
	g_assert_cmpstr(phases, ==, "fetching");
	g_assert_cmpint(ufs_size(h, "fota.pack"), ==, -1);
	assert_tty_only(h, mark, allowed);
}

static void
test_cancel_uploading(void)
{
	/* About 9 s on the line at 115200 baud; upload-timeout=2 bounds the module's wait for
	 * bytes that will not come after the cancel. */
	const char *const sim_args[] = { "--baud", "115200", NULL };
	const char *const keys[] = { "upload-timeout=2", NULL };
	HarnessOptions opts = { .sim_args = sim_args, .daemon_keys = keys };
	g_autoptr(Harness) h = harness_new(&opts);
	g_autofree char *pkg = make_package(h, "big.pack", "100000");
	g_autofree char *url = harness_url(h, "big.pack");
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) reply = NULL;
	g_autoptr(GVariant) result = NULL;
	g_autofree char *phases = NULL;
	guint64 since = harness_mark(h);
	guint mark = harness_tty_mark(h);
	int upl, del;
	const char *const allowed[] = {
		"AT+QFLDS=\"UFS\"",        "AT+QFLST", "AT+QFDEL=\"fota.pack\"",
		"AT+QFUPL=\"fota.pack\",", "[data ",   NULL
	};

	reply = harness_call(h, NULL, HARNESS_IFACE_FOTA, "UpgradeViaHost",
	                     g_variant_new("(s@a{sv})", url, no_options()), NULL, &error);
	g_assert_no_error(error);
	g_assert_true(harness_wait_property(h, HARNESS_IFACE_FOTA, "Phase",
	                                    g_variant_new_string("uploading"), 20000));
	g_assert_true(harness_wait_property_cond(h, HARNESS_IFACE_FOTA, "Percent",
	                                         percent_at_least_5, 20000));
	{
		g_autoptr(GVariant) phase = harness_get_property(h, HARNESS_IFACE_FOTA, "Phase");
		g_autoptr(GVariant) percent =
		        harness_get_property(h, HARNESS_IFACE_FOTA, "Percent");

		g_assert_cmpstr(g_variant_get_string(phase, NULL), ==, "uploading");
		g_assert_cmpuint(g_variant_get_uint32(percent), <, 60);
	}
	cancel_ok(h);
	result = finished(h, since, "upgrade-via-host", "Cancelled", 30000);
	phases = job_phases(h, since);
	g_assert_cmpstr(phases, ==, "fetching,uploading");

	/* The partial file is gone, and the module never started an update. */
	g_assert_cmpint(ufs_size(h, "fota.pack"), ==, -1);
	upl = harness_tty_find(h, mark, "AT+QFUPL=\"fota.pack\",");
	del = harness_tty_find(h, upl, "AT+QFDEL=\"fota.pack\"");
	g_assert_cmpint(upl, >=, 0);
	g_assert_cmpint(del, >, upl);
	g_assert_cmpuint(count_tty(h, mark, "AT+QFUPL"), ==, 1);
	assert_tty_only(h, mark, allowed);
}

static void
test_cancel_refused(void)
{
	/* Module phases that last about a second each, so the test can act inside them. */
	const char *const sim_args[] = { "--time-scale", "0.5", NULL };
	HarnessOptions opts = { .sim_args = sim_args };
	g_autoptr(Harness) h = harness_new(&opts);
	g_autofree char *pkg = make_package(h, "update.pack", NULL);
	g_autofree char *url = harness_url(h, "update.pack");
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) reply = NULL;
	g_autoptr(GVariant) result = NULL;
	g_autofree char *command = NULL;
	guint64 since;
	guint mark;
	const char *const allowed[] = { "AT+QFOTADL=\"", NULL };

	/* Idle: nothing to cancel, and nothing happens. */
	since = harness_mark(h);
	mark = harness_tty_mark(h);
	cancel_refused(h);
	assert_no_finished(h, since);
	assert_tty_only(h, mark, NULL);

	reply = harness_call(h, NULL, HARNESS_IFACE_FOTA, "Upgrade", g_variant_new("(s)", url),
	                     NULL, &error);
	g_assert_no_error(error);
	g_assert_true(harness_wait_property(h, HARNESS_IFACE_FOTA, "Phase",
	                                    g_variant_new_string("downloading"), 10000));
	cancel_refused(h);
	g_assert_true(harness_wait_property(h, HARNESS_IFACE_FOTA, "Phase",
	                                    g_variant_new_string("updating"), 20000));
	cancel_refused(h);
	/* The refusals did not disturb the job. */
	result = harness_wait_finished(h, since, 60000);
	g_assert_true(harness_dict_bool(result, "success"));
	g_assert_cmpstr(harness_dict_str(result, "kind"), ==, "upgrade");
	g_assert_cmpstr(revision(h), ==, HARNESS_REV_TO);
	cancel_refused(h);
	/* The module's own download, once; no file command, no second job. */
	command = g_strdup_printf("AT+QFOTADL=\"%s\"", url);
	g_assert_cmpuint(count_tty(h, mark, "AT+QFOTADL"), ==, 1);
	g_assert_cmpint(harness_tty_find(h, mark, command), >=, 0);
	assert_tty_only(h, mark, allowed);
}

/* A caller that starts a job and leaves the bus does not take the job with it. */
static void
test_disconnect_does_not_cancel(void)
{
	g_autoptr(Harness) h = harness_new(NULL);
	g_autofree char *pkg = make_package(h, "update.pack", NULL);
	g_autofree char *url = harness_url(h, "slow/update.pack?bps=" SLOW_BPS);
	g_autoptr(GDBusConnection) other = harness_new_client(h);
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) reply = NULL;
	g_autoptr(GVariant) result = NULL;
	g_autofree char *phases = NULL;
	guint64 since = harness_mark(h);
	guint mark = harness_tty_mark(h);
	const char *const allowed[] = { "AT+QFLDS=\"UFS\"",
		                        "AT+QFLST",
		                        "AT+QFDEL=\"fota.pack\"",
		                        "AT+QFUPL=\"fota.pack\",",
		                        "[data ",
		                        "AT+QFOTADL=1",
		                        NULL };

	reply = harness_call(h, other, HARNESS_IFACE_FOTA, "UpgradeViaHost",
	                     g_variant_new("(s@a{sv})", url, no_options()), NULL, &error);
	g_assert_no_error(error);
	g_assert_true(harness_wait_property(h, HARNESS_IFACE_FOTA, "Phase",
	                                    g_variant_new_string("fetching"), 10000));
	g_dbus_connection_close_sync(other, NULL, &error);
	g_assert_no_error(error);
	g_clear_object(&other);

	result = finished(h, since, "upgrade-via-host", NULL, 60000);
	g_assert_cmpstr(harness_dict_str(result, "source"), ==, url);
	phases = job_phases(h, since);
	g_assert_cmpstr(phases, ==, "fetching,uploading,updating,rebooting,verifying");
	g_assert_cmpuint(count_tty(h, mark, "AT+QFUPL"), ==, 1);
	g_assert_cmpuint(count_tty(h, mark, "AT+QFOTADL"), ==, 1);
	assert_tty_only(h, mark, allowed);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/local/success", test_local_success);
	g_test_add_func("/local/no-package", test_local_no_package);
	g_test_add_func("/local/end-error", test_local_end_error);
	g_test_add_func("/local/corrupt-package", test_local_corrupt_package);
	g_test_add_func("/from-file/regular", test_from_file_regular);
	g_test_add_func("/from-file/pipe", test_from_file_pipe);
	g_test_add_func("/via-host/http", test_http);
	g_test_add_func("/via-host/https", test_https);
	g_test_add_func("/cancel/from-file-fetching", test_cancel_from_file_fetching);
	g_test_add_func("/cancel/fetching", test_cancel_fetching);
	g_test_add_func("/cancel/uploading", test_cancel_uploading);
	g_test_add_func("/cancel/refused", test_cancel_refused);
	g_test_add_func("/cancel/disconnect-does-not-cancel", test_disconnect_does_not_cancel);
	return g_test_run();
}
