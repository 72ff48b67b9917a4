// SPDX-License-Identifier: LGPL-2.1-or-later
/* test-metrics.c: the metrics-file (commands.md "Metrics") from a running daemon, parsed by
 * python3-prometheus-client's parser after a successful and a failed job; and a metrics
 * file that cannot be written is a warning, once, while the daemon goes on serving. */
#include "harness-private.h"

#include <glib/gstdio.h>
#include <string.h>

typedef struct {
	const char *path;
	const char *needle; /* NULL: the file exists */
} FileWait;

static gboolean
cond_file_has(Harness *h, gpointer data)
{
	const FileWait *w = data;
	g_autofree char *text = read_file_or_empty(w->path);

	if (!g_file_test(w->path, G_FILE_TEST_EXISTS))
		return FALSE;
	return w->needle == NULL || strstr(text, w->needle) != NULL;
}

static void
wait_file_has(Harness *h, const char *path, const char *needle)
{
	FileWait w = { path, needle };
	g_autofree char *what = g_strdup_printf("%s to contain %s", path, needle ? needle : "");

	if (!harness_wait(h, cond_file_has, &w, 20000, what)) {
		g_autofree char *text = read_file_or_empty(path);
		g_error("%s never contained \"%s\"; it has:\n%s", path, needle, text);
	}
}

static guint
count_in_file(const char *path, const char *needle)
{
	g_autofree char *text = read_file_or_empty(path);
	guint n = 0;

	for (const char *p = text; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	return n;
}

typedef struct {
	const char *log;
	guint before;
} FailWait;

/* The daemon logged (--verbose) a failed write after the one @before counted. */
static gboolean
cond_more_failures(Harness *h, gpointer data)
{
	const FailWait *w = data;

	return count_in_file(w->log, "metrics: write failed again") > w->before;
}

/* Runs tests/integration/check-metrics.py on @file with @checks; fails the test unless every
 * check holds. */
static void
check_metrics(const char *file, const char *const *checks)
{
	g_autoptr(GPtrArray) argv = g_ptr_array_new();
	const char *script = g_getenv("DFOTA_CHECK_METRICS");
	g_autofree char *out = NULL, *err = NULL;
	g_autoptr(GError) error = NULL;
	int status = 0;

	g_ptr_array_add(argv, (gpointer)g_getenv("DFOTA_CHECK_PYTHON"));
	g_assert_nonnull(script);
	g_ptr_array_add(argv, (gpointer)script);
	g_ptr_array_add(argv, (gpointer)file);
	for (guint i = 0; checks[i]; i++)
		g_ptr_array_add(argv, (gpointer)checks[i]);
	g_ptr_array_add(argv, NULL);
	g_spawn_sync(NULL, (char **)argv->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err,
	             &status, &error);
	g_assert_no_error(error);
	if (!g_spawn_check_wait_status(status, NULL))
		g_error("check-metrics.py failed:\n%s%s", out, err);
}

static void
run_job(Harness *h, const char *url, gboolean expect_success)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) reply = NULL, result = NULL;
	guint64 since = harness_mark(h);
	gboolean success = FALSE;

	reply = harness_call(h, NULL, HARNESS_IFACE_FOTA, "Upgrade", g_variant_new("(s)", url),
	                     NULL, &error);
	g_assert_no_error(error);
	result = harness_wait_finished(h, since, 90000);
	g_assert_true(g_variant_lookup(result, "success", "b", &success));
	g_assert_cmpint(success, ==, expect_success);
	if (expect_success)
		g_assert_true(harness_wait_property(h, HARNESS_IFACE_MODEM, "State",
		                                    g_variant_new_string("ready"), 30000));
}

