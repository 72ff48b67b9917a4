// SPDX-License-Identifier: LGPL-2.1-or-later
/* test-files.c: org.dfotad1.Files against the real daemon and simulator: List, Delete,
 * Upload and Download round trips, free space, the acknowledged transfer mode against a UART
 * without flow control (and its negative control: flow=rtscts configured, none on the line),
 * fd checks, file name rules, and passthrough commands queued behind a data phase. */
#include "harness-modes.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <gio/gunixfdlist.h>
#include <string.h>
#include <unistd.h>

#define CALL_MS 60000

static GVariant *
files_call(Harness *h, const char *method, GVariant *params, int fd, GError **error)
{
	return hm_call_fd(h, HARNESS_IFACE_FILES, method, params, fd, error);
}

/* Random bytes (seeded: reproducible) written into a new file in the test's directory. */
static GBytes *
make_data(Harness *h, const char *name, gsize size, guint32 seed, char **path_out)
{
	*path_out = g_build_filename(harness_tmpdir(h), name, NULL);
	return hm_random_file(*path_out, size, seed);
}

static void
assert_bytes_equal(GBytes *a, GBytes *b)
{
	g_assert_cmpuint(g_bytes_get_size(a), ==, g_bytes_get_size(b));
	g_assert_true(g_bytes_equal(a, b));
}

/* A second simulator whose line has flow control @line_flow, and a daemon told that the line
 * has RTS/CTS: Modem/1 in its own [modem NAME] group (the acknowledged mode's subject); a short
 * upload-timeout ends an upload the module gave up on. */
static Harness *
rtscts_daemon(const char *line_flow, HmSim **sim)
{
	const char *const sim_args[] = { "--flow", line_flow, "--ack-turnaround", "20", NULL };

	*sim = hm_sim_start(sim_args);
	return hm_harness_with_second_modem(
	        *sim, "download-timeout=20\nupdate-timeout=20\nupload-timeout=2\n", "flow",
	        "flow=rtscts\n");
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

	g_assert_cmpint(hm_ufs_size(h, "data.bin"), ==, -1);
	hm_upload(h, path, "data.bin", &error);
	g_assert_no_error(error);
	g_assert_cmpint(hm_ufs_size(h, "data.bin"), ==, 5000);
	back = hm_download(h, "data.bin", &error);
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
	g_assert_cmpint(hm_ufs_size(h, long_name->str), ==, 2049);
	back2 = hm_download(h, long_name->str, &error);
	g_assert_no_error(error);
	assert_bytes_equal(data2, back2);

	/* A file that is not there: FileNotFound. */
	g_clear_pointer(&back, g_bytes_unref);
	back = hm_download(h, "nosuch.bin", &error);
	g_assert_null(back);
	harness_assert_error(error, "FileNotFound");
	g_clear_error(&error);

	ret = files_call(h, "Delete", g_variant_new("(s)", "data.bin"), -1, &error);
	g_assert_no_error(error);
	g_assert_cmpint(hm_ufs_size(h, "data.bin"), ==, -1);
	g_assert_cmpint(hm_ufs_size(h, long_name->str), ==, 2049);

	/* On the line: acknowledged mode (ackmode 1: no flow control configured), one upload
	 * command per upload, nothing but file commands. */
	{
		g_autoptr(GPtrArray) lines = harness_tty_lines(h);
		g_autofree char *upl = g_strdup_printf("AT+QFUPL=\"%s\",2049,", long_name->str);

		g_assert_cmpuint(hm_count_lines(lines, mark, "AT+QFUPL="), ==, 3);
		g_assert_cmpuint(hm_count_lines(lines, mark, "AT+QFUPL=\"data.bin\",5000,"), ==, 1);
		g_assert_cmpuint(hm_count_lines(lines, mark, upl), ==, 2);
		for (guint i = mark; i < lines->len; i++) {
			if (g_str_has_prefix(lines->pdata[i], "AT+QFUPL="))
				g_assert_true(g_str_has_suffix(lines->pdata[i], ",1"));
		}
		g_assert_cmpuint(hm_count_lines(lines, mark, "AT+QFDEL=\"data.bin\""), ==, 1);
		g_assert_cmpuint(hm_count_lines(lines, mark, "[data "), ==, 3);
	}
	hm_assert_tty_only(h, mark, allowed);
	hm_assert_no_finished(h, since);
}

