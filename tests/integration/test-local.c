// SPDX-License-Identifier: LGPL-2.1-or-later
/* test-local.c: the upgrades that start from a package on this side of the module, against the
 * real daemon and simulator: Fota.UpgradeLocal (seed 3.2) after Files.Upload, missing
 * fota.pack, END errors; Fota.UpgradeFromFile from a regular file and a pipe; Fota.Cancel in
 * the host-side phases and its refusals; a caller that leaves the bus cancels nothing. */
#include "harness-modes.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#define SLOW_BPS "4000"

/* What a whole job from a package on this side may send besides the baseline: free space and
 * the file list, the old fota.pack deleted, the upload and its data, the seed's local upgrade. */
static const char *const full_job_lines[] = { "AT+QFLDS=\"UFS\"",
	                                      "AT+QFLST",
	                                      "AT+QFDEL=\"fota.pack\"",
	                                      "AT+QFUPL=\"fota.pack\",",
	                                      "[data ",
	                                      "AT+QFOTADL=1",
	                                      NULL };

/* ---- jobs ------------------------------------------------------------------------------------ */

/* Waits for the job's single Finished and checks it names @error_name (NULL: success). */
static GVariant *
finished(Harness *h, guint64 since, const char *kind, const char *error_name, guint timeout_ms)
{
	GVariant *result = hm_wait_finished(h, since, timeout_ms);

	g_assert_cmpstr(harness_dict_str(result, "kind"), ==, kind);
	g_assert_cmpstr(harness_dict_str(result, "from-revision"), ==, HARNESS_REV_FROM);
	if (error_name == NULL) {
		hm_assert_succeeded(result);
		g_assert_cmpstr(harness_dict_str(result, "to-revision"), ==, HARNESS_REV_TO);
		hm_assert_revision(h, HARNESS_REV_TO);
	} else {
		hm_assert_failed(result, error_name);
		hm_assert_revision(h, HARNESS_REV_FROM);
	}
	hm_assert_idle_with_result(h, result);
	return result;
}

/* ---- packages and fds ------------------------------------------------------------------------ */

/* A package in the HTTP root; returns its path. */
static char *
make_package(Harness *h, const char *name, const char *payload_size)
{
	const char *const extra[] = { "--payload-size", payload_size, NULL };

	harness_make_package(h, name, "BC65", HARNESS_REV_FROM, HARNESS_REV_TO,
	                     payload_size != NULL ? extra : NULL);
	return hm_www_path(h, name);
}

static void
upload_file(Harness *h, const char *path, const char *name)
{
	g_autoptr(GError) error = NULL;

	hm_upload(h, path, name, &error);
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
	g_assert_cmpint(hm_ufs_size(h, "fota.pack"), ==, (gint64)file_size(pkg));

	since = harness_mark(h);
	mark = harness_tty_mark(h);
	reply = harness_call(h, NULL, HARNESS_IFACE_FOTA, "UpgradeLocal", NULL, NULL, &error);
	g_assert_no_error(error);
	result = finished(h, since, "upgrade-local", NULL, 30000);
	phases = hm_job_phases(h, since);
	g_assert_cmpstr(phases, ==, "updating,rebooting,verifying");

	/* Seed 3.2: the package is checked first, then AT+QFOTADL=1, once. */
	qflst = harness_tty_find(h, mark, "AT+QFLST");
	qfotadl = harness_tty_find(h, mark, "AT+QFOTADL=1");
	g_assert_cmpint(qflst, >=, 0);
	g_assert_cmpint(qfotadl, >, qflst);
	g_assert_cmpuint(hm_count_tty(h, mark, "AT+QFOTADL"), ==, 1);
	hm_assert_tty_only(h, mark, allowed);
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
	hm_assert_no_finished(h, since);
	g_assert_cmpuint(hm_count_tty(h, mark, "AT+QFLST"), >=, 1);
	hm_assert_tty_only(h, mark, allowed);
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
			phases = hm_job_phases(h, since);
			g_assert_cmpstr(phases, ==, "updating");
			g_clear_pointer(&result, g_variant_unref);
		} else {
			/* The next attempt (the error was one-shot) succeeds. */
			result = finished(h, since, "upgrade-local", NULL, 30000);
			phases = hm_job_phases(h, since);
			g_assert_cmpstr(phases, ==, "updating,rebooting,verifying");
		}
		g_assert_cmpuint(hm_count_tty(h, mark, "AT+QFOTADL"), ==, 1);
		hm_assert_tty_only(h, mark, allowed);
	}
}

