/* test-host.c: org.dfotad1.Fota.UpgradeViaHost against the real daemon, simulator and HTTP(S)
 * servers on 127.0.0.1: the full host-side job over http (and through redirects), https with a
 * test CA given in ca-file, the sha256 and from-revision options, and every way the gateway's
 * own download fails (404, 500, oversized, a stalled server). */
#include "harness.h"

#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#define MODEM1_PATH "/org/dfotad1/Modem/1"
#define CALL_MS 30000
#define MAX_PACKAGE "60000"

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
assert_lines_only(GPtrArray *lines, guint from, const char *const *allowed, const char *who)
{
	for (guint i = from; i < lines->len; i++) {
		const char *line = lines->pdata[i];

		if (strcmp(line, "AT") == 0 || has_any_prefix(line, baseline_prefixes) ||
		    has_any_prefix(line, allowed))
			continue;
		g_error("unexpected line on %s's tty (line %u): \"%s\"", who, i, line);
	}
}

static void
assert_tty_only(Harness *h, guint from, const char *const *allowed)
{
	g_autoptr(GPtrArray) lines = harness_tty_lines(h);

	assert_lines_only(lines, from, allowed, "the simulator");
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

static const char *
revision(Harness *h)
{
	static char rev[64];
	g_autoptr(GVariant) v = harness_get_property(h, HARNESS_IFACE_MODEM, "Revision");

	g_strlcpy(rev, g_variant_get_string(v, NULL), sizeof rev);
	return rev;
}

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

/* A method call refused with @error_name: no job, no Finished, nothing on the line. */
static void
via_host_refused(Harness *h, const char *url, GVariant *opts, const char *error_name)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) reply = NULL;
	g_autofree char *printed = g_variant_print(opts, TRUE);
	guint64 since = harness_mark(h);
	guint mark = harness_tty_mark(h);

	g_test_message("options %s", printed);
	reply = harness_call(h, NULL, HARNESS_IFACE_FOTA, "UpgradeViaHost",
	                     g_variant_new("(s@a{sv})", url, opts), NULL, &error);
	harness_assert_error(error, error_name);
	g_test_message("%s", error->message);
	assert_no_finished(h, since);
	assert_tty_only(h, mark, NULL);
}

/* ---- tests -------------------------------------------------------------------------------- */

/* ---- the failures, next to a stalled download on a second modem ---------------------------- */

typedef struct {
	Harness *h;
	const char *path;
	const char *state;
} StateWait;

static gboolean
modem_in_state(gpointer data)
{
	StateWait *sw = data;
	g_autoptr(GVariant) ret = g_dbus_connection_call_sync(
	        harness_bus(sw->h), HARNESS_BUS_NAME, sw->path, HARNESS_IFACE_PROPS, "Get",
	        g_variant_new("(ss)", HARNESS_IFACE_MODEM, "State"), G_VARIANT_TYPE("(v)"),
	        G_DBUS_CALL_FLAGS_NONE, CALL_MS, NULL, NULL);
	g_autoptr(GVariant) value = NULL;

	if (ret == NULL)
		return FALSE;
	g_variant_get(ret, "(v)", &value);
	return strcmp(g_variant_get_string(value, NULL), sw->state) == 0;
}

typedef struct {
	Harness *h;
	guint64 since;
	const char *path;
} FinishedWait;

static guint
count_finished_at(Harness *h, guint64 since, const char *path, GVariant **first)
{
	g_autoptr(GPtrArray) events = harness_events(h, since);
	guint n = 0;

	for (guint i = 0; i < events->len; i++) {
		HarnessEvent *ev = events->pdata[i];

		if (ev->type != HARNESS_EVENT_SIGNAL || g_strcmp0(ev->member, "Finished") != 0 ||
		    g_strcmp0(ev->iface, HARNESS_IFACE_FOTA) != 0 || g_strcmp0(ev->path, path) != 0)
			continue;
		if (n++ == 0 && first != NULL)
			*first = g_variant_get_child_value(ev->body, 0);
	}
	return n;
}

static gboolean
finished_at(gpointer data)
{
	FinishedWait *fw = data;

	return count_finished_at(fw->h, fw->since, fw->path, NULL) > 0;
}