/* Field firmware: every name listed as "UFS:<name>", a "security/" directory among them, and
 * checksums in an upper-case, zero-padded spelling. Names are shown and taken without the
 * drive, the directory is not a file, and uploads and downloads check out. */
static void
test_field_listing(void)
{
	const char *const sim_args[] = { "--ufs-prefix", "--ufs-dir", "security/",
		                         "--ufs-dir",    "certs/",    "--checksum-style",
		                         "upper-padded", NULL };
	HarnessOptions opts = { .sim_args = sim_args };
	g_autoptr(Harness) h = harness_new(&opts);
	g_autoptr(GError) error = NULL;
	g_autofree char *path = NULL;
	g_autoptr(GBytes) data = make_data(h, "data.bin", 3001, 7, &path);
	g_autoptr(GBytes) back = NULL;
	g_autoptr(GVariant) ret = NULL;
	g_autoptr(GVariantIter) iter = NULL;
	const char *fname;
	guint64 size;
	guint n = 0;

	hm_upload(h, path, "data.bin", &error);
	g_assert_no_error(error);
	/* replacing it recognises the listed "UFS:data.bin" as the same file */
	hm_upload(h, path, "data.bin", &error);
	g_assert_no_error(error);
	ret = files_call(h, "List", NULL, -1, &error);
	g_assert_no_error(error);
	g_variant_get(ret, "(a(st))", &iter);
	while (g_variant_iter_next(iter, "(&st)", &fname, &size)) {
		g_test_message("listed %s %" G_GUINT64_FORMAT, fname, size);
		g_assert_cmpstr(fname, ==, "data.bin");
		g_assert_cmpuint(size, ==, 3001);
		n++;
	}
	g_assert_cmpuint(n, ==, 1);
	back = hm_download(h, "data.bin", &error);
	g_assert_no_error(error);
	assert_bytes_equal(data, back);
	g_clear_pointer(&ret, g_variant_unref);
	ret = files_call(h, "Delete", g_variant_new("(s)", "data.bin"), -1, &error);
	g_assert_no_error(error);
	g_assert_cmpint(hm_ufs_size(h, "data.bin"), ==, -1);
}

/* Whatever a module answers for a file that is not there (a bare ERROR, +CME ERROR: 405 or
 * 418, another code), Delete and Download fail with FileNotFound, and the channel goes on. */
static void
check_missing(const char *answer)
{
	const char *const sim_args[] = { "--missing-file", answer, "--ufs-prefix", NULL };
	HarnessOptions opts = { .sim_args = sim_args };
	g_autoptr(Harness) h = harness_new(&opts);
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) ret = NULL;
	g_autoptr(GBytes) back = NULL;
	g_autofree char *out = NULL;

	g_test_message("the module answers %s for a missing file", answer);
	ret = files_call(h, "Delete", g_variant_new("(s)", "gone.bin"), -1, &error);
	harness_assert_error(error, "FileNotFound");
	g_test_message("%s", error->message);
	g_clear_error(&error);
	back = hm_download(h, "gone.bin", &error);
	g_assert_null(back);
	harness_assert_error(error, "FileNotFound");
	g_clear_error(&error);
	out = harness_command(h, NULL, "AT", 0, &error);
	g_assert_no_error(error);
}

static void
test_missing_cme_405(void)
{
	check_missing("405");
}

static void
test_missing_cme_418(void)
{
	check_missing("418");
}

static void
test_missing_error(void)
{
	check_missing("error");
}

static void
test_missing_other_code(void)
{
	check_missing("410");
}

/* A module that stops taking bytes in the middle of AT+QFUPL: Timeout within the upload
 * timeout, no partial file, and a following Command("AT") works. @end: how the module leaves
 * the data phase when its own timeout runs out (report the short file, +CME ERROR: 421, or
 * nothing at all). */
