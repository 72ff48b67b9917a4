/* test-files.c: org.dfotad1.Files against the real daemon and simulator: List, Delete,
 * Upload and Download round trips, free space, the acknowledged transfer mode against a UART
 * without flow control (and its negative control: flow=rtscts configured, none on the line),
 * fd checks, file name rules, and passthrough commands queued behind a data phase. */
#include "harness.h"

#include <fcntl.h>
#include <gio/gunixfdlist.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#define MODEM1_PATH "/org/dfotad1/Modem/1"
#define CALL_MS 60000

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
count_lines(GPtrArray *lines, guint from, const char *prefix)
{
	guint n = 0;

	for (guint i = from; i < lines->len; i++) {
		if (g_str_has_prefix(lines->pdata[i], prefix))
			n++;
	}
	return n;
}

static guint
count_tty(Harness *h, guint from, const char *prefix)
{
	g_autoptr(GPtrArray) lines = harness_tty_lines(h);

	return count_lines(lines, from, prefix);
}

/* ---- waiting without the harness's private helpers ------------------------------------------- */

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
 * (the harness's filter wakes the context), replies of async calls and child exits wake it;
 * a slow tick re-checks conditions on files. */
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

/* ---- calls ------------------------------------------------------------------------------------ */

static GVariant *
call_path(Harness *h, const char *path, const char *iface, const char *method, GVariant *params,
          int fd, GError **error)
{
	g_autoptr(GUnixFDList) fds = NULL;

	if (fd >= 0) {
		g_autoptr(GError) local = NULL;

		fds = g_unix_fd_list_new();
		g_unix_fd_list_append(fds, fd, &local);
		g_assert_no_error(local);
	}
	return g_dbus_connection_call_with_unix_fd_list_sync(
	        harness_bus(h), HARNESS_BUS_NAME, path, iface, method, params, NULL,
	        G_DBUS_CALL_FLAGS_NONE, CALL_MS, fds, NULL, NULL, error);
}

static GVariant *
files_call(Harness *h, const char *method, GVariant *params, int fd, GError **error)
{
	return call_path(h, HARNESS_MODEM_PATH, HARNESS_IFACE_FILES, method, params, fd, error);
}

/* Files.List on @path: the size of @name, or -1 when it is not listed. */
static gint64
ufs_size_at(Harness *h, const char *path, const char *name)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) ret = call_path(h, path, HARNESS_IFACE_FILES, "List", NULL, -1, &error);
	g_autoptr(GVariantIter) iter = NULL;
	const char *fname;
	guint64 size;
	gint64 found = -1;

	g_assert_no_error(error);
	g_assert_cmpstr(g_variant_get_type_string(ret), ==, "(a(st))");
	g_variant_get(ret, "(a(st))", &iter);
	while (g_variant_iter_next(iter, "(&st)", &fname, &size)) {
		if (strcmp(fname, name) == 0)
			found = (gint64)size;
	}
	return found;
}

static gint64
ufs_size(Harness *h, const char *name)
{
	return ufs_size_at(h, HARNESS_MODEM_PATH, name);
}

/* Random bytes (seeded: reproducible) written into a new file in the test's directory. */
static GBytes *
make_data(Harness *h, const char *name, gsize size, guint32 seed, char **path_out)
{
	g_autoptr(GRand) rand = g_rand_new_with_seed(seed);
	guint8 *buf = g_malloc(size);
	g_autoptr(GError) error = NULL;

	for (gsize i = 0; i < size; i++)
		buf[i] = (guint8)g_rand_int_range(rand, 0, 256);
	*path_out = g_build_filename(harness_tmpdir(h), name, NULL);
	g_file_set_contents(*path_out, (const char *)buf, (gssize)size, &error);
	g_assert_no_error(error);
	return g_bytes_new_take(buf, size);
}

static int
open_or_die(const char *path, int flags)
{
	int fd = open(path, flags | O_CLOEXEC, 0600);

	g_assert_cmpint(fd, >=, 0);
	return fd;
}