static void
test_local_corrupt_package(void)
{
	g_autoptr(Harness) h = harness_new(NULL);
	const char *const corrupt[] = { "--corrupt", NULL };
	g_autofree char *pkg = hm_www_path(h, "bad.pack");
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
	g_assert_cmpuint(hm_count_tty(h, mark, "AT+QFOTADL"), ==, 1);
	hm_assert_tty_only(h, mark, allowed);
}

/* ---- UpgradeFromFile ------------------------------------------------------------------------ */

static void
from_file_success(Harness *h, int fd, GVariant *options)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) reply = NULL;
	g_autoptr(GVariant) result = NULL;
	g_autofree char *phases = NULL;
	guint64 since = harness_mark(h);
	guint mark = harness_tty_mark(h);

	reply = hm_call_fd(h, HARNESS_IFACE_FOTA, "UpgradeFromFile",
	                   g_variant_new("(h@a{sv})", 0, options ? options : no_options()), fd,
	                   &error);
	g_assert_no_error(error);
	result = finished(h, since, "upgrade-from-file", NULL, 60000);
	phases = hm_job_phases(h, since);
	g_assert_cmpstr(phases, ==, "fetching,uploading,updating,rebooting,verifying");
	g_assert_cmpuint(hm_count_tty(h, mark, "AT+QFUPL="), ==, 1);
	g_assert_cmpuint(hm_count_tty(h, mark, "AT+QFOTADL"), ==, 1);
	g_assert_cmpint(harness_tty_find(h, mark, "AT+QFOTADL=1"), >,
	                harness_tty_find(h, mark, "[data "));
	hm_assert_tty_only(h, mark, full_job_lines);
}

static void
test_from_file_regular(void)
{
	g_autoptr(Harness) h = harness_new(NULL);
	g_autofree char *pkg = make_package(h, "update.pack", NULL);
	int fd = open(pkg, O_RDONLY | O_CLOEXEC);

	g_assert_cmpint(fd, >=, 0);
	from_file_success(h, fd, NULL);
	close(fd);
	g_assert_cmpint(hm_ufs_size(h, "fota.pack"), ==, (gint64)file_size(pkg));
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
	from_file_success(h, pipefd[0], NULL);
	close(pipefd[0]);
}

/* The digest of a package read from an fd is taken as it is read: the right one passes, one
 * that differs in a single digit fails the job before anything is uploaded. */
static void
test_from_file_sha256(void)
{
	g_autoptr(Harness) h = harness_new(NULL);
	g_autofree char *pkg = make_package(h, "update.pack", NULL);
	g_autofree char *sha = hm_sha256_of(pkg);
	g_autofree char *wrong = g_strdup(sha);
	g_autoptr(GVariant) reply = NULL;
	g_autoptr(GVariant) result = NULL;
	g_autoptr(GError) error = NULL;
	guint64 since;
	int fd;

	wrong[63] = wrong[63] == '0' ? '1' : '0';
	fd = open(pkg, O_RDONLY | O_CLOEXEC);
	g_assert_cmpint(fd, >=, 0);
	since = harness_mark(h);
	reply = hm_call_fd(h, HARNESS_IFACE_FOTA, "UpgradeFromFile",
	                   g_variant_new("(h@a{sv})", 0, hm_options(wrong, NULL)), fd, &error);
	close(fd);
	g_assert_no_error(error);
	result = finished(h, since, "upgrade-from-file", "ChecksumMismatch", 20000);
	g_assert_cmpint(hm_ufs_size(h, "fota.pack"), ==, -1);

	fd = open(pkg, O_RDONLY | O_CLOEXEC);
	g_assert_cmpint(fd, >=, 0);
	from_file_success(h, fd, hm_options(sha, NULL));
	close(fd);
}

