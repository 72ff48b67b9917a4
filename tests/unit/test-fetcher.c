// SPDX-License-Identifier: LGPL-2.1-or-later
/* test-fetcher.c: DfotaFetcher against a real HTTP(S) server on 127.0.0.1 (tests/httpd.py,
 * path in $HTTPD), driven by the GLib main loop like in the daemon. */
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <unistd.h>

#include "dfota-error.h"
#include "dfota-fetcher.h"

#define FILE_SIZE (300 * 1024)
#define WAIT_S 20

typedef struct {
	char *dir;
	GPid pid;
	guint port;
	gboolean tls;
} Server;

static char *tmp_root;
static GBytes *package;
static Server plain;
static Server secure;
static char *ca_file;

/* A server must not outlive a test that crashed or was killed. */
static void
child_setup(gpointer unused)
{
	prctl(PR_SET_PDEATHSIG, SIGTERM);
}

/* Waits (bounded) for httpd.py to announce its port: the port file is its readiness event. */
static void
server_start(Server *s, const char *cert, const char *key)
{
	const char *httpd = g_getenv("HTTPD");
	g_autofree char *port_file = g_build_filename(tmp_root, cert ? "port-tls" : "port", NULL);
	g_autoptr(GPtrArray) argv = g_ptr_array_new();
	g_autoptr(GError) error = NULL;
	gint64 deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;

	g_assert_nonnull(httpd);
	g_ptr_array_add(argv, (char *)"python3");
	g_ptr_array_add(argv, (char *)httpd);
	g_ptr_array_add(argv, (char *)"--root");
	g_ptr_array_add(argv, s->dir);
	g_ptr_array_add(argv, (char *)"--port-file");
	g_ptr_array_add(argv, port_file);
	if (cert) {
		g_ptr_array_add(argv, (char *)"--tls-cert");
		g_ptr_array_add(argv, (char *)cert);
		g_ptr_array_add(argv, (char *)"--tls-key");
		g_ptr_array_add(argv, (char *)key);
	}
	g_ptr_array_add(argv, NULL);
	g_spawn_async(NULL, (char **)argv->pdata, NULL,
	              G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD, child_setup, NULL, &s->pid,
	              &error);
	g_assert_no_error(error);
	s->tls = cert != NULL;
	while (s->port == 0) {
		g_autofree char *text = NULL;
		if (g_file_get_contents(port_file, &text, NULL, NULL) && strchr(text, '\n'))
			s->port = (guint)g_ascii_strtoull(text, NULL, 10);
		else if (g_get_monotonic_time() > deadline)
			g_error("%s did not announce its port within 10 s", httpd);
		else
			g_usleep(10000);
	}
}

static void
server_stop(Server *s)
{
	if (s->pid) {
		kill(s->pid, SIGTERM);
		waitpid(s->pid, NULL, 0);
		g_spawn_close_pid(s->pid);
		s->pid = 0;
	}
}

static char *
url_for(const Server *s, const char *path)
{
	return g_strdup_printf("%s://127.0.0.1:%u/%s", s->tls ? "https" : "http", s->port, path);
}

typedef struct {
	GMainLoop *loop;
	GBytes *bytes;
	char *sha256; /* the digest the fetcher returned with the body */
	GError *error;
	gboolean done;
	guint progress_calls;
	guint64 last_done;
	guint64 last_total;
	gboolean progress_decreased;
	GCancellable *cancel_on_progress;
	guint stall_ms_on_cancel; /* keep the loop busy before cancelling: reports pile up */
	guint stall_ms_first;     /* keep the loop busy at the first report (no cancel) */
	guint progress_after_cancel;
	guint ticks;
	DfotaFetcher *fetcher;
	guint calls_off_main_thread; /* progress or completion outside the caller's thread */
	guint worker_threads_seen;   /* "dfotad-fetch" threads while progress came */
} Fetch;

static GThread *main_thread;