static void
upload_path(Harness *h, const char *path, const char *name, GError **error)
{
	int fd = open_or_die(path, O_RDONLY);
	g_autoptr(GVariant) ret =
	        files_call(h, "Upload", g_variant_new("(sh)", name, 0), fd, error);

	close(fd);
}

/* Files.Download into a new file; returns its contents. */
static GBytes *
download(Harness *h, const char *name, GError **error)
{
	g_autofree char *path = g_strdup_printf("%s/download-%s", harness_tmpdir(h), name);
	int fd = open_or_die(path, O_WRONLY | O_CREAT | O_TRUNC);
	g_autoptr(GVariant) ret =
	        files_call(h, "Download", g_variant_new("(sh)", name, 0), fd, error);
	char *contents = NULL;
	gsize len = 0;

	close(fd);
	if (ret == NULL)
		return NULL;
	g_assert_true(g_file_get_contents(path, &contents, &len, NULL));
	return g_bytes_new_take(contents, len);
}

static void
assert_bytes_equal(GBytes *a, GBytes *b)
{
	g_assert_cmpuint(g_bytes_get_size(a), ==, g_bytes_get_size(b));
	g_assert_true(g_bytes_equal(a, b));
}

/* ---- a second simulator (for a second modem with its own [modem NAME] group) ------------- */

typedef struct {
	GSubprocess *proc;
	char *dir;
	char *link;
	char *log;
	char *out;
} ExtraSim;

static void
child_setup(gpointer data)
{
	prctl(PR_SET_PDEATHSIG, SIGTERM);
}

static gboolean
extra_sim_ready(gpointer data)
{
	ExtraSim *s = data;
	g_autofree char *out = NULL;

	if (g_subprocess_get_identifier(s->proc) == NULL)
		return TRUE; /* exited: the caller's checks fail with its output */
	if (!g_file_get_contents(s->out, &out, NULL, NULL))
		return FALSE;
	return strstr(out, "READY ") != NULL;
}

/* Starts dfota-sim on its own pty (@args after the defaults) and waits for it. */
static ExtraSim *
extra_sim_start(const char *const *args)
{
	ExtraSim *s = g_new0(ExtraSim, 1);
	g_autoptr(GSubprocessLauncher) launcher =
	        g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDERR_MERGE);
	g_autoptr(GPtrArray) argv = g_ptr_array_new();
	g_autoptr(GError) error = NULL;
	g_autofree char *out = NULL;

	s->dir = g_dir_make_tmp("dfotad-files-sim-XXXXXX", &error);
	g_assert_no_error(error);
	s->link = g_build_filename(s->dir, "tty", NULL);
	s->log = g_build_filename(s->dir, "sim.log", NULL);
	s->out = g_build_filename(s->dir, "sim.out", NULL);
	g_ptr_array_add(argv, (gpointer)g_getenv("DFOTA_SIM"));
	g_assert_nonnull(argv->pdata[0]);
	{
		const char *const defaults[] = { "--link", s->link,           "--log",
			                         s->log,   "--revision",      HARNESS_REV_FROM,
			                         "--imei", "866971030054321", "--time-scale",
			                         "0.02" };

		for (guint i = 0; i < G_N_ELEMENTS(defaults); i++)
			g_ptr_array_add(argv, (gpointer)defaults[i]);
	}
	for (guint i = 0; args != NULL && args[i] != NULL; i++)
		g_ptr_array_add(argv, (gpointer)args[i]);
	g_ptr_array_add(argv, NULL);
	g_subprocess_launcher_set_stdout_file_path(launcher, s->out);
	g_subprocess_launcher_set_child_setup(launcher, child_setup, NULL, NULL);
	s->proc = g_subprocess_launcher_spawnv(launcher, (const char *const *)argv->pdata, &error);
	g_assert_no_error(error);
	g_test_message("second simulator pid %s on %s", g_subprocess_get_identifier(s->proc),
	               s->link);
	if (!wait_cond(extra_sim_ready, s, 20000) || g_subprocess_get_identifier(s->proc) == NULL) {
		g_file_get_contents(s->out, &out, NULL, NULL);
		g_error("the second simulator did not start: %s", out);
	}
	return s;
}