static void
check_upload_stall(const char *end)
{
	g_autofree char *stall = g_strdup_printf("3000:%s", end);
	const char *const sim_args[] = { "--upload-stall", stall, NULL };
	const char *const daemon_keys[] = { "upload-timeout=3", NULL };
	HarnessOptions opts = { .sim_args = sim_args, .daemon_keys = daemon_keys };
	g_autoptr(Harness) h = harness_new(&opts);
	g_autoptr(GError) error = NULL;
	g_autofree char *path = NULL;
	g_autoptr(GBytes) data = make_data(h, "big.bin", 20000, 9, &path);
	g_autofree char *out = NULL;
	gint64 start = g_get_monotonic_time();
	gint64 took_ms;

	hm_upload(h, path, "big.bin", &error);
	took_ms = (g_get_monotonic_time() - start) / 1000;
	harness_assert_error(error, "Timeout");
	g_test_message("after %" G_GINT64_FORMAT " ms: %s", took_ms, error->message);
	/* the stall comes within the first few blocks; 3 s upload timeout, slack for load */
	g_assert_cmpint(took_ms, <, 3000 + 4000);
	g_clear_error(&error);
	/* The channel is usable again: queued behind the end of the data phase. */
	out = harness_command(h, NULL, "AT", 0, &error);
	g_assert_no_error(error);
	g_assert_cmpint(hm_ufs_size(h, "big.bin"), ==, -1);
}

static void
test_upload_stall_report(void)
{
	check_upload_stall("report");
}

static void
test_upload_stall_error(void)
{
	check_upload_stall("error");
}

static void
test_upload_stall_silent(void)
{
	check_upload_stall("silent");
}

/* The upload step of a host job meets the same stalled module: the job ends with one Finished
 * (Timeout), no partial fota.pack is left, and the channel serves commands afterwards. */
static void
test_upload_stall_host_job(void)
{
	const char *const sim_args[] = { "--upload-stall", "3000:silent", NULL };
	const char *const daemon_keys[] = { "upload-timeout=3", NULL };
	HarnessOptions opts = { .sim_args = sim_args, .daemon_keys = daemon_keys };
	g_autoptr(Harness) h = harness_new(&opts);
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) reply = NULL;
	g_autoptr(GVariant) result = NULL;
	g_autofree char *url = NULL;
	g_autofree char *out = NULL;
	guint64 since;

	harness_make_package(h, "update.pack", "BC65", HARNESS_REV_FROM, HARNESS_REV_TO, NULL);
	url = harness_url(h, "update.pack");
	since = harness_mark(h);
	reply = harness_call(h, NULL, HARNESS_IFACE_FOTA, "UpgradeViaHost",
	                     g_variant_new("(s@a{sv})", url, hm_options(NULL, NULL)), NULL, &error);
	g_assert_no_error(error);
	result = hm_wait_finished(h, since, 60000);
	hm_assert_failed(result, "Timeout");
	g_test_message("%s", harness_dict_str(result, "message"));
	g_assert_cmpuint(harness_count_signals(h, since, HARNESS_IFACE_FOTA, "Finished"), ==, 1);
	out = harness_command(h, NULL, "AT", 0, &error);
	g_assert_no_error(error);
	g_assert_cmpint(hm_ufs_size(h, "fota.pack"), ==, -1);
	hm_assert_revision(h, HARNESS_REV_FROM);
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

	hm_upload(h, small, "small.bin", &error);
	g_assert_no_error(error);
	g_assert_cmpint(hm_ufs_size(h, "small.bin"), ==, 5000);

	/* 4000 more bytes do not fit in the 3192 left: refused before AT+QFUPL. */
	mark = harness_tty_mark(h);
	hm_upload(h, big, "big.bin", &error);
	harness_assert_error(error, "PackageTooLarge");
	g_test_message("%s", error->message);
	g_assert_cmpint(hm_ufs_size(h, "big.bin"), ==, -1);
	g_assert_cmpint(hm_ufs_size(h, "small.bin"), ==, 5000);
	g_assert_cmpuint(hm_count_tty(h, mark, "AT+QFLDS"), >=, 1);
	hm_assert_tty_only(h, mark, allowed);
}

/* Negative control of the acknowledged mode: the daemon believes in RTS/CTS and streams, the
 * line has no flow control and the module's small rx FIFO overflows while it writes flash. */