/* ---- UpgradeViaHost ----------------------------------------------------------------------- */

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
	g_autofree char *upl = NULL;
	guint64 since = harness_mark(h);
	guint mark = harness_tty_mark(h);
	guint32 serial = 0;
	guint fetch_max = 0;
	int reply_at = -1, progress_at = -1;

	reply = harness_call(h, NULL, HARNESS_IFACE_FOTA, "UpgradeViaHost",
	                     g_variant_new("(s@a{sv})", url, opts), &serial, &error);
	g_assert_no_error(error);
	result = hm_wait_finished(h, since, 60000);
	hm_assert_succeeded(result);
	g_assert_cmpstr(harness_dict_str(result, "kind"), ==, "upgrade-via-host");
	g_assert_cmpstr(harness_dict_str(result, "source"), ==, url);
	g_assert_cmpstr(harness_dict_str(result, "from-revision"), ==, from);
	g_assert_cmpstr(harness_dict_str(result, "to-revision"), ==, to);
	hm_assert_revision(h, to);
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
	phases = hm_job_phases_at(h, HARNESS_MODEM_PATH, since, &fetch_max);
	g_assert_cmpstr(phases, ==, "fetching,uploading,updating,rebooting,verifying");
	g_assert_cmpuint(fetch_max, ==, 100);

	/* On the line: one acknowledged upload of the whole package, then the seed's local
	 * upgrade; the module never downloads anything itself. */
	upl = g_strdup_printf("AT+QFUPL=\"fota.pack\",%" G_GSIZE_FORMAT ",", package_size);
	g_assert_cmpuint(hm_count_tty(h, mark, upl), ==, 1);
	g_assert_cmpuint(hm_count_tty(h, mark, "AT+QFUPL"), ==, 1);
	g_assert_cmpuint(hm_count_tty(h, mark, "AT+QFOTADL"), ==, 1);
	g_assert_cmpint(harness_tty_find(h, mark, "AT+QFOTADL=1"), >,
	                harness_tty_find(h, mark, "[data "));
	hm_assert_tty_only(h, mark, full_job_lines);
	g_assert_cmpint(hm_ufs_size(h, "fota.pack"), ==, (gint64)package_size);
}

/* ---- a step is on disk before it is published ------------------------------------------------ */

/* The order a job's phases come in; "idle" stands for a record with no job (the job is over). */
static const char *const recorded_order[] = { "fetching",  "uploading", "downloading", "updating",
	                                      "rebooting", "verifying", "idle",        NULL };

static int
phase_rank(const char *phase)
{
	for (int i = 0; recorded_order[i]; i++)
		if (g_str_equal(recorded_order[i], phase))
			return i;
	g_error("unknown phase %s", phase);
	return -1;
}

/* The phase the modem's journal records now, read as a restarted daemon would. */
static char *
recorded_phase(const char *state_dir)
{
	g_autoptr(GDir) dir = g_dir_open(state_dir, 0, NULL);
	const char *name;

	g_assert_nonnull(dir);
	while ((name = g_dir_read_name(dir)) != NULL) {
		g_autofree char *path = NULL;
		g_autofree char *text = NULL;
		g_autoptr(GVariant) record = NULL;
		g_autoptr(GVariant) job = NULL;
		g_autoptr(GError) error = NULL;
		const char *phase = NULL;

		if (!g_str_has_suffix(name, ".journal"))
			continue;
		path = g_build_filename(state_dir, name, NULL);
		g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
		record = g_variant_parse(G_VARIANT_TYPE_VARDICT, text, NULL, NULL, &error);
		g_assert_no_error(error);
		job = g_variant_lookup_value(record, "job", G_VARIANT_TYPE_VARDICT);
		if (!job)
			return g_strdup("idle");
		g_assert_true(g_variant_lookup(job, "phase", "&s", &phase));
		return g_strdup(phase);
	}
	g_error("no journal in %s", state_dir);
	return NULL;
}

typedef struct {
	char *state_dir;
	guint checked;
	GString *overtaken; /* the publications that came before their record */
} RecordWatch;

/* Runs when the test receives the signal, that is after the daemon sent it: the record of the
 * phase it announces (or of a later one) must be on disk by then. */
static void
on_progress_check_record(GDBusConnection *conn, const char *sender, const char *path,
                         const char *iface, const char *member, GVariant *params, gpointer data)
{
	RecordWatch *w = data;
	g_autofree char *recorded = recorded_phase(w->state_dir);
	const char *phase = NULL;
	guint32 percent = 0;

	g_variant_get(params, "(&su)", &phase, &percent);
	if (phase_rank(recorded) < phase_rank(phase))
		g_string_append_printf(w->overtaken, " Progress(%s, %u) while the journal held %s;",
		                       phase, percent, recorded);
	w->checked++;
}

/* The journal is written off the main loop; still, no Progress of a phase, and no end of the
 * job, reaches a client before the journal records it (what lets a restarted daemon resume
 * from any step a client has seen). */