static gboolean
extra_sim_exited(gpointer data)
{
	return g_subprocess_get_identifier(((ExtraSim *)data)->proc) == NULL;
}

static void
on_extra_exit(GObject *source, GAsyncResult *res, gpointer data)
{
	g_subprocess_wait_finish(G_SUBPROCESS(source), res, NULL);
}

static void
extra_sim_free(ExtraSim *s)
{
	if (s == NULL)
		return;
	if (!extra_sim_exited(s)) {
		g_subprocess_wait_async(s->proc, NULL, on_extra_exit, NULL);
		g_subprocess_send_signal(s->proc, SIGTERM);
		if (!wait_cond(extra_sim_exited, s, 5000)) {
			g_subprocess_force_exit(s->proc);
			g_subprocess_wait(s->proc, NULL, NULL);
		}
	}
	if (g_test_failed()) {
		g_autofree char *log = NULL;

		g_file_get_contents(s->log, &log, NULL, NULL);
		g_printerr("==== second simulator's log ====\n%s\nkept %s\n", log ? log : "",
		           s->dir);
	} else {
		g_unlink(s->link);
		g_unlink(s->log);
		g_unlink(s->out);
		g_rmdir(s->dir);
	}
	g_clear_object(&s->proc);
	g_free(s->dir);
	g_free(s->link);
	g_free(s->log);
	g_free(s->out);
	g_free(s);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ExtraSim, extra_sim_free)

static GPtrArray *
extra_sim_lines(ExtraSim *s)
{
	g_autofree char *contents = NULL;
	g_auto(GStrv) lines = NULL;
	GPtrArray *out = g_ptr_array_new_with_free_func(g_free);

	if (!g_file_get_contents(s->log, &contents, NULL, NULL))
		return out;
	lines = g_strsplit(contents, "\n", -1);
	for (guint i = 0; lines[i] != NULL; i++) {
		if (g_str_has_prefix(lines[i], "> "))
			g_ptr_array_add(out, g_strdup(lines[i] + 2));
	}
	return out;
}

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

/* A daemon with Modem/0 on the harness's simulator (--port) and Modem/1 on @extra, configured
 * in its own [modem NAME] group with @modem_keys (the harness writes [daemon] keys only, so
 * the group is appended after them). */
static Harness *
harness_with_second_modem(ExtraSim *extra, const char *modem_keys)
{
	g_autofree char *group = g_strdup_printf("download-timeout=20\nupdate-timeout=20\n"
	                                         "upload-timeout=2\n[modem flow]\nport=%s\n%s",
	                                         extra->link, modem_keys);
	const char *const keys[] = { group, NULL };
	HarnessOptions opts = { .daemon_keys = keys };
	Harness *h = harness_new(&opts);
	StateWait sw = { h, MODEM1_PATH, "ready" };

	if (!wait_cond(modem_in_state, &sw, 20000))
		g_error("Modem/1 on %s never became ready", extra->link);
	return h;
}

/* ---- tests -------------------------------------------------------------------------------- */