static void
test_rtscts_without_flow_control(void)
{
	g_autoptr(HmSim) extra = NULL;
	g_autoptr(Harness) h = rtscts_daemon("none", &extra);
	g_autoptr(GError) error = NULL;
	g_autofree char *path = NULL;
	g_autoptr(GBytes) data = make_data(h, "data.bin", 20000, 5, &path);
	g_autoptr(GPtrArray) lines = NULL;
	const char *const allowed[] = { "AT+QFLDS=\"UFS\"",
		                        "AT+QFLST",
		                        "AT+QFDEL=\"data.bin\"",
		                        "AT+QFUPL=\"data.bin\",20000,",
		                        "[data ",
		                        NULL };
	guint mark = hm_sim_tty_mark(extra);

	hm_upload_at(h, HM_MODEM1_PATH, path, "data.bin", &error);
	harness_assert_error(error, "ChecksumMismatch");
	g_test_message("%s", error->message);
	/* No partial file left behind. */
	g_assert_cmpint(hm_ufs_size_at(h, HM_MODEM1_PATH, "data.bin"), ==, -1);

	lines = hm_sim_tty_lines(extra);
	/* Streamed: ackmode 0. */
	g_assert_cmpuint(hm_count_lines(lines, mark, "AT+QFUPL=\"data.bin\",20000,2,0"), ==, 1);
	g_assert_cmpuint(hm_count_lines(lines, mark, "AT+QFDEL=\"data.bin\""), >=, 1);
	hm_assert_lines_only(lines, mark, allowed, "the second simulator");
	/* Modem/0 (flow none) saw none of it. */
	g_assert_cmpint(harness_tty_find(h, 0, "AT+QFUPL"), <, 0);
}