/* Threads of this process named @name (/proc/self/task/N/comm). */
static guint
threads_named(const char *name)
{
	g_autoptr(GDir) dir = g_dir_open("/proc/self/task", 0, NULL);
	const char *tid;
	guint n = 0;

	g_assert_nonnull(dir);
	while ((tid = g_dir_read_name(dir)) != NULL) {
		g_autofree char *path = g_build_filename("/proc/self/task", tid, "comm", NULL);
		g_autofree char *comm = NULL;

		if (g_file_get_contents(path, &comm, NULL, NULL) &&
		    g_str_equal(g_strstrip(comm), name))
			n++;
	}
	return n;
}

static void
on_progress(guint64 done, guint64 total, gpointer user_data)
{
	Fetch *f = user_data;

	if (done < f->last_done)
		f->progress_decreased = TRUE;
	if (g_thread_self() != main_thread)
		f->calls_off_main_thread++;
	f->worker_threads_seen = MAX(f->worker_threads_seen, threads_named("dfotad-fetch"));
	if (f->cancel_on_progress && g_cancellable_is_cancelled(f->cancel_on_progress))
		f->progress_after_cancel++;
	if (f->stall_ms_first && f->progress_calls == 0)
		g_usleep(f->stall_ms_first * 1000); /* a busy main loop, not a wait */
	f->progress_calls++;
	f->last_done = done;
	f->last_total = total;
	if (f->cancel_on_progress && done > 0 &&
	    !g_cancellable_is_cancelled(f->cancel_on_progress)) {
		if (f->stall_ms_on_cancel)
			g_usleep(f->stall_ms_on_cancel * 1000); /* a busy main loop, not a wait */
		g_cancellable_cancel(f->cancel_on_progress);
	}
}

static void
on_fetched(GObject *source, GAsyncResult *result, gpointer user_data)
{
	Fetch *f = user_data;

	g_assert_null(source); /* a task must not keep the fetcher alive */
	if (g_thread_self() != main_thread)
		f->calls_off_main_thread++;
	f->bytes = dfota_fetcher_fetch_finish(f->fetcher, result, &f->sha256, &f->error);
	f->done = TRUE;
	g_main_loop_quit(f->loop);
}

static gboolean
on_deadline(gpointer user_data)
{
	g_error("the fetch did not complete within %d s", WAIT_S);
	return G_SOURCE_REMOVE;
}

static gboolean
on_tick(gpointer user_data)
{
	((Fetch *)user_data)->ticks++;
	return G_SOURCE_CONTINUE;
}

static void
fetch_clear(Fetch *f)
{
	g_clear_pointer(&f->bytes, g_bytes_unref);
	g_clear_pointer(&f->sha256, g_free);
	g_clear_error(&f->error);
	g_clear_pointer(&f->loop, g_main_loop_unref);
}

/* Runs one fetch to its end on a fresh fetcher (and so also checks it is freed cleanly). */
static void
run_fetch(Fetch *f, const char *url, const DfotaFetchOptions *opts, GCancellable *cancellable)
{
	g_autoptr(DfotaFetcher) fetcher = dfota_fetcher_new();
	guint deadline = g_timeout_add_seconds(WAIT_S, on_deadline, NULL);
	guint tick = g_timeout_add(20, on_tick, f);

	f->loop = g_main_loop_new(NULL, FALSE);
	f->fetcher = fetcher;
	dfota_fetcher_fetch(fetcher, url, opts, on_progress, f, cancellable, on_fetched, f);
	g_main_loop_run(f->loop);
	g_source_remove(deadline);
	g_source_remove(tick);
	g_assert_true(f->done);
	if (f->error)
		g_test_message("%s: %s", url, f->error->message);
	g_assert_false(f->progress_decreased);
}

/* The digest that came with the body is the SHA-256 of exactly the package's bytes (not of a
 * redirect's or an error page's body), in lowercase hex. */
static void
assert_package_digest(const Fetch *f)
{
	g_autofree char *want = g_compute_checksum_for_bytes(G_CHECKSUM_SHA256, package);

	g_assert_cmpstr(f->sha256, ==, want);
}