static void
test_round_trip(void)
{
	g_autoptr(Harness) h = harness_new(NULL);
	g_autoptr(GError) error = NULL;
	g_autofree char *path = NULL;
	g_autofree char *path2 = NULL;
	g_autoptr(GBytes) data = make_data(h, "data.bin", 5000, 1, &path);
	g_autoptr(GBytes) data2 = make_data(h, "odd.bin", 2049, 2, &path2);
	g_autoptr(GBytes) back = NULL;
	g_autoptr(GBytes) back2 = NULL;
	g_autoptr(GVariant) ret = NULL;
	g_autoptr(GString) long_name = g_string_new(NULL);
	guint64 since = harness_mark(h);
	guint mark = harness_tty_mark(h);
	const char *const allowed[] = {
		"AT+QFLDS=\"UFS\"", "AT+QFLST", "AT+QFDEL=\"", "AT+QFUPL=\"",
		"AT+QFDWL=\"",      "[data ",   NULL
	};
	int pipefd[2];

	g_assert_cmpint(ufs_size(h, "data.bin"), ==, -1);
	upload_path(h, path, "data.bin", &error);
	g_assert_no_error(error);
	g_assert_cmpint(ufs_size(h, "data.bin"), ==, 5000);
	back = download(h, "data.bin", &error);
	g_assert_no_error(error);
	assert_bytes_equal(data, back);

	/* From a pipe, with an odd size (the checksum's last byte counts as a high byte), under
	 * the longest legal name; replacing works too. */
	while (long_name->len < 58)
		g_string_append_c(long_name, 'n');
	for (guint round = 0; round < 2; round++) {
		g_assert_cmpint(pipe2(pipefd, O_CLOEXEC), ==, 0);
		g_assert_cmpint(write(pipefd[1], g_bytes_get_data(data2, NULL), 2049), ==, 2049);
		close(pipefd[1]);
		ret = files_call(h, "Upload", g_variant_new("(sh)", long_name->str, 0), pipefd[0],
		                 &error);
		close(pipefd[0]);
		g_assert_no_error(error);
		g_clear_pointer(&ret, g_variant_unref);
	}
	g_assert_cmpint(ufs_size(h, long_name->str), ==, 2049);
	back2 = download(h, long_name->str, &error);
	g_assert_no_error(error);
	assert_bytes_equal(data2, back2);

	/* A file that is not there: the module's error, named. */
	g_clear_pointer(&back, g_bytes_unref);
	back = download(h, "nosuch.bin", &error);
	g_assert_null(back);
	harness_assert_error(error, "CmeError");
	g_clear_error(&error);

	ret = files_call(h, "Delete", g_variant_new("(s)", "data.bin"), -1, &error);
	g_assert_no_error(error);
	g_assert_cmpint(ufs_size(h, "data.bin"), ==, -1);
	g_assert_cmpint(ufs_size(h, long_name->str), ==, 2049);

	/* On the line: acknowledged mode (ackmode 1: no flow control configured), one upload
	 * command per upload, nothing but file commands. */
	{
		g_autoptr(GPtrArray) lines = harness_tty_lines(h);
		g_autofree char *upl = g_strdup_printf("AT+QFUPL=\"%s\",2049,", long_name->str);

		g_assert_cmpuint(count_lines(lines, mark, "AT+QFUPL="), ==, 3);
		g_assert_cmpuint(count_lines(lines, mark, "AT+QFUPL=\"data.bin\",5000,"), ==, 1);
		g_assert_cmpuint(count_lines(lines, mark, upl), ==, 2);
		for (guint i = mark; i < lines->len; i++) {
			if (g_str_has_prefix(lines->pdata[i], "AT+QFUPL="))
				g_assert_true(g_str_has_suffix(lines->pdata[i], ",1"));
		}
		g_assert_cmpuint(count_lines(lines, mark, "AT+QFDEL=\"data.bin\""), ==, 1);
		g_assert_cmpuint(count_lines(lines, mark, "[data "), ==, 3);
	}
	assert_tty_only(h, mark, allowed);
	harness_round_trip(h);
	g_assert_cmpuint(harness_count_signals(h, since, HARNESS_IFACE_FOTA, "Finished"), ==, 0);
}