static void
test_rtscts_with_flow_control(void)
{
	g_autoptr(HmSim) extra = NULL;
	g_autoptr(Harness) h = rtscts_daemon("rtscts", &extra);
	g_autoptr(GError) error = NULL;
	g_autofree char *path = NULL;
	g_autoptr(GBytes) data = make_data(h, "data.bin", 20000, 6, &path);
	g_autoptr(GBytes) back = NULL;
	g_autoptr(GPtrArray) lines = NULL;
	const char *const allowed[] = { "AT+QFLDS=\"UFS\"",
		                        "AT+QFLST",
		                        "AT+QFDWL=\"data.bin\"",
		                        "AT+QFUPL=\"data.bin\",20000,",
		                        "[data ",
		                        NULL };
	guint mark = hm_sim_tty_mark(extra);

	hm_upload_at(h, HM_MODEM1_PATH, path, "data.bin", &error);
	g_assert_no_error(error);
	g_assert_cmpint(hm_ufs_size_at(h, HM_MODEM1_PATH, "data.bin"), ==, 20000);
	back = hm_download_at(h, HM_MODEM1_PATH, "data.bin", &error);
	g_assert_no_error(error);
	assert_bytes_equal(data, back);

	lines = hm_sim_tty_lines(extra);
	g_assert_cmpuint(hm_count_lines(lines, mark, "AT+QFUPL=\"data.bin\",20000,2,0"), ==, 1);
	hm_assert_lines_only(lines, mark, allowed, "the second simulator");
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
	fd = hm_open(path, O_WRONLY);
	{
		g_autoptr(GError) error = NULL;
		g_autoptr(GVariant) ret =
		        files_call(h, "Upload", g_variant_new("(sh)", "x.bin", 0), fd, &error);

		harness_assert_error(error, "InvalidArgument");
		g_test_message("write-only fd: %s", error->message);
	}
	close(fd);
	/* Download into an fd that cannot be written. */
	fd = hm_open(path, O_RDONLY);
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
	fd = hm_open("/dev/null", O_RDONLY);
	{
		g_autoptr(GError) error = NULL;
		g_autoptr(GVariant) ret =
		        files_call(h, "Upload", g_variant_new("(sh)", "x.bin", 0), fd, &error);

		harness_assert_error(error, "InvalidArgument");
	}
	close(fd);
	/* O_PATH reports O_RDONLY as its access mode but can be neither read nor written; a
	 * directory is no file: refused at once, for both directions. */
	{
		const struct {
			const char *method;
			const char *path;
			int flags;
		} unusable[] = {
			{ "Upload", path, O_PATH },
			{ "Download", path, O_PATH },
			{ "Upload", harness_tmpdir(h), O_RDONLY | O_DIRECTORY },
			{ "Download", harness_tmpdir(h), O_PATH | O_DIRECTORY },
		};

		for (guint i = 0; i < G_N_ELEMENTS(unusable); i++) {
			g_autoptr(GError) error = NULL;
			g_autoptr(GVariant) ret = NULL;

			fd = hm_open(unusable[i].path, unusable[i].flags);
			ret = files_call(h, unusable[i].method, g_variant_new("(sh)", "x.bin", 0),
			                 fd, &error);
			harness_assert_error(error, "InvalidArgument");
			g_test_message("%s, flags %#x: %s", unusable[i].method, unusable[i].flags,
			               error->message);
			close(fd);
		}
	}
	/* The same check guards UpgradeFromFile: no job is started. */
	fd = hm_open(path, O_PATH);
	{
		g_autoptr(GError) error = NULL;
		g_autoptr(GVariant) ret = hm_call_fd(
		        h, HARNESS_IFACE_FOTA, "UpgradeFromFile",
		        g_variant_new("(h@a{sv})", 0, hm_options(NULL, NULL)), fd, &error);

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
	g_assert_cmpint(hm_ufs_size(h, "x.bin"), ==, -1);
	{
		const char *const allowed[] = { "AT+QFLST", NULL };

		hm_assert_tty_only(h, mark, allowed);
	}
	hm_assert_no_finished(h, since);
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
				fd = hm_open(path, upload ? O_RDONLY : O_WRONLY);
				ret = files_call(h, methods[m], g_variant_new("(sh)", names[i], 0),
				                 fd, &error);
				close(fd);
			}
			harness_assert_error(error, "InvalidFilename");
		}
	}
	/* Not a byte of it reached the module (a "*" would have wiped its UFS). */
	hm_assert_tty_only(h, mark, NULL);
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
	int fd = hm_open(path, O_RDONLY);
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

	g_assert_true(hm_wait_cond(async_done, &upload, 30000));
	g_assert_no_error(upload.error);
	g_assert_true(hm_wait_cond(async_done, &command, 30000));
	g_assert_no_error(command.error);
	{
		const char *response;

		g_variant_get(command.ret, "(&s)", &response);
		g_assert_true(g_str_has_prefix(response, "+CGREG:"));
	}
	/* The URC sent in the middle of the data phase was not lost. */
	g_assert_true(hm_wait_cond(urc_seen, &uw, 10000));

	/* The command reached the tty only after the data phase ended. */
	data_line = harness_tty_find(h, upl, "[data ");
	cmd = harness_tty_find(h, mark, "AT+CGREG?");
	g_assert_cmpint(data_line, >, upl);
	g_assert_cmpint(cmd, >, data_line);
	g_assert_cmpuint(hm_count_tty(h, mark, "AT+CGREG?"), ==, 1);

	back = hm_download(h, "big.bin", &error);
	g_assert_no_error(error);
	assert_bytes_equal(data, back);
	hm_assert_tty_only(h, mark, allowed);
	g_clear_pointer(&upload.ret, g_variant_unref);
	g_clear_pointer(&command.ret, g_variant_unref);
}

/* A TCP connection on loopback whose peer sends @len bytes of @data and then resets it (linger
 * 0): the daemon's end reads the bytes, then ECONNRESET. Returns the daemon's end. */
