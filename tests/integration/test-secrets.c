// SPDX-License-Identifier: LGPL-2.1-or-later
/* test-secrets.c: a URL's password and presigned query never leave the daemon except on the
 * tty and in the gateway's own HTTP request. Module downloads (Upgrade, FetchMcuFile), a
 * host-side download (UpgradeViaHost), and failures of both are run with URLs that carry a
 * password and signature-like query values; none of those strings may show in the Job
 * property, LastResult, Finished, any file the daemon writes (its journal, its --verbose log
 * on stderr) or a STATUS= line. The simulator's log (it received the AT+QFOTADL line) and the
 * HTTP server's log (the query and the Authorization header) prove that the real URL went
 * where it had to. A module-side job cut by a daemon restart goes on from its redacted record
 * (the module needs no URL once it took the job). */
#include "fault-helpers.h"
#include "harness-modes.h"

#include <glib-unix.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#define PASSWORD "s3cr3tpw"
#define SIG "s3cr3tsig"
#define CRED "s3cr3tcred"
#define QUERY "?X-Amz-Signature=" SIG "&X-Amz-Credential=" CRED
#define QUERY_SHOWN "?X-Amz-Signature=***&X-Amz-Credential=***"

static const char *const secrets[] = { PASSWORD, SIG, CRED, NULL };

/* ---- NOTIFY_SOCKET: every datagram any child sends, kept as text --------------------------- */

typedef struct {
	int fd;
	guint watch;
	GString *text;
} Notify;

static gboolean
on_notify(int fd, GIOCondition cond, gpointer data)
{
	Notify *ns = data;
	char buf[4096];
	ssize_t n;

	while ((n = recv(fd, buf, sizeof buf, MSG_DONTWAIT)) > 0) {
		g_string_append_len(ns->text, buf, n);
		g_string_append_c(ns->text, '\n');
	}
	return G_SOURCE_CONTINUE;
}

static Notify *
notify_new(const char *path)
{
	Notify *ns = g_new0(Notify, 1);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	g_assert_cmpuint(strlen(path), <, sizeof sa.sun_path);
	strcpy(sa.sun_path, path);
	ns->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	g_assert_cmpint(ns->fd, >=, 0);
	g_assert_cmpint(bind(ns->fd, (struct sockaddr *)&sa, sizeof sa), ==, 0);
	ns->text = g_string_new(NULL);
	ns->watch = g_unix_fd_add(ns->fd, G_IO_IN, on_notify, ns);
	return ns;
}

static void
notify_free(Notify *ns)
{
	g_source_remove(ns->watch);
	close(ns->fd);
	g_string_free(ns->text, TRUE);
	g_free(ns);
}

/* ---- checks -------------------------------------------------------------------------------- */

static void
assert_no_secret(const char *where, const char *text)
{
	for (guint i = 0; secrets[i]; i++) {
		if (text && strstr(text, secrets[i]) != NULL)
			g_error("%s shows the secret \"%s\":\n%s", where, secrets[i], text);
	}
}

static void
assert_variant_no_secret(const char *where, GVariant *v)
{
	g_autofree char *printed = g_variant_print(v, TRUE);

	assert_no_secret(where, printed);
}

/* Every regular file the daemon may have written: its journal under state/, its log, its
 * configuration. The simulator's and the HTTP server's files are the other side of the wire
 * and are checked for the opposite. */
static void
assert_dir_no_secret(const char *dir, guint *n_files)
{
	g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
	const char *name;

	g_assert_nonnull(d);
	while ((name = g_dir_read_name(d)) != NULL) {
		g_autofree char *path = g_build_filename(dir, name, NULL);
		g_autofree char *contents = NULL;
		gsize len = 0;

		if (g_str_has_prefix(name, "sim.") || g_str_has_prefix(name, "httpd.") ||
		    g_str_equal(name, "www"))
			continue;
		if (g_file_test(path, G_FILE_TEST_IS_SYMLINK))
			continue;
		if (g_file_test(path, G_FILE_TEST_IS_DIR)) {
			assert_dir_no_secret(path, n_files);
			continue;
		}
		if (!g_file_test(path, G_FILE_TEST_IS_REGULAR))
			continue; /* the control FIFO, sockets */
		g_assert_true(g_file_get_contents(path, &contents, &len, NULL));
		g_test_message("checked %s (%" G_GSIZE_FORMAT " bytes)", path, len);
		/* Compare as text up to the first NUL: journal records are GVariant text or
		 * binary, in both of which a string is stored as its bytes. */
		for (gsize off = 0; off < len; off += strlen(contents + off) + 1)
			assert_no_secret(path, contents + off);
		(*n_files)++;
	}
}