static void
test_no_space(void)
{
	const char *const sim_args[] = { "--ufs-size", "8192", NULL };
	HarnessOptions opts = { .sim_args = sim_args };
	g_autoptr(Harness) h = harness_new(&opts);
	g_autoptr(GError) error = NULL;
	g_autofree char *small = NULL;
	g_autofree char *big = NULL;
	g_autoptr(GBytes) small_data = make_data(h, "small.bin", 5000, 3, &small);
	g_autoptr(GBytes) big_data = make_data(h, "big.bin", 4000, 4, &big);
	guint mark;
	const char *const allowed[] = { "AT+QFLDS=\"UFS\"", "AT+QFLST", NULL };

	upload_path(h, small, "small.bin", &error);
	g_assert_no_error(error);
	g_assert_cmpint(ufs_size(h, "small.bin"), ==, 5000);

	/* 4000 more bytes do not fit in the 3192 left: refused before AT+QFUPL. */
	mark = harness_tty_mark(h);
	upload_path(h, big, "big.bin", &error);
	harness_assert_error(error, "PackageTooLarge");
	g_test_message("%s", error->message);
	g_assert_cmpint(ufs_size(h, "big.bin"), ==, -1);
	g_assert_cmpint(ufs_size(h, "small.bin"), ==, 5000);
	g_assert_cmpuint(count_tty(h, mark, "AT+QFLDS"), >=, 1);
	assert_tty_only(h, mark, allowed);
}

/* Negative control of the acknowledged mode: the daemon believes in RTS/CTS and streams, the
 * line has no flow control and the module's small rx FIFO overflows while it writes flash. */
static void
test_rtscts_without_flow_control(void)
{
	const char *const sim_args[] = { "--flow", "none", "--ack-turnaround", "20", NULL };
	g_autoptr(ExtraSim) extra = extra_sim_start(sim_args);
	g_autoptr(Harness) h = harness_with_second_modem(extra, "flow=rtscts\n");
	g_autoptr(GError) error = NULL;
	g_autofree char *path = NULL;
	g_autoptr(GBytes) data = make_data(h, "data.bin", 20000, 5, &path);
	g_autoptr(GPtrArray) before = extra_sim_lines(extra);
	g_autoptr(GPtrArray) lines = NULL;
	g_autoptr(GVariant) ret = NULL;
	const char *const allowed[] = { "AT+QFLDS=\"UFS\"",
		                        "AT+QFLST",
		                        "AT+QFDEL=\"data.bin\"",
		                        "AT+QFUPL=\"data.bin\",20000,",
		                        "[data ",
		                        NULL };
	guint mark = before->len;
	int fd = open_or_die(path, O_RDONLY);

	ret = call_path(h, MODEM1_PATH, HARNESS_IFACE_FILES, "Upload",
	                g_variant_new("(sh)", "data.bin", 0), fd, &error);
	close(fd);
	harness_assert_error(error, "ChecksumMismatch");
	g_test_message("%s", error->message);
	/* No partial file left behind. */
	g_assert_cmpint(ufs_size_at(h, MODEM1_PATH, "data.bin"), ==, -1);

	lines = extra_sim_lines(extra);
	/* Streamed: ackmode 0. */
	g_assert_cmpuint(count_lines(lines, mark, "AT+QFUPL=\"data.bin\",20000,2,0"), ==, 1);
	g_assert_cmpuint(count_lines(lines, mark, "AT+QFDEL=\"data.bin\""), >=, 1);
	assert_lines_only(lines, mark, allowed, "the second simulator");
	/* Modem/0 (flow none) saw none of it. */
	g_assert_cmpint(harness_tty_find(h, 0, "AT+QFUPL"), <, 0);
}

