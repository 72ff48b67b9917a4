// SPDX-License-Identifier: LGPL-2.1-or-later
/* test-metrics.c: DfotaMetrics as a unit: label values escaped as the text exposition format
 * requires, the rendered file's shape for a modem that is not connected, and a write that
 * fails is one warning per distinct error and changes nothing else. */
#include <glib/gstdio.h>
#include <string.h>

#include "dfota-metrics.h"

/* What the unit logged (structured logging bypasses g_test_expect_message in GLib 2.74). */
static guint n_warnings, n_messages;

static GLogWriterOutput
count_writer(GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer data)
{
	for (gsize i = 0; i < n_fields; i++) {
		if (g_strcmp0(fields[i].key, "MESSAGE") != 0 ||
		    !strstr((const char *)fields[i].value, "metrics-file"))
			continue;
		if (level & G_LOG_LEVEL_WARNING)
			n_warnings++;
		else if (level & G_LOG_LEVEL_MESSAGE)
			n_messages++;
		return G_LOG_WRITER_HANDLED;
	}
	return g_log_writer_default(level, fields, n_fields, data);
}

static void
test_escape(void)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "", "" },
		{ "plain", "plain" },
		{ "a\\b", "a\\\\b" },
		{ "say \"hi\"", "say \\\"hi\\\"" },
		{ "two\nlines", "two\\nlines" },
		{ "\\\"\n", "\\\\\\\"\\n" },
		{ "tab\tstays", "tab\tstays" },
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GString) s = g_string_new(NULL);

		dfota_metrics_append_label_value(s, cases[i].in);
		g_assert_cmpstr(s->str, ==, cases[i].out);
	}
}

typedef struct {
	DfotaFetcher *fetcher;
	DfotaModem *modem;
	DfotaFota *fota;
	char *dir;
} Fixture;

static void
fixture_set_up(Fixture *f, gconstpointer data)
{
	DfotaModemConfig mc = { 0 };
	DfotaFotaConfig fc = { 0 };

	mc.name = (char *)"a";
	mc.port = (char *)"/dev/odd \"name\"\\with\nnewline";
	mc.baud = 115200;
	f->dir = g_dir_make_tmp("test-metrics-XXXXXX", NULL);
	g_assert_nonnull(f->dir);
	fc.state_dir = f->dir;
	fc.max_package_size = 1024;
	f->fetcher = dfota_fetcher_new();
	f->modem = dfota_modem_new(&mc);
	f->fota = dfota_fota_new(f->modem, f->fetcher, &fc);
}

static void
fixture_tear_down(Fixture *f, gconstpointer data)
{
	g_clear_object(&f->fota);
	g_clear_object(&f->modem);
	g_clear_object(&f->fetcher);
	g_rmdir(f->dir);
	g_free(f->dir);
}

static void
test_render(Fixture *f, gconstpointer data)
{
	g_autoptr(DfotaMetrics) m = dfota_metrics_new("/nonexistent/dfotad.prom");
	g_autofree char *text = NULL;

	dfota_metrics_add_modem(m, 3, f->modem, f->fota);
	text = dfota_metrics_render(m);
	g_assert_nonnull(strstr(text, "# TYPE dfotad_modem_info gauge\n"));
	g_assert_nonnull(strstr(text, "# TYPE dfotad_jobs_total counter\n"));
	g_assert_nonnull(strstr(text, "# TYPE dfotad_at_commands_total counter\n"));
	g_assert_nonnull(strstr(text, "dfotad_modem_info{modem=\"3\",model=\"\",revision=\"\","
	                              "port=\"/dev/odd \\\"name\\\"\\\\with\\nnewline\"} 1\n"));
	g_assert_nonnull(strstr(text, "dfotad_modem_ready{modem=\"3\"} 0\n"));
	g_assert_nonnull(strstr(text, "dfotad_job_running{modem=\"3\"} 0\n"));
	g_assert_nonnull(strstr(text, "dfotad_at_commands_total{modem=\"3\"} 0\n"));
	/* No job finished yet: the counter family is there, without samples. */
	g_assert_null(strstr(text, "dfotad_jobs_total{"));
	/* Every line a comment or a sample, the file ending with a newline. */
	g_assert_true(g_str_has_suffix(text, "\n"));
}

static void
test_write_failure_warns_once(Fixture *f, gconstpointer data)
{
	g_autofree char *missing = g_build_filename(f->dir, "missing", "dfotad.prom", NULL);
	g_autofree char *sub = g_path_get_dirname(missing);
	g_autoptr(DfotaMetrics) m = dfota_metrics_new(missing);
	g_autoptr(GError) error = NULL;
	g_autofree char *text = NULL;

	dfota_metrics_add_modem(m, 0, f->modem, f->fota);
	n_warnings = n_messages = 0;
	g_assert_false(dfota_metrics_write(m, &error));
	g_assert_cmpuint(n_warnings, ==, 1);
	g_assert_error(error, G_FILE_ERROR, G_FILE_ERROR_NOENT);
	g_clear_error(&error);
	/* The same failure again, and again: no second warning. */
	for (guint i = 0; i < 3; i++) {
		g_assert_false(dfota_metrics_write(m, &error));
		g_clear_error(&error);
	}
	g_assert_cmpuint(n_warnings, ==, 1);
	g_assert_cmpuint(n_messages, ==, 0);

	g_assert_cmpint(g_mkdir(sub, 0755), ==, 0);
	g_assert_true(dfota_metrics_write(m, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(n_messages, ==, 1);
	g_assert_cmpuint(n_warnings, ==, 1);
	g_assert_true(g_file_get_contents(missing, &text, NULL, NULL));
	g_assert_nonnull(strstr(text, "dfotad_modem_ready{modem=\"0\"} 0\n"));
	g_assert_cmpint(g_unlink(missing), ==, 0);
	g_assert_cmpint(g_rmdir(sub), ==, 0);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_log_set_writer_func(count_writer, NULL, NULL);
	g_test_add_func("/metrics/escape", test_escape);
	g_test_add("/metrics/render", Fixture, NULL, fixture_set_up, test_render,
	           fixture_tear_down);
	g_test_add("/metrics/write-failure-warns-once", Fixture, NULL, fixture_set_up,
	           test_write_failure_warns_once, fixture_tear_down);
	return g_test_run();
}