static char *
read_tmp_file(Harness *h, const char *name)
{
	g_autofree char *path = g_build_filename(harness_tmpdir(h), name, NULL);
	char *contents = NULL;

	g_assert_true(g_file_get_contents(path, &contents, NULL, NULL));
	return contents;
}

static gboolean
job_is_set(GVariant *job)
{
	return g_variant_n_children(job) > 0;
}

/* Calls @method, checks Job while the job runs and Finished/LastResult when it ends. */
static GVariant *
run_job(Harness *h, const char *method, GVariant *params, const char *shown_source)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) reply = NULL;
	g_autoptr(GVariant) job = NULL;
	g_autoptr(GVariant) last = NULL;
	GVariant *result;
	guint64 since = harness_mark(h);

	reply = harness_call(h, NULL, HARNESS_IFACE_FOTA, method, params, NULL, &error);
	g_assert_no_error(error);
	/* Job is set when the method returns, and stays until Finished. */
	job = harness_get_property(h, HARNESS_IFACE_FOTA, "Job");
	if (job_is_set(job)) {
		harness_message_variant("Job", job);
		assert_variant_no_secret("Job", job);
		g_assert_cmpstr(harness_dict_str(job, "source"), ==, shown_source);
	}
	result = hm_wait_finished(h, since, 60000);
	harness_message_variant("Finished", result);
	assert_variant_no_secret("Finished", result);
	g_assert_cmpstr(harness_dict_str(result, "source"), ==, shown_source);
	last = harness_get_property(h, HARNESS_IFACE_FOTA, "LastResult");
	assert_variant_no_secret("LastResult", last);
	return result;
}