static void
test_rtscts_with_flow_control(void)
{
	const char *const sim_args[] = { "--flow", "rtscts", "--ack-turnaround", "20", NULL };
	g_autoptr(ExtraSim) extra = extra_sim_start(sim_args);
	g_autoptr(Harness) h = harness_with_second_modem(extra, "flow=rtscts\n");
	g_autoptr(GError) error = NULL;
	g_autofree char *path = NULL;
	g_autoptr(GBytes) data = make_data(h, "data.bin", 20000, 6, &path);
	g_autoptr(GPtrArray) before = extra_sim_lines(extra);
	g_autoptr(GPtrArray) lines = NULL;
	g_autoptr(GVariant) ret = NULL;
	g_autofree char *back_path = g_build_filename(harness_tmpdir(h), "back.bin", NULL);
	g_autofree char *back = NULL;
	gsize back_len = 0;
	const char *const allowed[] = { "AT+QFLDS=\"UFS\"",
		                        "AT+QFLST",
		                        "AT+QFDWL=\"data.bin\"",
		                        "AT+QFUPL=\"data.bin\",20000,",
		                        "[data ",
		                        NULL };
	guint mark = before->len;
	int fd = open_or_die(path, O_RDONLY);

	ret = call_path(h, MODEM1_PATH, HARNESS_IFACE_FILES, "Upload",
	                g_variant_new("(sh)", "data.bin", 0), fd, &error);
	close(fd);
	g_assert_no_error(error);
	g_assert_cmpint(ufs_size_at(h, MODEM1_PATH, "data.bin"), ==, 20000);

	g_clear_pointer(&ret, g_variant_unref);
	fd = open_or_die(back_path, O_WRONLY | O_CREAT | O_TRUNC);
	ret = call_path(h, MODEM1_PATH, HARNESS_IFACE_FILES, "Download",
	                g_variant_new("(sh)", "data.bin", 0), fd, &error);
	close(fd);
	g_assert_no_error(error);
	g_assert_true(g_file_get_contents(back_path, &back, &back_len, NULL));
	g_assert_cmpuint(back_len, ==, 20000);
	g_assert_cmpmem(back, back_len, g_bytes_get_data(data, NULL), 20000);

	lines = extra_sim_lines(extra);
	g_assert_cmpuint(count_lines(lines, mark, "AT+QFUPL=\"data.bin\",20000,2,0"), ==, 1);
	assert_lines_only(lines, mark, allowed, "the second simulator");
}

static void
test_bad_fds(void)
{
	g_autoptr(Harness) h = harness_new(NULL);
	g_autofree char *path = NULL;
	g_autoptr(GBytes) data = make_data(h, "data.bin", 3000, 7, &path);
	guint64 since = harness_mark(h);
	guint mark = harness_tty_mark(h);
	int pipefd[2];
	int fd;

	/* Upload from an fd that cannot be read. */
	fd = open_or_die(path, O_WRONLY);
	{
		g_autoptr(GError) error = NULL;
		g_autoptr(GVariant) ret =
		        files_call(h, "Upload", g_variant_new("(sh)", "x.bin", 0), fd, &error);

		harness_assert_error(error, "InvalidArgument");
		g_test_message("write-only fd: %s", error->message);
	}
	close(fd);
	/* Download into an fd that cannot be written. */
	fd = open_or_die(path, O_RDONLY);
	{
		g_autoptr(GError) error = NULL;
		g_autoptr(GVariant) ret =
		        files_call(h, "Download", g_variant_new("(sh)", "x.bin", 0), fd, &error);

		harness_assert_error(error, "InvalidArgument");
		g_test_message("read-only fd: %s", error->message);
	}
	close(fd);
	/* The wrong ends of a pipe. */
	g_assert_cmpint(pipe2(pipefd, O_CLOEXEC), ==, 0);
	{
		g_autoptr(GError) error = NULL;
		g_autoptr(GVariant) ret = files_call(h, "Upload", g_variant_new("(sh)", "x.bin", 0),
		                                     pipefd[1], &error);

		harness_assert_error(error, "InvalidArgument");
	}
	{
		g_autoptr(GError) error = NULL;
		g_autoptr(GVariant) ret = files_call(
		        h, "Download", g_variant_new("(sh)", "x.bin", 0), pipefd[0], &error);

		harness_assert_error(error, "InvalidArgument");
	}
	close(pipefd[0]);
	close(pipefd[1]);
	/* A character device is neither a regular file nor a pipe. */
	fd = open_or_die("/dev/null", O_RDONLY);
	{
		g_autoptr(GError) error = NULL;
		g_autoptr(GVariant) ret =
		        files_call(h, "Upload", g_variant_new("(sh)", "x.bin", 0), fd, &error);

		harness_assert_error(error, "InvalidArgument");
	}
	close(fd);
	/* A handle with no fd behind it. */
	{
		g_autoptr(GError) error = NULL;
		g_autoptr(GVariant) ret =
		        files_call(h, "Upload", g_variant_new("(sh)", "x.bin", 0), -1, &error);

		harness_assert_error(error, "InvalidArgument");
	}
	/* Nothing reached the module; nothing was left in UFS. */
	g_assert_cmpint(ufs_size(h, "x.bin"), ==, -1);
	{
		const char *const allowed[] = { "AT+QFLST", NULL };

		assert_tty_only(h, mark, allowed);
	}
	harness_round_trip(h);
	g_assert_cmpuint(harness_count_signals(h, since, HARNESS_IFACE_FOTA, "Finished"), ==, 0);
}