static void
test_success_and_failure(void)
{
	g_autofree char *dir = g_dir_make_tmp("dfotad-metrics-XXXXXX", NULL);
	g_autofree char *file = g_build_filename(dir, "dfotad.prom", NULL);
	g_autofree char *key = g_strdup_printf("metrics-file=%s", file);
	const char *keys[] = { key, NULL };
	HarnessOptions opts = { .daemon_keys = keys };
	g_autoptr(Harness) h = harness_new(&opts);
	g_autofree char *url = harness_url(h, "update.pack");
	g_autofree char *missing = harness_url(h, "no-such.pack");
	g_autofree char *port_check = NULL, *info_check = NULL;
	g_autoptr(GDir) d = NULL;
	const char *name;

	/* Ready before any job: the file says so within a second of the change. */
	wait_file_has(h, file, "dfotad_modem_ready{modem=\"0\"} 1");
	port_check = g_strdup_printf("dfotad_modem_info{modem=0,port=%s}==1", harness_link_path(h));
	check_metrics(file,
	              (const char *const[]){ "dfotad_modem_ready{modem=0}==1",
	                                     "dfotad_job_running{modem=0}==0",
	                                     "dfotad_at_commands_total{modem=0}>0",
	                                     "dfotad_modem_info{modem=0,model=Quectel_BC65}==1",
	                                     port_check, "dfotad_jobs_total{}==absent", NULL });

	harness_make_package(h, "update.pack", "BC65", HARNESS_REV_FROM, HARNESS_REV_TO, NULL);
	run_job(h, url, TRUE);
	wait_file_has(h, file, "result=\"success\"");
	run_job(h, missing, FALSE);
	wait_file_has(h, file, "result=\"PackageNotFound\"");
	/* The revision label follows the module's new firmware. */
	wait_file_has(h, file, "revision=\"" HARNESS_REV_TO "\"");

	info_check = g_strdup_printf(
	        "dfotad_modem_info{modem=0,model=Quectel_BC65,revision=%s,port=%s}==1",
	        HARNESS_REV_TO, harness_link_path(h));
	check_metrics(file,
	              (const char *const[]){
	                      "dfotad_jobs_total{modem=0,kind=upgrade,result=success}==1",
	                      "dfotad_jobs_total{modem=0,kind=upgrade,result=PackageNotFound}==1",
	                      /* one check, split over two lines */
	                      // NOLINTNEXTLINE(bugprone-suspicious-missing-comma)
	                      "dfotad_jobs_total{modem=0,result=org.dfotad1.Error.PackageNotFound}"
	                      "==absent",
	                      "dfotad_at_commands_total{modem=0}>10", info_check,
	                      "dfotad_modem_ready{modem=0}==1", "dfotad_job_running{modem=0}==0",
	                      "dfotad_job_percent{modem=0}==0",
	                      "dfotad_last_job_finished_timestamp_seconds{modem=0}>0", NULL });

	/* Only the file itself is left: every temporary file was renamed or removed. */
	d = g_dir_open(dir, 0, NULL);
	g_assert_nonnull(d);
	while ((name = g_dir_read_name(d)) != NULL)
		g_assert_cmpstr(name, ==, "dfotad.prom");
	g_assert_cmpint(g_unlink(file), ==, 0);
	g_assert_cmpint(g_rmdir(dir), ==, 0);
}

static void
test_unwritable_is_a_warning(void)
{
	g_autofree char *dir = g_dir_make_tmp("dfotad-metrics-XXXXXX", NULL);
	g_autofree char *sub = g_build_filename(dir, "not-yet", NULL);
	g_autofree char *file = g_build_filename(sub, "dfotad.prom", NULL);
	g_autofree char *key = g_strdup_printf("metrics-file=%s", file);
	const char *keys[] = { key, NULL };
	HarnessOptions opts = { .daemon_keys = keys };
	g_autoptr(Harness) h = harness_new(&opts);
	g_autofree char *log = g_build_filename(harness_tmpdir(h), "dfotad.log", NULL);
	g_autoptr(GError) error = NULL;
	g_autofree char *response = NULL;
	guint failures;

	/* The daemon came up ready (harness_new waited for it) and warned. */
	wait_file_has(h, log, "not written (the daemon goes on without it)");
	failures = count_in_file(log, "metrics: write failed again");
	/* More changes, more failed writes: still one warning. */
	response = harness_command(h, NULL, "AT", 5000, &error);
	g_assert_no_error(error);
	if (!harness_wait(h, cond_more_failures, &(FailWait){ log, failures }, 20000,
	                  "another failed metrics write"))
		g_error("no further write was tried after an AT command");
	g_assert_cmpuint(count_in_file(log, "not written (the daemon goes on without it)"), ==, 1);

	/* Once the directory exists the file appears, and the log says so. */
	g_assert_cmpint(g_mkdir(sub, 0755), ==, 0);
	g_free(harness_command(h, NULL, "AT", 5000, &error));
	g_assert_no_error(error);
	wait_file_has(h, file, "dfotad_at_commands_total{modem=\"0\"}");
	wait_file_has(h, log, "written again");
	g_assert_cmpint(g_unlink(file), ==, 0);
	g_assert_cmpint(g_rmdir(sub), ==, 0);
	g_assert_cmpint(g_rmdir(dir), ==, 0);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/metrics/success-and-failure", test_success_and_failure);
	g_test_add_func("/metrics/unwritable-is-a-warning", test_unwritable_is_a_warning);
	return g_test_run();
}