static void
test_secrets(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *dir = g_dir_make_tmp("dfotad-secrets-XXXXXX", &error);
	g_autofree char *notify_path = g_build_filename(dir, "notify", NULL);
	Notify *ns = notify_new(notify_path);
	g_autoptr(Harness) h = NULL;
	g_autoptr(GVariant) result = NULL;
	g_autoptr(GBytes) mcu = NULL;
	g_autofree char *base = NULL;
	g_autofree char *shown_base = NULL;
	g_autofree char *url = NULL;
	g_autofree char *shown = NULL;
	g_autofree char *line = NULL;
	g_autofree char *log = NULL;
	g_autofree char *httpd_log = NULL;
	g_autofree char *basic = NULL;
	g_autofree char *message = NULL;
	g_autofree char *mcu_path = NULL;
	guint mark, n_files = 0;
	guint64 port;
	const char *const keys[] = { "max-package-size=200000", NULL };
	const HarnessOptions opts = { .daemon_keys = keys };

	g_assert_no_error(error);
	g_setenv("NOTIFY_SOCKET", notify_path, TRUE);
	h = harness_new(&opts);
	g_unsetenv("NOTIFY_SOCKET");
	/* harness_url() gives "http://127.0.0.1:<port>/"; the password goes before the host. */
	base = harness_url(h, "");
	g_assert_true(g_str_has_prefix(base, "http://127.0.0.1:"));
	port = g_ascii_strtoull(base + strlen("http://127.0.0.1:"), NULL, 10);
	g_free(base);
	base = g_strdup_printf("http://fw:" PASSWORD "@127.0.0.1:%" G_GUINT64_FORMAT, port);
	shown_base = g_strdup_printf("http://fw:***@127.0.0.1:%" G_GUINT64_FORMAT, port);

	/* 1. Upgrade: the module downloads with the URL as given. */
	harness_make_package(h, "p.pack", "BC65", HARNESS_REV_FROM, HARNESS_REV_TO, NULL);
	url = g_strconcat(base, "/p.pack" QUERY, NULL);
	shown = g_strconcat(shown_base, "/p.pack" QUERY_SHOWN, NULL);
	mark = harness_tty_mark(h);
	result = run_job(h, "Upgrade", g_variant_new("(s)", url), shown);
	hm_assert_succeeded(result);
	line = g_strdup_printf("AT+QFOTADL=\"%s\"", url);
	g_assert_cmpint(harness_tty_find(h, mark, line), >=, 0);
	g_clear_pointer(&result, g_variant_unref);
	g_clear_pointer(&url, g_free);
	g_clear_pointer(&shown, g_free);
	g_clear_pointer(&line, g_free);

	/* 2. Upgrade that the module fails: HTTPEND with the server's 404. */
	url = g_strconcat(base, "/missing.pack" QUERY, NULL);
	shown = g_strconcat(shown_base, "/missing.pack" QUERY_SHOWN, NULL);
	result = run_job(h, "Upgrade", g_variant_new("(s)", url), shown);
	g_assert_false(harness_dict_bool(result, "success"));
	g_clear_pointer(&result, g_variant_unref);
	g_clear_pointer(&url, g_free);
	g_clear_pointer(&shown, g_free);

	/* 3. UpgradeViaHost: libcurl fetches with the URL as given. */
	harness_make_package(h, "back.pack", "BC65", HARNESS_REV_TO, HARNESS_REV_FROM, NULL);
	url = g_strconcat(base, "/back.pack" QUERY, NULL);
	shown = g_strconcat(shown_base, "/back.pack" QUERY_SHOWN, NULL);
	result = run_job(h, "UpgradeViaHost",
	                 g_variant_new("(s@a{sv})", url, g_variant_new("a{sv}", NULL)), shown);
	hm_assert_succeeded(result);
	g_clear_pointer(&result, g_variant_unref);
	g_clear_pointer(&url, g_free);
	g_clear_pointer(&shown, g_free);

	/* 4. UpgradeViaHost that fails: an HTTP status, its message names the URL. */
	url = g_strconcat(base, "/status/403" QUERY, NULL);
	shown = g_strconcat(shown_base, "/status/403" QUERY_SHOWN, NULL);
	result = run_job(h, "UpgradeViaHost",
	                 g_variant_new("(s@a{sv})", url, g_variant_new("a{sv}", NULL)), shown);
	hm_assert_failed(result, "FetchFailed");
	message = g_strdup(harness_dict_str(result, "message"));
	g_assert_nonnull(strstr(message, shown));
	g_clear_pointer(&result, g_variant_unref);
	g_clear_pointer(&url, g_free);
	g_clear_pointer(&shown, g_free);

	/* 5. UpgradeViaHost that fails in libcurl: nothing listens on that port. */
	url = g_strdup("https://fw:" PASSWORD "@127.0.0.1:1/p.pack" QUERY);
	shown = g_strdup("https://fw:***@127.0.0.1:1/p.pack" QUERY_SHOWN);
	result = run_job(h, "UpgradeViaHost",
	                 g_variant_new("(s@a{sv})", url, g_variant_new("a{sv}", NULL)), shown);
	hm_assert_failed(result, "FetchFailed");
	g_clear_pointer(&result, g_variant_unref);
	g_clear_pointer(&url, g_free);
	g_clear_pointer(&shown, g_free);

	/* 6. FetchMcuFile: the module downloads; the file is named from the URL's path. */
	mcu_path = hm_www_path(h, "m.bin");
	mcu = hm_random_file(mcu_path, 3000, 7);
	url = g_strconcat(base, "/m.bin" QUERY, NULL);
	shown = g_strconcat(shown_base, "/m.bin" QUERY_SHOWN, NULL);
	mark = harness_tty_mark(h);
	result = run_job(h, "FetchMcuFile", g_variant_new("(ss)", url, ""), shown);
	hm_assert_succeeded(result);
	g_assert_cmpstr(harness_dict_str(result, "file"), ==, "m.bin");
	line = g_strdup_printf("AT+QFOTADL=2,\"%s\"", url);
	g_assert_cmpint(harness_tty_find(h, mark, line), >=, 0);
	g_clear_pointer(&result, g_variant_unref);

	/* The real URL went where it had to: the HTTP server saw the signature and the
	 * password (basic authentication), from the module and from the gateway. */
	httpd_log = read_tmp_file(h, "httpd.log");
	basic = g_base64_encode((const guchar *)"fw:" PASSWORD, strlen("fw:" PASSWORD));
	g_assert_nonnull(strstr(httpd_log, "/back.pack" QUERY));
	g_assert_nonnull(strstr(httpd_log, "/p.pack" QUERY));
	g_assert_nonnull(strstr(httpd_log, basic));

	/* The daemon's --verbose log traced the AT+QFOTADL lines, redacted. */
	harness_round_trip(h);
	log = read_tmp_file(h, "dfotad.log");
	g_assert_nonnull(strstr(log, "--> AT+QFOTADL=\""));
	g_assert_nonnull(strstr(log, "fw:***@"));
	assert_dir_no_secret(harness_tmpdir(h), &n_files);
	g_assert_cmpuint(n_files, >=, 3); /* the log, the configuration, the journal */

	/* STATUS= lines, and whatever else was notified. */
	on_notify(ns->fd, G_IO_IN, ns);
	g_assert_nonnull(strstr(ns->text->str, "STATUS="));
	assert_no_secret("NOTIFY_SOCKET", ns->text->str);

	g_clear_pointer(&h, harness_free);
	notify_free(ns);
	g_unlink(notify_path);
	g_rmdir(dir);
}

