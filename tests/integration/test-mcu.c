/* test-mcu.c: org.dfotad1.Fota.FetchMcuFile (seed 3.3) against the real daemon and simulator:
 * with a file name, with the name taken from the URL, with an illegal URL name (the module's
 * mcu_update.bin), the file name rules, and HTTPEND errors. */
#include "harness.h"

#include <fcntl.h>
#include <gio/gunixfdlist.h>
#include <string.h>
#include <unistd.h>

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
count_tty_exact(Harness *h, guint from, const char *line)
{
	g_autoptr(GPtrArray) lines = harness_tty_lines(h);
	guint n = 0;

	for (guint i = from; i < lines->len; i++) {
		if (strcmp(lines->pdata[i], line) == 0)
			n++;
	}
	return n;
}

/* ---- jobs ------------------------------------------------------------------------------------ */

/* The phases the job entered since @since, comma-separated, without the final "idle"; checks
 * every Progress: percent at most 100 and never decreasing within one stay in a phase. */
static char *
job_phases(Harness *h, guint64 since)
{
	g_autoptr(GPtrArray) events = harness_events(h, since);
	g_autoptr(GString) phases = g_string_new(NULL);
	g_autofree char *current = NULL;
	guint last = 0;

	for (guint i = 0; i < events->len; i++) {
		HarnessEvent *ev = events->pdata[i];
		const char *phase;
		guint32 percent;

		if (ev->type != HARNESS_EVENT_SIGNAL || g_strcmp0(ev->member, "Progress") != 0 ||
		    g_strcmp0(ev->path, HARNESS_MODEM_PATH) != 0)
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
	}
	if (g_str_has_suffix(phases->str, ",idle"))
		g_string_truncate(phases, phases->len - strlen(",idle"));
	return g_string_free(g_steal_pointer(&phases), FALSE);
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

/* Files.Download of @name; returns its bytes. */
static GBytes *
ufs_read(Harness *h, const char *name)
{
	g_autofree char *path = g_build_filename(harness_tmpdir(h), "download.bin", NULL);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	g_autoptr(GUnixFDList) fds = g_unix_fd_list_new();
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) ret = NULL;
	char *contents = NULL;
	gsize len = 0;

	g_assert_cmpint(fd, >=, 0);
	g_unix_fd_list_append(fds, fd, &error);
	g_assert_no_error(error);
	close(fd);
	ret = g_dbus_connection_call_with_unix_fd_list_sync(
	        harness_bus(h), HARNESS_BUS_NAME, HARNESS_MODEM_PATH, HARNESS_IFACE_FILES,
	        "Download", g_variant_new("(sh)", name, 0), NULL, G_DBUS_CALL_FLAGS_NONE, 30000,
	        fds, NULL, NULL, &error);
	g_assert_no_error(error);
	g_assert_true(g_file_get_contents(path, &contents, &len, NULL));
	return g_bytes_new_take(contents, len);
}

/* A file of @size reproducible bytes in the HTTP root under @name. */
static GBytes *
serve_file(Harness *h, const char *name, gsize size)
{
	g_autofree char *path = g_build_filename(harness_tmpdir(h), "www", name, NULL);
	g_autoptr(GRand) rand = g_rand_new_with_seed((guint32)size);
	guint8 *buf = g_malloc(size);
	g_autoptr(GError) error = NULL;

	for (gsize i = 0; i < size; i++)
		buf[i] = (guint8)g_rand_int_range(rand, 0, 256);
	g_file_set_contents(path, (const char *)buf, (gssize)size, &error);
	g_assert_no_error(error);
	return g_bytes_new_take(buf, size);
}