static void
test_record_before_progress(void)
{
	g_autoptr(Harness) h = harness_new(NULL);
	g_autofree char *pkg = hm_www_path(h, "update.pack");
	g_autofree char *url = harness_url(h, "update.pack");
	RecordWatch w = { .overtaken = g_string_new(NULL) };
	gsize len = 0;
	guint sub;

	harness_make_package(h, "update.pack", "BC65", HARNESS_REV_FROM, HARNESS_REV_TO, NULL);
	{
		g_autofree char *contents = NULL;

		g_assert_true(g_file_get_contents(pkg, &contents, &len, NULL));
	}
	w.state_dir = g_build_filename(harness_tmpdir(h), "state", NULL);
	sub = g_dbus_connection_signal_subscribe(
	        harness_bus(h), NULL, HARNESS_IFACE_FOTA, "Progress", HARNESS_MODEM_PATH, NULL,
	        G_DBUS_SIGNAL_FLAGS_NONE, on_progress_check_record, &w, NULL);
	via_host_ok(h, url, hm_options(NULL, NULL), HARNESS_REV_FROM, HARNESS_REV_TO, len);
	g_dbus_connection_signal_unsubscribe(harness_bus(h), sub);
	g_test_message("%u Progress signals checked against the journal", w.checked);
	g_assert_cmpuint(w.checked, >=, 6); /* five phases and the idle of the end */
	g_assert_cmpstr(w.overtaken->str, ==, "");
	g_string_free(w.overtaken, TRUE);
	g_free(w.state_dir);
}

static void
test_http(void)
{
	g_autoptr(Harness) h = harness_new(NULL);
	g_autofree char *pkg = hm_www_path(h, "update.pack");
	g_autofree char *pkg2 = hm_www_path(h, "next.pack");
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
	sha = hm_sha256_of(pkg);
	/* Both options, both matching. */
	via_host_ok(h, url, hm_options(sha, HARNESS_REV_FROM), HARNESS_REV_FROM, HARNESS_REV_TO,
	            len);

	/* Through two redirects, with the digest in upper case, replacing the old fota.pack. */
	g_clear_pointer(&sha, g_free);
	sha = hm_sha256_of(pkg2);
	sha_upper = g_ascii_strup(sha, -1);
	via_host_ok(h, url2, hm_options(sha_upper, NULL), HARNESS_REV_TO, "BC65JAR01A03", len2);
}

static void
test_https(void)
{
	g_autoptr(HmDir) dir = hm_dir_new();
	g_autofree char *ca = hm_dir_file(dir, "ca.pem");
	g_autofree char *ca_key = g_strdup_printf("ca-file=%s", ca);
	const char *keys[] = { ca_key, NULL };
	HarnessOptions opts = { .daemon_keys = keys };
	g_autoptr(Harness) h = NULL;
	g_autoptr(HmAux) tls = NULL;
	g_autofree char *www = NULL;
	g_autofree char *port_file = hm_dir_file(dir, "tls.port");
	g_autofree char *out = hm_dir_file(dir, "tls-httpd.log");
	g_autofree char *cert = hm_dir_file(dir, "server.pem");
	g_autofree char *key = hm_dir_file(dir, "server.key");
	g_autofree char *port = NULL;
	g_autofree char *url = NULL;
	g_autofree char *wrong_name = NULL;
	g_autofree char *pkg = NULL;
	g_autoptr(GVariant) failed = NULL;
	gsize len = 0;

	hm_make_test_ca(dir->path, "dfotad test CA");
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
		tls = hm_aux_start(argv, out, port_file, "\n");
	}
	g_assert_true(g_file_get_contents(port_file, &port, NULL, NULL));
	g_strstrip(port);
	harness_make_package(h, "update.pack", "BC65", HARNESS_REV_FROM, HARNESS_REV_TO, NULL);
	pkg = hm_www_path(h, "update.pack");
	{
		g_autofree char *contents = NULL;

		g_assert_true(g_file_get_contents(pkg, &contents, &len, NULL));
	}

	/* The certificate names 127.0.0.1 only: the same server as "localhost" is refused, so
	 * verification is on (and the success below is owed to ca-file). */
	wrong_name = g_strdup_printf("https://localhost:%s/update.pack", port);
	failed = hm_via_host_fails(h, wrong_name, hm_options(NULL, NULL), "FetchFailed");
	g_test_message("wrong name: %s", harness_dict_str(failed, "message"));

	url = g_strdup_printf("https://127.0.0.1:%s/update.pack", port);
	via_host_ok(h, url, hm_options(NULL, NULL), HARNESS_REV_FROM, HARNESS_REV_TO, len);
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
	reply = hm_call_fd(h, HARNESS_IFACE_FOTA, "UpgradeFromFile",
	                   g_variant_new("(h@a{sv})", 0, no_options()), pipefd[0], &error);
	g_assert_no_error(error);
	close(pipefd[0]);
	g_assert_true(harness_wait_property(h, HARNESS_IFACE_FOTA, "Phase",
	                                    g_variant_new_string("fetching"), 10000));
	cancel_ok(h);
	result = finished(h, since, "upgrade-from-file", "Cancelled", 20000);
	close(pipefd[1]);
	phases = hm_job_phases(h, since);
	g_assert_cmpstr(phases, ==, "fetching");
	g_assert_cmpint(hm_ufs_size(h, "fota.pack"), ==, -1);
	hm_assert_tty_only(h, mark, allowed);
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
	phases = hm_job_phases(h, since);
	g_assert_cmpstr(phases, ==, "fetching");
	g_assert_cmpint(hm_ufs_size(h, "fota.pack"), ==, -1);
	hm_assert_tty_only(h, mark, allowed);
}