/* SIGKILL mid-download and a restart on the same state directory: the record the new daemon
 * reads has no secret, and it needs none to see the job through. */
static void
test_restart(void)
{
	/* 100 ms module steps, so that the download lasts long enough to be cut. */
	const char *const sim_args[] = { "--time-scale", "0.5", NULL };
	const HarnessOptions opts = { .sim_args = sim_args };
	g_autoptr(Harness) h = harness_new(&opts);
	g_autoptr(GVariant) result = NULL;
	g_autofree char *base = harness_url(h, "");
	g_autofree char *url = NULL;
	g_autofree char *shown = NULL;
	g_autofree char *state = fh_state_dir(h);
	guint64 since, id;
	guint n_files = 0;

	harness_make_package(h, "p.pack", "BC65", HARNESS_REV_FROM, HARNESS_REV_TO, NULL);
	/* "http://127.0.0.1:<port>/" with the password inserted before the host. */
	url = g_strdup_printf("http://fw:" PASSWORD "@%sp.pack" QUERY, base + strlen("http://"));
	shown = g_strdup_printf("http://fw:***@%sp.pack" QUERY_SHOWN, base + strlen("http://"));
	since = harness_mark(h);
	fh_upgrade(h, url);
	id = fh_job_id(h);
	g_assert_true(fh_wait_progress(h, since, "downloading", 10, 60000));
	fh_daemon_kill(h);
	assert_dir_no_secret(state, &n_files);
	g_assert_cmpuint(n_files, >=, 1); /* the job's record */
	fh_daemon_start(h);

	result = harness_wait_finished(h, since, 90000);
	harness_message_variant("Finished", result);
	hm_assert_succeeded(result);
	g_assert_cmpuint(harness_dict_uint64(result, "id"), ==, id);
	g_assert_cmpstr(harness_dict_str(result, "source"), ==, shown);
	assert_variant_no_secret("Finished", result);
	n_files = 0;
	assert_dir_no_secret(harness_tmpdir(h), &n_files);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/secrets/everywhere", test_secrets);
	g_test_add_func("/secrets/restart", test_restart);
	return g_test_run();
}