static void
test_invalid_names(void)
{
	g_autoptr(Harness) h = harness_new(NULL);
	g_autofree char *path = NULL;
	g_autoptr(GBytes) data = make_data(h, "data.bin", 100, 8, &path);
	g_autoptr(GString) too_long = g_string_new(NULL);
	guint mark = harness_tty_mark(h);
	const char *names[] = {
		"",
		"*",
		"*.bin",
		"fota?.pack",
		"a/b.bin",
		"../b.bin",
		"a\\b.bin",
		"a\"b.bin",
		"a\r\nAT+QFDEL=\"*\"",
		"a\tb",
		"caf\xc3\xa9.bin",
		NULL, /* 59 bytes */
	};

	while (too_long->len < 59)
		g_string_append_c(too_long, 'x');
	names[G_N_ELEMENTS(names) - 1] = too_long->str;

	for (guint i = 0; i < G_N_ELEMENTS(names); i++) {
		const char *methods[] = { "Upload", "Download", "Delete" };

		{
			g_autofree char *esc = g_strescape(names[i], NULL);

			g_test_message("name \"%s\"", esc);
		}
		for (guint m = 0; m < G_N_ELEMENTS(methods); m++) {
			g_autoptr(GError) error = NULL;
			g_autoptr(GVariant) ret = NULL;
			gboolean upload = m == 0;
			int fd = -1;

			if (m == 2) {
				ret = files_call(h, "Delete", g_variant_new("(s)", names[i]), -1,
				                 &error);
			} else {
				fd = open_or_die(path, upload ? O_RDONLY : O_WRONLY);
				ret = files_call(h, methods[m], g_variant_new("(sh)", names[i], 0),
				                 fd, &error);
				close(fd);
			}
			harness_assert_error(error, "InvalidFilename");
		}
	}
	/* Not a byte of it reached the module (a "*" would have wiped its UFS). */
	assert_tty_only(h, mark, NULL);
}

typedef struct {
	gboolean done;
	GVariant *ret;
	GError *error;
} AsyncCall;

static void
on_async_reply(GObject *source, GAsyncResult *res, gpointer data)
{
	AsyncCall *c = data;

	c->ret = g_dbus_connection_call_with_unix_fd_list_finish(G_DBUS_CONNECTION(source), NULL,
	                                                         res, &c->error);
	c->done = TRUE;
}

static gboolean
async_done(gpointer data)
{
	return ((AsyncCall *)data)->done;
}

typedef struct {
	Harness *h;
	guint64 since;
	const char *line;
} UrcWait;

static gboolean
urc_seen(gpointer data)
{
	UrcWait *uw = data;
	g_autoptr(GPtrArray) events = harness_events(uw->h, uw->since);

	for (guint i = 0; i < events->len; i++) {
		HarnessEvent *ev = events->pdata[i];
		const char *line;

		if (ev->type != HARNESS_EVENT_SIGNAL || g_strcmp0(ev->member, "Urc") != 0 ||
		    g_strcmp0(ev->path, HARNESS_MODEM_PATH) != 0)
			continue;
		g_variant_get(ev->body, "(&s)", &line);
		if (strcmp(line, uw->line) == 0)
			return TRUE;
	}
	return FALSE;
}

/* Another client's Command during an upload waits for the data phase to end; a URC the
 * module sends during the data phase still reaches the bus. */