static void
test_success(void)
{
	g_autofree char *url = url_for(&plain, "pkg.bin");
	DfotaFetchOptions opts = { .max_size = FILE_SIZE };
	Fetch f = { 0 };

	run_fetch(&f, url, &opts, NULL);
	g_assert_no_error(f.error);
	g_assert_true(g_bytes_equal(f.bytes, package));
	assert_package_digest(&f);
	g_assert_cmpuint(f.progress_calls, >, 0);
	g_assert_cmpuint(f.progress_calls, <=, 102); /* whole-percent steps only */
	g_assert_cmpuint(f.last_done, ==, FILE_SIZE);
	g_assert_cmpuint(f.last_total, ==, FILE_SIZE);
	/* The transfer ran on the fetcher's thread, off the caller's loop; what the caller sees
	 * (progress, completion) came in its own thread; the thread went with the fetcher. */
	g_assert_cmpuint(f.worker_threads_seen, ==, 1);
	g_assert_cmpuint(f.calls_off_main_thread, ==, 0);
	g_assert_cmpuint(threads_named("dfotad-fetch"), ==, 0);
	fetch_clear(&f);
}

static void
check_http_error(const char *code)
{
	g_autofree char *path = g_strdup_printf("status/%s", code);
	g_autofree char *url = url_for(&plain, path);
	DfotaFetchOptions opts = { .max_size = FILE_SIZE };
	Fetch f = { 0 };

	run_fetch(&f, url, &opts, NULL);
	g_assert_error(f.error, DFOTA_ERROR, DFOTA_ERROR_FETCH_FAILED);
	g_assert_nonnull(strstr(f.error->message, code));
	g_assert_nonnull(strstr(f.error->message, url));
	g_assert_null(f.bytes);
	g_assert_null(f.sha256);
	fetch_clear(&f);
}

static void
test_404(void)
{
	g_autofree char *url = url_for(&plain, "missing.bin");
	DfotaFetchOptions opts = { .max_size = FILE_SIZE };
	Fetch f = { 0 };

	check_http_error("404");
	/* A missing file on a plain file server is the same 404. */
	run_fetch(&f, url, &opts, NULL);
	g_assert_error(f.error, DFOTA_ERROR, DFOTA_ERROR_FETCH_FAILED);
	g_assert_nonnull(strstr(f.error->message, "HTTP 404"));
	fetch_clear(&f);
}

static void
test_500(void)
{
	check_http_error("500");
}

static void
test_too_large(void)
{
	g_autofree char *url = url_for(&plain, "pkg.bin");
	g_autofree char *want = g_strdup_printf("%u bytes", FILE_SIZE);
	g_autofree char *limit = g_strdup_printf("max-package-size %u", FILE_SIZE - 1);
	DfotaFetchOptions opts = { .max_size = FILE_SIZE - 1 };
	Fetch f = { 0 };

	run_fetch(&f, url, &opts, NULL);
	g_assert_error(f.error, DFOTA_MODULE_ERROR, DFOTA_MODULE_ERROR_PACKAGE_TOO_LARGE);
	g_assert_nonnull(strstr(f.error->message, want));
	g_assert_nonnull(strstr(f.error->message, limit));
	g_assert_null(f.bytes);
	fetch_clear(&f);
}

/* A server that stops sending: the low-speed limit ends it, and the loop keeps running. */
static void
test_stall(void)
{
	g_autofree char *url = url_for(&plain, "stall/pkg.bin");
	DfotaFetchOptions opts = { .max_size = FILE_SIZE, .low_speed_time_s = 1 };
	Fetch f = { 0 };
	gint64 start = g_get_monotonic_time();

	run_fetch(&f, url, &opts, NULL);
	g_assert_error(f.error, DFOTA_ERROR, DFOTA_ERROR_FETCH_FAILED);
	g_assert_nonnull(strstr(f.error->message, url));
	g_assert_cmpint(g_get_monotonic_time() - start, >=, G_USEC_PER_SEC);
	/* ~1 s of stall at a 20 ms tick: the main loop was never blocked by the download. */
	g_assert_cmpuint(f.ticks, >=, 20);
	fetch_clear(&f);
}