static GPtrArray *
log_lines(const char *log)
{
	g_autofree char *contents = NULL;
	g_auto(GStrv) lines = NULL;
	GPtrArray *out = g_ptr_array_new_with_free_func(g_free);

	if (!g_file_get_contents(log, &contents, NULL, NULL))
		return out;
	lines = g_strsplit(contents, "\n", -1);
	for (guint i = 0; lines[i] != NULL; i++) {
		if (g_str_has_prefix(lines[i], "> "))
			g_ptr_array_add(out, g_strdup(lines[i] + 2));
	}
	return out;
}

static void
test_failures(void)
{
	g_autoptr(TestDir) dir = test_dir_new();
	g_autofree char *link1 = in_dir(dir, "tty1");
	g_autofree char *log1 = in_dir(dir, "sim1.log");
	g_autofree char *out1 = in_dir(dir, "sim1.out");
	g_autofree char *group = g_strdup_printf("max-package-size=" MAX_PACKAGE "\n"
	                                         "download-timeout=20\nupdate-timeout=20\n"
	                                         "fetch-timeout=3\n"
	                                         "[modem stall]\nport=%s\n",
	                                         link1);
	const char *keys[] = { group, NULL };
	HarnessOptions opts = { .daemon_keys = keys };
	g_autoptr(Aux) sim1 = NULL;
	g_autoptr(Harness) h = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) reply = NULL;
	g_autoptr(GVariant) result = NULL;
	g_autoptr(GVariant) stall_result = NULL;
	g_autoptr(GPtrArray) sim1_lines = NULL;
	g_autofree char *pkg = NULL;
	g_autofree char *url = NULL;
	g_autofree char *stall_url = NULL;
	g_autofree char *sha = NULL;
	g_autofree char *wrong_sha = NULL;
	g_autofree char *httpd_log = NULL;
	guint64 stall_since;
	gint64 stall_started;
	guint sim1_mark;

	{
		const char *argv[] = { g_getenv("DFOTA_SIM"),
			               "--link",
			               link1,
			               "--log",
			               log1,
			               "--revision",
			               HARNESS_REV_FROM,
			               "--imei",
			               "866971030054321",
			               "--time-scale",
			               "0.02",
			               NULL };

		g_assert_nonnull(argv[0]);
		sim1 = aux_start(argv, out1, out1, "READY ");
	}
	h = harness_new(&opts);
	{
		StateWait sw = { h, MODEM1_PATH, "ready" };

		if (!wait_cond(modem_in_state, &sw, 20000))
			g_error("Modem/1 on %s never became ready", link1);
	}
	harness_make_package(h, "update.pack", "BC65", HARNESS_REV_FROM, HARNESS_REV_TO, NULL);
	pkg = package_path(h, "update.pack");
	url = harness_url(h, "update.pack");
	sha = sha256_of(pkg);

	/* Modem/1: a server that sends half the package, then nothing. Only the gateway's
	 * low-speed timeout can end it; meanwhile Modem/0 goes through everything else. */
	stall_url = harness_url(h, "stall/update.pack");
	sim1_lines = log_lines(log1);
	sim1_mark = sim1_lines->len;
	g_clear_pointer(&sim1_lines, g_ptr_array_unref);
	stall_since = harness_mark(h);
	stall_started = g_get_monotonic_time();
	reply = g_dbus_connection_call_sync(
	        harness_bus(h), HARNESS_BUS_NAME, MODEM1_PATH, HARNESS_IFACE_FOTA, "UpgradeViaHost",
	        g_variant_new("(s@a{sv})", stall_url, options(NULL, NULL)), NULL,
	        G_DBUS_CALL_FLAGS_NONE, CALL_MS, NULL, &error);
	g_assert_no_error(error);
	g_clear_pointer(&reply, g_variant_unref);

	/* Options: unknown keys and wrong types. */
	{
		GVariantBuilder b;

		g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
		g_variant_builder_add(&b, "{sv}", "sha-256", g_variant_new_string(sha));
		via_host_refused(h, url, g_variant_builder_end(&b), "InvalidArgument");
		g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
		g_variant_builder_add(&b, "{sv}", "sha256", g_variant_new_bytestring(sha));
		via_host_refused(h, url, g_variant_builder_end(&b), "InvalidArgument");
		g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
		g_variant_builder_add(&b, "{sv}", "sha256", g_variant_new_string("abc123"));
		via_host_refused(h, url, g_variant_builder_end(&b), "InvalidArgument");
		g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
		g_variant_builder_add(&b, "{sv}", "from-revision", g_variant_new_uint32(1));
		via_host_refused(h, url, g_variant_builder_end(&b), "InvalidArgument");
	}
	/* The module runs another revision: refused before a byte moves (no request either). */
	{
		g_autofree char *marked = harness_url(h, "update.pack?revision-check=1");
		g_autofree char *log = g_build_filename(harness_tmpdir(h), "httpd.log", NULL);

		via_host_refused(h, marked, options(sha, "BC65JAR01A00"), "RevisionMismatch");
		g_assert_true(g_file_get_contents(log, &httpd_log, NULL, NULL));
		g_assert_null(strstr(httpd_log, "revision-check"));
	}
	/* A package that is not the expected one: nothing is uploaded. */
	wrong_sha = g_strdup(sha);
	wrong_sha[0] = wrong_sha[0] == '0' ? '1' : '0';
	result = via_host_fails(h, url, options(wrong_sha, NULL), "ChecksumMismatch");
	g_assert_cmpint(ufs_size(h, "fota.pack"), ==, -1);
	g_clear_pointer(&result, g_variant_unref);

	/* HTTP errors carry the status. */
	for (guint i = 0; i < 2; i++) {
		const char *status = i == 0 ? "404" : "500";
		g_autofree char *path = g_strdup_printf("status/%s", status);
		g_autofree char *status_url = harness_url(h, path);

		result = via_host_fails(h, status_url, options(NULL, NULL), "FetchFailed");
		g_assert_nonnull(strstr(harness_dict_str(result, "message"), status));
		g_clear_pointer(&result, g_variant_unref);
	}
	/* Larger than max-package-size. */
	{
		const char *const big[] = { "--payload-size", "80000", NULL };
		g_autofree char *big_url = harness_url(h, "big.pack");

		harness_make_package(h, "big.pack", "BC65", HARNESS_REV_FROM, HARNESS_REV_TO, big);
		result = via_host_fails(h, big_url, options(NULL, NULL), "PackageTooLarge");
		g_clear_pointer(&result, g_variant_unref);
	}
	g_assert_cmpint(ufs_size(h, "fota.pack"), ==, -1);
	g_assert_cmpuint(count_tty(h, 0, "AT+QFUPL"), ==, 0);

	/* Modem/1: the stalled download ends with FetchFailed, once, after the low-speed
	 * timeout, and its module never saw an upload. */
	{
		FinishedWait fw = { h, stall_since, MODEM1_PATH };
		g_autofree char *printed = NULL;
		g_autofree char *phases = NULL;
		g_autofree char *lower = NULL;
		const char *const allowed[] = { NULL };

		g_assert_true(wait_cond(finished_at, &fw, 30000));
		g_test_message("stall ended after %.1f s",
		               (g_get_monotonic_time() - stall_started) / 1e6);
		harness_round_trip(h);
		g_free(harness_command(h, NULL, "AT", 0, NULL));
		harness_round_trip(h);
		g_assert_cmpuint(count_finished_at(h, stall_since, MODEM1_PATH, &stall_result), ==,
		                 1);
		printed = g_variant_print(stall_result, TRUE);
		g_test_message("Modem/1 Finished: %s", printed);
		g_assert_false(harness_dict_bool(stall_result, "success"));
		g_assert_true(harness_error_name_is(harness_dict_str(stall_result, "error"),
		                                    "FetchFailed"));
		g_assert_cmpstr(harness_dict_str(stall_result, "source"), ==, stall_url);
		lower = g_ascii_strdown(harness_dict_str(stall_result, "message"), -1);
		g_assert_true(strstr(lower, "slow") != NULL || strstr(lower, "time") != NULL);
		phases = job_phases_at(h, MODEM1_PATH, stall_since, NULL);
		g_assert_cmpstr(phases, ==, "fetching");
		sim1_lines = log_lines(log1);
		assert_lines_only(sim1_lines, sim1_mark, allowed, "the second simulator");
	}
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/via-host/failures", test_failures);
	return g_test_run();
}