/* One FetchMcuFile that must succeed and land @expect_name with @content in UFS. */
static void
fetch_ok(Harness *h, const char *url, const char *filename, const char *expect_name,
         GBytes *content)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) reply = NULL;
	g_autoptr(GVariant) result = NULL;
	g_autoptr(GBytes) back = NULL;
	g_autofree char *phases = NULL;
	g_autofree char *printed = NULL;
	g_autofree char *command = NULL;
	guint64 since = harness_mark(h);
	guint mark = harness_tty_mark(h);
	const char *const allowed[] = { "AT+QFOTADL=2,", "AT+QFLST", "AT+QFDWL=", NULL };

	reply = harness_call(h, NULL, HARNESS_IFACE_FOTA, "FetchMcuFile",
	                     g_variant_new("(ss)", url, filename), NULL, &error);
	g_assert_no_error(error);
	result = harness_wait_finished(h, since, 30000);
	printed = g_variant_print(result, TRUE);
	g_test_message("Finished: %s", printed);
	g_assert_true(harness_dict_bool(result, "success"));
	g_assert_cmpint(harness_dict_int(result, "code"), ==, 0);
	g_assert_cmpstr(harness_dict_str(result, "error"), ==, "");
	g_assert_cmpstr(harness_dict_str(result, "kind"), ==, "fetch-mcu-file");
	g_assert_cmpstr(harness_dict_str(result, "source"), ==, url);
	g_assert_cmpstr(harness_dict_str(result, "file"), ==, expect_name);
	g_assert_cmpuint(harness_dict_uint64(result, "size"), ==, g_bytes_get_size(content));
	assert_idle_with_result(h, result);

	/* Module-side download only: no reboot, no verification. */
	phases = job_phases(h, since);
	g_assert_cmpstr(phases, ==, "downloading");

	/* What the module reported matches its file list and the served bytes. */
	g_assert_cmpint(ufs_size(h, expect_name), ==, (gint64)g_bytes_get_size(content));
	back = ufs_read(h, expect_name);
	g_assert_true(g_bytes_equal(back, content));

	/* Exactly the seed's command, once; the filename parameter only when given. */
	if (*filename)
		command = g_strdup_printf("AT+QFOTADL=2,\"%s\",\"%s\"", url, filename);
	else
		command = g_strdup_printf("AT+QFOTADL=2,\"%s\"", url);
	g_assert_cmpuint(count_tty_exact(h, mark, command), ==, 1);
	{
		g_autoptr(GPtrArray) lines = harness_tty_lines(h);
		guint n = 0;

		for (guint i = mark; i < lines->len; i++)
			n += g_str_has_prefix(lines->pdata[i], "AT+QFOTADL") ? 1 : 0;
		g_assert_cmpuint(n, ==, 1);
	}
	assert_tty_only(h, mark, allowed);
}

/* ---- tests -------------------------------------------------------------------------------- */

static void
test_named(void)
{
	g_autoptr(Harness) h = harness_new(NULL);
	g_autoptr(GBytes) content = serve_file(h, "mcu.bin", 3000);
	g_autofree char *url = harness_url(h, "mcu.bin");

	fetch_ok(h, url, "target.bin", "target.bin", content);
	/* The URL's own name was not used. */
	g_assert_cmpint(ufs_size(h, "mcu.bin"), ==, -1);
}

static void
test_name_from_url(void)
{
	g_autoptr(Harness) h = harness_new(NULL);
	g_autoptr(GBytes) content = serve_file(h, "firmware_v2-1.bin", 4100);
	g_autofree char *url = harness_url(h, "firmware_v2-1.bin");

	fetch_ok(h, url, "", "firmware_v2-1.bin", content);
}

static void
test_illegal_url_name(void)
{
	g_autoptr(Harness) h = harness_new(NULL);
	g_autoptr(GString) long_name = g_string_new(NULL);
	g_autoptr(GBytes) plus = serve_file(h, "mcu+v2.bin", 1500);
	g_autoptr(GBytes) longer = NULL;
	g_autofree char *url = harness_url(h, "mcu+v2.bin");
	g_autofree char *long_url = NULL;

	/* A character the module does not take in a name: seed 3.3's mcu_update.bin. */
	fetch_ok(h, url, "", "mcu_update.bin", plus);
	g_assert_cmpint(ufs_size(h, "mcu+v2.bin"), ==, -1);

	/* A name longer than 58 bytes: the same. */
	while (long_name->len < 60)
		g_string_append_c(long_name, 'm');
	g_string_append(long_name, ".bin");
	longer = serve_file(h, long_name->str, 2500);
	long_url = harness_url(h, long_name->str);
	fetch_ok(h, long_url, "", "mcu_update.bin", longer);
}