static int
reset_socket(const guint8 *data, gsize len)
{
	struct sockaddr_in addr = { .sin_family = AF_INET,
		                    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(addr);
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	int lsn = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int ours, peer;

	g_assert_cmpint(lsn, >=, 0);
	g_assert_cmpint(bind(lsn, (struct sockaddr *)&addr, sizeof(addr)), ==, 0);
	g_assert_cmpint(listen(lsn, 1), ==, 0);
	g_assert_cmpint(getsockname(lsn, (struct sockaddr *)&addr, &alen), ==, 0);
	ours = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	g_assert_cmpint(connect(ours, (struct sockaddr *)&addr, sizeof(addr)), ==, 0);
	peer = accept4(lsn, NULL, NULL, SOCK_CLOEXEC);
	g_assert_cmpint(peer, >=, 0);
	close(lsn);
	g_assert_cmpint(write(peer, data, len), ==, (gssize)len);
	g_assert_cmpint(setsockopt(peer, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), ==, 0);
	close(peer); /* RST */
	return ours;
}

/* A read of the caller's fd that fails midway is the caller's fault: InvalidArgument for the
 * method (Upload) or the job (UpgradeFromFile), never ModemLost; the modem stays ready. */
static void
test_read_error_later(void)
{
	g_autoptr(Harness) h = harness_new(NULL);
	g_autofree char *path = NULL;
	g_autoptr(GBytes) data = make_data(h, "data.bin", 3000, 11, &path);
	const guint8 *bytes = g_bytes_get_data(data, NULL);
	guint mark = harness_tty_mark(h);
	int fd;

	fd = reset_socket(bytes, 3000);
	{
		g_autoptr(GError) error = NULL;
		g_autoptr(GVariant) ret =
		        files_call(h, "Upload", g_variant_new("(sh)", "x.bin", 0), fd, &error);

		harness_assert_error(error, "InvalidArgument");
		g_test_message("reset socket, Upload: %s", error->message);
	}
	close(fd);
	g_assert_cmpint(hm_ufs_size(h, "x.bin"), ==, -1);
	{
		const char *const allowed[] = { "AT+QFLST", NULL };

		hm_assert_tty_only(h, mark, allowed);
	}

	fd = reset_socket(bytes, 3000);
	{
		guint64 since = harness_mark(h);
		g_autoptr(GError) error = NULL;
		g_autoptr(GVariant) ret = hm_call_fd(
		        h, HARNESS_IFACE_FOTA, "UpgradeFromFile",
		        g_variant_new("(h@a{sv})", 0, hm_options(NULL, NULL)), fd, &error);
		g_autoptr(GVariant) result = NULL;

		g_assert_no_error(error);
		close(fd);
		result = hm_wait_finished(h, since, 30000);
		hm_assert_failed(result, "InvalidArgument");
	}
	{
		g_autoptr(GVariant) state = harness_get_property(h, HARNESS_IFACE_MODEM, "State");

		g_assert_cmpstr(g_variant_get_string(state, NULL), ==, "ready");
	}
}

typedef struct {
	AsyncCall call;
	int fd; /* ours: it shares the file offset with the daemon's copy */
	guint64 size;
} WaitingUpload;

static gboolean
any_upload_done(gpointer data)
{
	GPtrArray *ups = data;

	for (guint i = 0; i < ups->len; i++)
		if (((WaitingUpload *)ups->pdata[i])->call.done)
			return TRUE;
	return FALSE;
}

static gboolean
all_uploads_done(gpointer data)
{
	GPtrArray *ups = data;

	for (guint i = 0; i < ups->len; i++)
		if (!((WaitingUpload *)ups->pdata[i])->call.done)
			return FALSE;
	return TRUE;
}

/* Uploads that pile up wait with their fds unread: the daemon holds the bytes of one file per
 * modem, whatever the number of callers (many concurrent uploads once took it to 78 MB). The
 * fd we keep shares its file offset with the daemon's copy, so the offset shows how much the
 * daemon has read. */
static void
test_uploads_wait_unread(void)
{
	const char *const sim_args[] = { "--baud", "115200", NULL };
	HarnessOptions opts = { .sim_args = sim_args };
	g_autoptr(Harness) h = harness_new(&opts);
	g_autoptr(GPtrArray) ups = g_ptr_array_new_with_free_func(g_free);
	const guint n = 6;
	guint read_ahead = 0, waiting = 0;

	for (guint i = 0; i < n; i++) {
		WaitingUpload *u = g_new0(WaitingUpload, 1);
		g_autofree char *file = g_strdup_printf("up%u.bin", i);
		g_autofree char *path = NULL;
		g_autoptr(GBytes) data = make_data(h, file, 8192, 20 + i, &path);
		g_autoptr(GUnixFDList) fds = g_unix_fd_list_new();
		g_autoptr(GError) error = NULL;

		u->size = g_bytes_get_size(data);
		u->fd = hm_open(path, O_RDONLY);
		g_unix_fd_list_append(fds, u->fd, &error);
		g_assert_no_error(error);
		g_dbus_connection_call_with_unix_fd_list(
		        harness_bus(h), HARNESS_BUS_NAME, HARNESS_MODEM_PATH, HARNESS_IFACE_FILES,
		        "Upload", g_variant_new("(sh)", file, 0), NULL, G_DBUS_CALL_FLAGS_NONE,
		        CALL_MS, fds, NULL, on_async_reply, &u->call);
		g_ptr_array_add(ups, u);
	}
	/* The first answer comes after a data phase of ~0.7 s: by then every call has long
	 * reached the daemon. */
	g_assert_true(hm_wait_cond(any_upload_done, ups, 60000));
	for (guint i = 0; i < n; i++) {
		WaitingUpload *u = ups->pdata[i];

		if (u->call.done)
			continue;
		waiting++;
		if (lseek(u->fd, 0, SEEK_CUR) > 0)
			read_ahead++;
	}
	g_test_message("%u uploads waiting, %u of them read by the daemon", waiting, read_ahead);
	g_assert_cmpuint(waiting, >=, 2);
	/* at most the one that took the slot when the first finished */
	g_assert_cmpuint(read_ahead, <=, 1);

	g_assert_true(hm_wait_cond(all_uploads_done, ups, 120000));
	for (guint i = 0; i < n; i++) {
		WaitingUpload *u = ups->pdata[i];
		g_autofree char *file = g_strdup_printf("up%u.bin", i);

		g_assert_no_error(u->call.error);
		g_assert_cmpint(lseek(u->fd, 0, SEEK_CUR), ==, (off_t)u->size);
		g_assert_cmpint(hm_ufs_size(h, file), ==, (gint64)u->size);
		g_clear_pointer(&u->call.ret, g_variant_unref);
		close(u->fd);
	}
}

/* Delete, Upload and Download of every spelling of fota.pack (and of a running MCU fetch's file,
 * named or defaulted) are Busy while a job runs, before a byte reaches the tty. */
static void
assert_files_busy(Harness *h, const char *const *names, const char *path)
{
	guint mark = harness_tty_mark(h);

	for (guint i = 0; names[i]; i++) {
		const char *methods[] = { "Delete", "Upload", "Download" };

		for (guint m = 0; m < G_N_ELEMENTS(methods); m++) {
			g_autoptr(GError) error = NULL;
			g_autoptr(GVariant) ret = NULL;

			if (m == 0) {
				ret = files_call(h, "Delete", g_variant_new("(s)", names[i]), -1,
				                 &error);
			} else {
				int fd = hm_open(path, m == 1 ? O_RDONLY : O_WRONLY);

				ret = files_call(h, methods[m], g_variant_new("(sh)", names[i], 0),
				                 fd, &error);
				close(fd);
			}
			harness_assert_error(error, "Busy");
		}
	}
	hm_assert_tty_only(h, mark, NULL);
}

static void
test_busy_during_job(void)
{
	g_autoptr(Harness) h = harness_new(NULL);
	g_autofree char *path = NULL;
	g_autoptr(GBytes) data = make_data(h, "data.bin", 3000, 13, &path);
	g_autofree char *slow = NULL;
	g_autofree char *stall = NULL;
	const char *const pack_names[] = { "fota.pack",     "UFS:fota.pack", "FOTA.PACK",
		                           "ufs:Fota.Pack", "other.bin",     NULL };
	const char *const mcu_names[] = { "update.pack", "UFS:update.pack", "mcu.bin", NULL };
	guint64 since;

	harness_make_package(h, "update.pack", "BC65", HARNESS_REV_FROM, HARNESS_REV_TO, NULL);
	/* A host job that trickles keeps "fetching" for minutes. */
	slow = harness_url(h, "slow/update.pack?bps=50");
	since = harness_mark(h);
	{
		g_autoptr(GError) error = NULL;
		g_autoptr(GVariant) ret = hm_call_fd(
		        h, HARNESS_IFACE_FOTA, "UpgradeViaHost",
		        g_variant_new("(s@a{sv})", slow, hm_options(NULL, NULL)), -1, &error);

		g_assert_no_error(error);
	}
	assert_files_busy(h, pack_names, path);
	{
		g_autoptr(GError) error = NULL;
		g_autoptr(GVariant) ret =
		        hm_call_fd(h, HARNESS_IFACE_FOTA, "Cancel", NULL, -1, &error);
		g_autoptr(GVariant) result = NULL;

		g_assert_no_error(error);
		result = hm_wait_finished(h, since, 30000);
		hm_assert_failed(result, "Cancelled");
	}

	/* An MCU fetch whose file name defaults to the URL's last segment, on a module download
	 * that stalls: its name is Busy too. */
	stall = harness_url(h, "stall/update.pack");
	{
		g_autoptr(GError) error = NULL;
		g_autoptr(GVariant) ret = hm_call_fd(h, HARNESS_IFACE_FOTA, "FetchMcuFile",
		                                     g_variant_new("(ss)", stall, ""), -1, &error);

		g_assert_no_error(error);
	}
	assert_files_busy(h, mcu_names, path);
}

/* A caller's fd that stalls (a pipe held open and silent, a pipe nobody reads) is given up
 * after fetch-timeout with InvalidArgument: it cannot hold the modem's transfers forever, and
 * the next call works. */
static void
test_stalled_fds(void)
{
	const char *const keys[] = { "fetch-timeout=1", NULL };
	HarnessOptions opts = { .daemon_keys = keys };
	g_autoptr(Harness) h = harness_new(&opts);
	g_autofree char *path = NULL;
	g_autoptr(GBytes) data = make_data(h, "big.bin", 200000, 5, &path);
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) ret = NULL;
	int pipefd[2];

	/* Upload from a pipe whose writer sends a little, then neither writes nor closes. */
	g_assert_cmpint(pipe2(pipefd, O_CLOEXEC), ==, 0);
	g_assert_cmpint(write(pipefd[1], "partial", 7), ==, 7);
	ret = files_call(h, "Upload", g_variant_new("(sh)", "stall.bin", 0), pipefd[0], &error);
	close(pipefd[0]);
	harness_assert_error(error, "InvalidArgument");
	g_test_message("silent pipe, Upload: %s", error->message);
	g_assert_nonnull(strstr(error->message, "gave no data"));
	g_clear_error(&error);
	close(pipefd[1]);
	g_assert_cmpint(hm_ufs_size(h, "stall.bin"), ==, -1);

	/* Download into a pipe nobody reads: more than the pipe holds. */
	hm_upload(h, path, "big.bin", &error);
	g_assert_no_error(error);
	g_assert_cmpint(pipe2(pipefd, O_CLOEXEC), ==, 0);
	ret = files_call(h, "Download", g_variant_new("(sh)", "big.bin", 0), pipefd[1], &error);
	close(pipefd[1]);
	harness_assert_error(error, "InvalidArgument");
	g_test_message("unread pipe, Download: %s", error->message);
	g_assert_nonnull(strstr(error->message, "took no data"));
	g_clear_error(&error);
	close(pipefd[0]);

	/* The slot is free again. */
	{
		g_autoptr(GBytes) back = hm_download(h, "big.bin", &error);

		g_assert_no_error(error);
		assert_bytes_equal(data, back);
	}
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/files/round-trip", test_round_trip);
	g_test_add_func("/files/no-space", test_no_space);
	g_test_add_func("/files/field-listing", test_field_listing);
	g_test_add_func("/files/missing/cme-405", test_missing_cme_405);
	g_test_add_func("/files/missing/cme-418", test_missing_cme_418);
	g_test_add_func("/files/missing/error", test_missing_error);
	g_test_add_func("/files/missing/other-code", test_missing_other_code);
	g_test_add_func("/files/upload-stall/report", test_upload_stall_report);
	g_test_add_func("/files/upload-stall/error", test_upload_stall_error);
	g_test_add_func("/files/upload-stall/silent", test_upload_stall_silent);
	g_test_add_func("/files/upload-stall/host-job", test_upload_stall_host_job);
	g_test_add_func("/files/rtscts-without-flow-control", test_rtscts_without_flow_control);
	g_test_add_func("/files/rtscts-with-flow-control", test_rtscts_with_flow_control);
	g_test_add_func("/files/bad-fds", test_bad_fds);
	g_test_add_func("/files/invalid-names", test_invalid_names);
	g_test_add_func("/files/command-queued-behind-upload", test_command_queued_behind_upload);
	g_test_add_func("/files/read-error-later", test_read_error_later);
	g_test_add_func("/files/busy-during-job", test_busy_during_job);
	g_test_add_func("/files/uploads-wait-unread", test_uploads_wait_unread);
	g_test_add_func("/files/stalled-fds", test_stalled_fds);
	return g_test_run();
}