/* The contract: Job is set and Phase leaves idle when the job is accepted, and the reply comes
 * before any signal of its job. A client that reads both right after the reply sees the job
 * (the step's record is on disk first, then the reply, then the properties and Progress, in
 * one go). */
static void
test_accepted_state_at_reply(void)
{
	g_autoptr(Harness) h = harness_new(NULL);
	g_autofree char *pkg = make_package(h, "update.pack", NULL);
	g_autofree char *url = harness_url(h, "slow/update.pack?bps=" SLOW_BPS);

	for (guint i = 0; i < 3; i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(GVariant) reply = NULL;
		g_autoptr(GVariant) phase = NULL;
		g_autoptr(GVariant) job = NULL;
		g_autoptr(GVariant) result = NULL;
		guint64 since = harness_mark(h);

		reply = harness_call(h, NULL, HARNESS_IFACE_FOTA, "UpgradeViaHost",
		                     g_variant_new("(s@a{sv})", url, no_options()), NULL, &error);
		g_assert_no_error(error);
		phase = harness_get_property(h, HARNESS_IFACE_FOTA, "Phase");
		job = harness_get_property(h, HARNESS_IFACE_FOTA, "Job");
		g_assert_cmpstr(g_variant_get_string(phase, NULL), ==, "fetching");
		g_assert_cmpuint(g_variant_n_children(job), >, 0);
		cancel_ok(h);
		result = finished(h, since, "upgrade-via-host", "Cancelled", 20000);
	}
}

typedef struct {
	gboolean done;
	GError *error;
} PendingCall;

static void
on_call_done(GObject *source, GAsyncResult *res, gpointer data)
{
	PendingCall *p = data;
	g_autoptr(GVariant) reply =
	        g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), res, &p->error);

	p->done = TRUE;
}

/* Cancel sent right behind the call, without waiting for its reply: it reaches the daemon
 * while the job's first step is being recorded, before the step's transfer starts; the job
 * is cancelled all the same (the transfer starts cancelled). */