static void
test_invalid_filename(void)
{
	g_autoptr(Harness) h = harness_new(NULL);
	g_autoptr(GBytes) content = serve_file(h, "mcu.bin", 1000);
	g_autofree char *url = harness_url(h, "mcu.bin");
	g_autoptr(GString) too_long = g_string_new(NULL);
	g_autoptr(GString) longest = g_string_new(NULL);
	guint64 since = harness_mark(h);
	guint mark = harness_tty_mark(h);
	const char *names[] = { NULL /* 59 bytes */, "dir/mcu.bin", "dir\\mcu.bin", "mcu\".bin",
		                "mcu\r\n.bin",       "mcu\x01.bin", "mcu\x7f.bin" };

	while (too_long->len < 59)
		g_string_append_c(too_long, 'f');
	names[0] = too_long->str;
	for (guint i = 0; i < G_N_ELEMENTS(names); i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(GVariant) reply = NULL;

		reply = harness_call(h, NULL, HARNESS_IFACE_FOTA, "FetchMcuFile",
		                     g_variant_new("(ss)", url, names[i]), NULL, &error);
		harness_assert_error(error, "InvalidFilename");
		g_test_message("%s", error->message);
	}
	/* Nothing was started and nothing reached the module. */
	assert_no_finished(h, since);
	assert_tty_only(h, mark, NULL);
	{
		g_autoptr(GVariant) job = harness_get_property(h, HARNESS_IFACE_FOTA, "Job");

		g_assert_cmpuint(g_variant_n_children(job), ==, 0);
	}

	/* 58 bytes is the longest name the module takes. */
	while (longest->len < 58)
		g_string_append_c(longest, 'g');
	fetch_ok(h, url, longest->str, longest->str, content);
}

static void
fetch_fails(Harness *h, const char *url, const char *error_name, int code)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) reply = NULL;
	g_autoptr(GVariant) result = NULL;
	g_autofree char *printed = NULL;
	g_autofree char *phases = NULL;
	guint64 since = harness_mark(h);
	guint mark = harness_tty_mark(h);
	const char *const allowed[] = { "AT+QFOTADL=2,", NULL };

	reply = harness_call(h, NULL, HARNESS_IFACE_FOTA, "FetchMcuFile",
	                     g_variant_new("(ss)", url, "out.bin"), NULL, &error);
	g_assert_no_error(error);
	result = harness_wait_finished(h, since, 30000);
	printed = g_variant_print(result, TRUE);
	g_test_message("Finished: %s", printed);
	g_assert_false(harness_dict_bool(result, "success"));
	g_assert_true(harness_error_name_is(harness_dict_str(result, "error"), error_name));
	g_assert_cmpint(harness_dict_int(result, "code"), ==, code);
	g_assert_cmpstr(harness_dict_str(result, "kind"), ==, "fetch-mcu-file");
	assert_idle_with_result(h, result);
	phases = job_phases(h, since);
	g_assert_cmpstr(phases, ==, "downloading");
	assert_tty_only(h, mark, allowed);
	g_assert_cmpint(ufs_size(h, "out.bin"), ==, -1);
}

static void
test_httpend_errors(void)
{
	g_autoptr(Harness) h = harness_new(NULL);
	g_autoptr(GBytes) content = serve_file(h, "mcu.bin", 2000);
	g_autofree char *missing = harness_url(h, "nosuch.bin");
	g_autofree char *url = harness_url(h, "mcu.bin");

	/* The module's HTTP 404: HTTPEND,6504. */
	fetch_fails(h, missing, "PackageNotFound", 6504);
	/* The module cannot write the file: HTTPEND,6505. */
	harness_control(h, "error 6505 httpend");
	fetch_fails(h, url, "FlashWriteFailed", 6505);
	/* The module is usable again afterwards. */
	fetch_ok(h, url, "out.bin", "out.bin", content);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/mcu/named", test_named);
	g_test_add_func("/mcu/name-from-url", test_name_from_url);
	g_test_add_func("/mcu/illegal-url-name", test_illegal_url_name);
	g_test_add_func("/mcu/invalid-filename", test_invalid_filename);
	g_test_add_func("/mcu/httpend-errors", test_httpend_errors);
	return g_test_run();
}