static void
test_command_queued_behind_upload(void)
{
	/* 30 KB at 115200 baud: about 2.7 s on the line. */
	const char *const sim_args[] = { "--baud", "115200", NULL };
	HarnessOptions opts = { .sim_args = sim_args };
	g_autoptr(Harness) h = harness_new(&opts);
	g_autoptr(GDBusConnection) other = harness_new_client(h);
	g_autofree char *path = NULL;
	g_autoptr(GBytes) data = make_data(h, "big.bin", 30000, 9, &path);
	g_autoptr(GUnixFDList) fds = g_unix_fd_list_new();
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) back = NULL;
	AsyncCall upload = { 0 };
	AsyncCall command = { 0 };
	const char *urc = "+QNBIOTEVENT: \"ENTER PSM\"";
	UrcWait uw = { h, harness_mark(h), urc };
	guint mark = harness_tty_mark(h);
	int fd = open_or_die(path, O_RDONLY);
	int upl, data_line, cmd;
	const char *const allowed[] = {
		"AT+QFLDS=\"UFS\"",     "AT+QFLST", "AT+QFUPL=\"big.bin\"", "[data ", "AT+CGREG?",
		"AT+QFDWL=\"big.bin\"", NULL
	};

	g_unix_fd_list_append(fds, fd, &error);
	g_assert_no_error(error);
	close(fd);
	g_dbus_connection_call_with_unix_fd_list(
	        harness_bus(h), HARNESS_BUS_NAME, HARNESS_MODEM_PATH, HARNESS_IFACE_FILES, "Upload",
	        g_variant_new("(sh)", "big.bin", 0), NULL, G_DBUS_CALL_FLAGS_NONE, CALL_MS, fds,
	        NULL, on_async_reply, &upload);
	upl = harness_wait_tty(h, mark, "AT+QFUPL=\"big.bin\"", 20000);
	g_assert_cmpint(upl, >=, 0);
	/* The data phase has begun and lasts seconds. */
	g_assert_false(upload.done);
	g_dbus_connection_call_with_unix_fd_list(
	        other, HARNESS_BUS_NAME, HARNESS_MODEM_PATH, HARNESS_IFACE_MODEM, "Command",
	        g_variant_new("(su)", "AT+CGREG?", 0), G_VARIANT_TYPE("(s)"),
	        G_DBUS_CALL_FLAGS_NONE, CALL_MS, NULL, NULL, on_async_reply, &command);
	harness_control(h, "urc %s", urc);
	g_assert_false(upload.done);

	g_assert_true(wait_cond(async_done, &upload, 30000));
	g_assert_no_error(upload.error);
	g_assert_true(wait_cond(async_done, &command, 30000));
	g_assert_no_error(command.error);
	{
		const char *response;

		g_variant_get(command.ret, "(&s)", &response);
		g_assert_true(g_str_has_prefix(response, "+CGREG:"));
	}
	/* The URC sent in the middle of the data phase was not lost. */
	g_assert_true(wait_cond(urc_seen, &uw, 10000));

	/* The command reached the tty only after the data phase ended. */
	data_line = harness_tty_find(h, upl, "[data ");
	cmd = harness_tty_find(h, mark, "AT+CGREG?");
	g_assert_cmpint(data_line, >, upl);
	g_assert_cmpint(cmd, >, data_line);
	g_assert_cmpuint(count_tty(h, mark, "AT+CGREG?"), ==, 1);

	back = download(h, "big.bin", &error);
	g_assert_no_error(error);
	assert_bytes_equal(data, back);
	assert_tty_only(h, mark, allowed);
	g_clear_pointer(&upload.ret, g_variant_unref);
	g_clear_pointer(&command.ret, g_variant_unref);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/files/round-trip", test_round_trip);
	g_test_add_func("/files/no-space", test_no_space);
	g_test_add_func("/files/rtscts-without-flow-control", test_rtscts_without_flow_control);
	g_test_add_func("/files/rtscts-with-flow-control", test_rtscts_with_flow_control);
	g_test_add_func("/files/bad-fds", test_bad_fds);
	g_test_add_func("/files/invalid-names", test_invalid_names);
	g_test_add_func("/files/command-queued-behind-upload", test_command_queued_behind_upload);
	return g_test_run();
}