static void
test_cancel(void)
{
	g_autofree char *url = url_for(&plain, "slow/pkg.bin?bps=65536");
	g_autoptr(GCancellable) cancellable = g_cancellable_new();
	DfotaFetchOptions opts = { .max_size = FILE_SIZE };
	Fetch f = { .cancel_on_progress = cancellable };

	run_fetch(&f, url, &opts, cancellable);
	g_assert_error(f.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
	g_assert_null(f.bytes);
	g_assert_cmpuint(f.progress_calls, >=, 1);
	g_assert_cmpuint(f.progress_after_cancel, ==, 0);
	g_assert_cmpuint(f.last_done, <, FILE_SIZE);
	fetch_clear(&f);
}

/* An unthrottled download, cancelled by a caller whose loop was busy long enough for the
 * worker to queue the remaining reports (and maybe the end): none of them reaches the caller
 * after its cancel. */
static void
test_cancel_busy_loop(void)
{
	/* ≈ 150 ms for the whole file: many reports, all sent while the loop is stalled */
	g_autofree char *url = url_for(&plain, "slow/pkg.bin?bps=2000000");
	g_autoptr(GCancellable) cancellable = g_cancellable_new();
	DfotaFetchOptions opts = { .max_size = FILE_SIZE };
	Fetch f = { .cancel_on_progress = cancellable, .stall_ms_on_cancel = 400 };

	run_fetch(&f, url, &opts, cancellable);
	g_assert_error(f.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
	g_assert_null(f.bytes);
	g_assert_cmpuint(f.progress_calls, ==, 1);
	g_assert_cmpuint(f.progress_after_cancel, ==, 0);
	fetch_clear(&f);
}

/* A caller whose loop is busy while the download runs gets one report with the latest values
 * when it is free again, not one per percent it missed. */
static void
test_progress_coalesced(void)
{
	g_autofree char *url = url_for(&plain, "slow/pkg.bin?bps=2000000");
	DfotaFetchOptions opts = { .max_size = FILE_SIZE };
	Fetch f = { .stall_ms_first = 1500 }; /* ten times the download */

	run_fetch(&f, url, &opts, NULL);
	g_assert_no_error(f.error);
	g_assert_true(g_bytes_equal(f.bytes, package));
	g_assert_cmpuint(f.progress_calls, <=, 3);
	g_assert_cmpuint(f.last_done, ==, FILE_SIZE);
	g_assert_cmpuint(f.last_total, ==, FILE_SIZE);
	fetch_clear(&f);
}

static void
test_cancel_before_start(void)
{
	g_autofree char *url = url_for(&plain, "pkg.bin");
	g_autoptr(GCancellable) cancellable = g_cancellable_new();
	DfotaFetchOptions opts = { .max_size = FILE_SIZE };
	Fetch f = { 0 };

	g_cancellable_cancel(cancellable);
	run_fetch(&f, url, &opts, cancellable);
	g_assert_error(f.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
	g_assert_cmpuint(f.progress_calls, ==, 0);
	fetch_clear(&f);
}

static void
test_refused(void)
{
	struct sockaddr_in addr = { .sin_family = AF_INET };
	socklen_t len = sizeof(addr);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	g_autofree char *url = NULL;
	DfotaFetchOptions opts = { .max_size = FILE_SIZE, .connect_timeout_s = 5 };
	Fetch f = { 0 };

	/* A port that was free a moment ago and has no listener. */
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	g_assert_cmpint(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), ==, 0);
	g_assert_cmpint(getsockname(fd, (struct sockaddr *)&addr, &len), ==, 0);
	close(fd);
	url = g_strdup_printf("http://127.0.0.1:%u/pkg.bin", ntohs(addr.sin_port));
	run_fetch(&f, url, &opts, NULL);
	g_assert_error(f.error, DFOTA_ERROR, DFOTA_ERROR_FETCH_FAILED);
	g_assert_nonnull(strstr(f.error->message, url));
	fetch_clear(&f);
}

static void
test_redirects(void)
{
	g_autofree char *ok_url = url_for(&plain, "redirect/3/pkg.bin");
	g_autofree char *over_url = url_for(&plain, "redirect/4/pkg.bin");
	DfotaFetchOptions opts = { .max_size = FILE_SIZE, .max_redirects = 3 };
	Fetch f = { 0 };

	run_fetch(&f, ok_url, &opts, NULL);
	g_assert_no_error(f.error);
	g_assert_true(g_bytes_equal(f.bytes, package));
	assert_package_digest(&f);
	fetch_clear(&f);

	memset(&f, 0, sizeof(f));
	run_fetch(&f, over_url, &opts, NULL);
	g_assert_error(f.error, DFOTA_ERROR, DFOTA_ERROR_FETCH_FAILED);
	g_assert_nonnull(strstr(f.error->message, "redirect"));
	fetch_clear(&f);
}

static void
test_https(void)
{
	g_autofree char *url = url_for(&secure, "pkg.bin");
	DfotaFetchOptions with_ca = { .max_size = FILE_SIZE, .ca_file = ca_file };
	DfotaFetchOptions system_ca = { .max_size = FILE_SIZE };
	Fetch f = { 0 };

	run_fetch(&f, url, &with_ca, NULL);
	g_assert_no_error(f.error);
	g_assert_true(g_bytes_equal(f.bytes, package));
	assert_package_digest(&f);
	fetch_clear(&f);

	memset(&f, 0, sizeof(f));
	run_fetch(&f, url, &system_ca, NULL);
	g_assert_error(f.error, DFOTA_ERROR, DFOTA_ERROR_FETCH_FAILED);
	g_assert_null(f.bytes);
	fetch_clear(&f);
}

/* Dropping the last reference while a download runs ends it with Cancelled. */
/* A redirect may raise http:// to https://, never lower https:// to http://: the refusal names
 * the redirect by scheme and host only (its query may be a presigned secret). */
static void
test_redirect_downgrade(void)
{
	g_autofree char *plain_target =
	        g_strdup_printf("http://127.0.0.1:%u/pkg.bin?X-Amz-Signature=s3cr3t", plain.port);
	g_autofree char *secure_target =
	        g_strdup_printf("https://127.0.0.1:%u/pkg.bin", secure.port);
	g_autofree char *escaped_plain = g_uri_escape_string(plain_target, NULL, FALSE);
	g_autofree char *escaped_secure = g_uri_escape_string(secure_target, NULL, FALSE);
	g_autofree char *down =
	        g_strdup_printf("https://127.0.0.1:%u/goto?to=%s", secure.port, escaped_plain);
	g_autofree char *down_upper =
	        g_strdup_printf("HTTPS://127.0.0.1:%u/goto?to=%s", secure.port, escaped_plain);
	g_autofree char *up =
	        g_strdup_printf("http://127.0.0.1:%u/goto?to=%s", plain.port, escaped_secure);
	const char *expected_host = "to http://127.0.0.1";
	DfotaFetchOptions opts = { .max_size = FILE_SIZE, .ca_file = ca_file };
	const char *const downgrades[] = { down, down_upper };
	Fetch f = { 0 };

	for (guint i = 0; i < G_N_ELEMENTS(downgrades); i++) {
		memset(&f, 0, sizeof(f));
		run_fetch(&f, downgrades[i], &opts, NULL);
		g_assert_error(f.error, DFOTA_ERROR, DFOTA_ERROR_FETCH_FAILED);
		g_assert_null(f.bytes);
		g_assert_nonnull(strstr(f.error->message, "redirect"));
		g_assert_nonnull(strstr(f.error->message, expected_host));
		g_assert_null(strstr(f.error->message, "s3cr3t"));
		fetch_clear(&f);
	}

	memset(&f, 0, sizeof(f));
	run_fetch(&f, up, &opts, NULL);
	g_assert_no_error(f.error);
	g_assert_true(g_bytes_equal(f.bytes, package));
	fetch_clear(&f);
}

/* A server that keeps trickling (never under the 1 byte/s stall bound) is ended by the overall
 * deadline, with Timeout rather than the stall's FetchFailed. */
static void
test_deadline(void)
{
	g_autofree char *url = url_for(&plain, "slow/pkg.bin?bps=400");
	DfotaFetchOptions opts = { .max_size = FILE_SIZE, .low_speed_time_s = 1, .deadline_s = 2 };
	Fetch f = { 0 };
	gint64 start = g_get_monotonic_time();

	run_fetch(&f, url, &opts, NULL);
	g_assert_error(f.error, DFOTA_ERROR, DFOTA_ERROR_TIMEOUT);
	g_assert_nonnull(strstr(f.error->message, "fetch-deadline"));
	g_assert_null(f.bytes);
	g_assert_cmpint(g_get_monotonic_time() - start, >=, 2 * G_USEC_PER_SEC);
	/* bytes did flow: progress was reported before the deadline */
	g_assert_cmpuint(f.progress_calls, >, 0);
	fetch_clear(&f);

	/* the stall bound still ends in FetchFailed when a deadline is set too */
	memset(&f, 0, sizeof(f));
	g_free(url);
	url = url_for(&plain, "stall/pkg.bin");
	opts.deadline_s = 30;
	run_fetch(&f, url, &opts, NULL);
	g_assert_error(f.error, DFOTA_ERROR, DFOTA_ERROR_FETCH_FAILED);
	fetch_clear(&f);
}

static void
test_dispose_cancels(void)
{
	g_autofree char *url = url_for(&plain, "stall/pkg.bin");
	DfotaFetchOptions opts = { .max_size = FILE_SIZE };
	DfotaFetcher *fetcher = dfota_fetcher_new();
	Fetch f = { 0 };
	guint deadline = g_timeout_add_seconds(WAIT_S, on_deadline, NULL);

	f.loop = g_main_loop_new(NULL, FALSE);
	f.fetcher = fetcher;
	dfota_fetcher_fetch(fetcher, url, &opts, on_progress, &f, NULL, on_fetched, &f);
	/* Wait until bytes flow, so the transfer is really running. */
	while (f.progress_calls == 0)
		g_main_context_iteration(NULL, TRUE);
	g_object_unref(fetcher);
	while (!f.done)
		g_main_context_iteration(NULL, TRUE);
	g_source_remove(deadline);
	g_assert_error(f.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
	fetch_clear(&f);
}

static void
run_openssl(const char *const *args)
{
	g_autoptr(GPtrArray) argv = g_ptr_array_new();
	g_autofree char *err = NULL;
	g_autoptr(GError) error = NULL;
	int status = 0;

	g_ptr_array_add(argv, (char *)"openssl");
	for (gsize i = 0; args[i]; i++)
		g_ptr_array_add(argv, (char *)args[i]);
	g_ptr_array_add(argv, NULL);
	g_spawn_sync(tmp_root, (char **)argv->pdata, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL,
	             &err, &status, &error);
	g_assert_no_error(error);
	if (!g_spawn_check_wait_status(status, NULL))
		g_error("openssl %s failed: %s", args[0], err);
}

/* A throw-away CA and a server certificate for 127.0.0.1 signed by it. */
static void
make_certificates(void)
{
	const char *ca[] = { "req",    "-x509",    "-newkey",
		             "ec",     "-pkeyopt", "ec_paramgen_curve:prime256v1",
		             "-nodes", "-keyout",  "ca.key",
		             "-out",   "ca.pem",   "-days",
		             "2",      "-subj",    "/CN=dfotad test CA",
		             NULL };
	const char *csr[] = {
		"req",    "-newkey",       "ec",         "-pkeyopt", "ec_paramgen_curve:prime256v1",
		"-nodes", "-keyout",       "server.key", "-out",     "server.csr",
		"-subj",  "/CN=127.0.0.1", NULL
	};
	const char *sign[] = { "x509",       "-req",   "-in",    "server.csr",      "-CA",
		               "ca.pem",     "-CAkey", "ca.key", "-CAcreateserial", "-out",
		               "server.pem", "-days",  "2",      "-extfile",        "ext.cnf",
		               NULL };
	g_autofree char *ext = g_build_filename(tmp_root, "ext.cnf", NULL);

	g_assert_true(
	        g_file_set_contents(ext, "subjectAltName=IP:127.0.0.1,DNS:localhost\n", -1, NULL));
	run_openssl(ca);
	run_openssl(csr);
	run_openssl(sign);
	ca_file = g_build_filename(tmp_root, "ca.pem", NULL);
}

int
main(int argc, char **argv)
{
	g_autofree guint8 *data = g_malloc(FILE_SIZE);
	g_autofree char *pkg = NULL;
	g_autofree char *cert = NULL;
	g_autofree char *key = NULL;
	g_autoptr(GError) error = NULL;
	int rc;

	g_test_init(&argc, &argv, NULL);
	tmp_root = g_dir_make_tmp("test-fetcher-XXXXXX", &error);
	g_assert_no_error(error);
	for (gsize i = 0; i < FILE_SIZE; i++)
		data[i] = (guint8)g_test_rand_int();
	package = g_bytes_new(data, FILE_SIZE);
	pkg = g_build_filename(tmp_root, "pkg.bin", NULL);
	g_assert_true(g_file_set_contents(pkg, (const char *)data, FILE_SIZE, NULL));
	make_certificates();
	cert = g_build_filename(tmp_root, "server.pem", NULL);
	key = g_build_filename(tmp_root, "server.key", NULL);
	plain.dir = secure.dir = tmp_root;
	server_start(&plain, NULL, NULL);
	server_start(&secure, cert, key);

	main_thread = g_thread_self();
	g_test_add_func("/fetcher/success", test_success);
	g_test_add_func("/fetcher/http-404", test_404);
	g_test_add_func("/fetcher/http-500", test_500);
	g_test_add_func("/fetcher/too-large", test_too_large);
	g_test_add_func("/fetcher/stall", test_stall);
	g_test_add_func("/fetcher/cancel", test_cancel);
	g_test_add_func("/fetcher/cancel-busy-loop", test_cancel_busy_loop);
	g_test_add_func("/fetcher/progress-coalesced", test_progress_coalesced);
	g_test_add_func("/fetcher/cancel-before-start", test_cancel_before_start);
	g_test_add_func("/fetcher/refused", test_refused);
	g_test_add_func("/fetcher/redirects", test_redirects);
	g_test_add_func("/fetcher/https", test_https);
	g_test_add_func("/fetcher/redirect-downgrade", test_redirect_downgrade);
	g_test_add_func("/fetcher/deadline", test_deadline);
	g_test_add_func("/fetcher/dispose-cancels", test_dispose_cancels);
	rc = g_test_run();

	server_stop(&plain);
	server_stop(&secure);
	g_bytes_unref(package);
	g_free(ca_file);
	{
		g_autoptr(GFile) root = g_file_new_for_path(tmp_root);
		g_autoptr(GFileEnumerator) en = g_file_enumerate_children(
		        root, G_FILE_ATTRIBUTE_STANDARD_NAME, G_FILE_QUERY_INFO_NONE, NULL, NULL);
		GFileInfo *info;
		while (en && (info = g_file_enumerator_next_file(en, NULL, NULL)) != NULL) {
			g_autofree char *p =
			        g_build_filename(tmp_root, g_file_info_get_name(info), NULL);
			g_unlink(p);
			g_object_unref(info);
		}
		g_rmdir(tmp_root);
	}
	g_free(tmp_root);
	return rc;
}