static void
test_cancel_pipelined(void)
{
	g_autoptr(Harness) h = harness_new(NULL);
	g_autofree char *pkg = make_package(h, "update.pack", NULL);
	g_autofree char *url = harness_url(h, "slow/update.pack?bps=" SLOW_BPS);
	const char *const allowed[] = { "AT+QFLST", NULL };

	for (guint i = 0; i < 3; i++) {
		g_autoptr(GVariant) result = NULL;
		g_autofree char *phases = NULL;
		guint64 since = harness_mark(h);
		guint mark = harness_tty_mark(h);
		gint64 deadline = g_get_monotonic_time() + 20 * G_USEC_PER_SEC;
		PendingCall call = { 0 };

		/* One connection: the bus delivers the two in the order sent. */
		g_dbus_connection_call(harness_bus(h), HARNESS_BUS_NAME, HARNESS_MODEM_PATH,
		                       HARNESS_IFACE_FOTA, "UpgradeViaHost",
		                       g_variant_new("(s@a{sv})", url, no_options()), NULL,
		                       G_DBUS_CALL_FLAGS_NONE, 20000, NULL, on_call_done, &call);
		cancel_ok(h);
		while (!call.done) {
			g_assert_cmpint(g_get_monotonic_time(), <, deadline);
			g_main_context_iteration(NULL, TRUE);
		}
		g_assert_no_error(call.error);
		result = finished(h, since, "upgrade-via-host", "Cancelled", 20000);
		phases = hm_job_phases(h, since);
		g_assert_cmpstr(phases, ==, "fetching");
		g_assert_cmpint(hm_ufs_size(h, "fota.pack"), ==, -1);
		hm_assert_tty_only(h, mark, allowed);
	}
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
	phases = hm_job_phases(h, since);
	g_assert_cmpstr(phases, ==, "fetching,uploading");

	/* The partial file is gone, and the module never started an update. */
	g_assert_cmpint(hm_ufs_size(h, "fota.pack"), ==, -1);
	upl = harness_tty_find(h, mark, "AT+QFUPL=\"fota.pack\",");
	del = harness_tty_find(h, upl, "AT+QFDEL=\"fota.pack\"");
	g_assert_cmpint(upl, >=, 0);
	g_assert_cmpint(del, >, upl);
	g_assert_cmpuint(hm_count_tty(h, mark, "AT+QFUPL"), ==, 1);
	hm_assert_tty_only(h, mark, allowed);
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
	hm_assert_no_finished(h, since);
	hm_assert_tty_only(h, mark, NULL);

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
	hm_assert_revision(h, HARNESS_REV_TO);
	cancel_refused(h);
	/* The module's own download, once; no file command, no second job. */
	command = g_strdup_printf("AT+QFOTADL=\"%s\"", url);
	g_assert_cmpuint(hm_count_tty(h, mark, "AT+QFOTADL"), ==, 1);
	g_assert_cmpint(harness_tty_find(h, mark, command), >=, 0);
	hm_assert_tty_only(h, mark, allowed);
}

/* A caller that starts a job and leaves the bus does not take the job with it. */
static void
test_disconnect_does_not_cancel(void)
{
	g_autoptr(Harness) h = harness_new(NULL);
	g_autofree char *pkg = make_package(h, "update.pack", NULL);
	g_autofree char *url = harness_url(h, "slow/update.pack?bps=" SLOW_BPS);
	g_autofree char *shown = harness_url(h, "slow/update.pack?bps=***");
	g_autoptr(GDBusConnection) other = harness_new_client(h);
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) reply = NULL;
	g_autoptr(GVariant) result = NULL;
	g_autofree char *phases = NULL;
	guint64 since = harness_mark(h);
	guint mark = harness_tty_mark(h);

	reply = harness_call(h, other, HARNESS_IFACE_FOTA, "UpgradeViaHost",
	                     g_variant_new("(s@a{sv})", url, no_options()), NULL, &error);
	g_assert_no_error(error);
	g_assert_true(harness_wait_property(h, HARNESS_IFACE_FOTA, "Phase",
	                                    g_variant_new_string("fetching"), 10000));
	g_dbus_connection_close_sync(other, NULL, &error);
	g_assert_no_error(error);
	g_clear_object(&other);

	result = finished(h, since, "upgrade-via-host", NULL, 60000);
	/* Query values are shown redacted (they may be signatures). */
	g_assert_cmpstr(harness_dict_str(result, "source"), ==, shown);
	phases = hm_job_phases(h, since);
	g_assert_cmpstr(phases, ==, "fetching,uploading,updating,rebooting,verifying");
	g_assert_cmpuint(hm_count_tty(h, mark, "AT+QFUPL"), ==, 1);
	g_assert_cmpuint(hm_count_tty(h, mark, "AT+QFOTADL"), ==, 1);
	hm_assert_tty_only(h, mark, full_job_lines);
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
	g_test_add_func("/from-file/sha256", test_from_file_sha256);
	g_test_add_func("/via-host/http", test_http);
	g_test_add_func("/via-host/record-before-progress", test_record_before_progress);
	g_test_add_func("/via-host/https", test_https);
	g_test_add_func("/cancel/from-file-fetching", test_cancel_from_file_fetching);
	g_test_add_func("/cancel/fetching", test_cancel_fetching);
	g_test_add_func("/cancel/pipelined", test_cancel_pipelined);
	g_test_add_func("/via-host/accepted-state-at-reply", test_accepted_state_at_reply);
	g_test_add_func("/cancel/uploading", test_cancel_uploading);
	g_test_add_func("/cancel/refused", test_cancel_refused);
	g_test_add_func("/cancel/disconnect-does-not-cancel", test_disconnect_does_not_cancel);
	return g_test_run();
}
