// SPDX-License-Identifier: LGPL-2.1-or-later
/* test-mcu.c: org.dfotad1.Fota.FetchMcuFile (seed 3.3) against the real daemon and simulator:
 * with a file name, with the name taken from the URL, with an illegal URL name (the module's
 * mcu_update.bin), the file name rules, and HTTPEND errors. */
#include "harness-modes.h"

#include <string.h>

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

/* A file of @size reproducible bytes in the HTTP root under @name. */
static GBytes *
serve_file(Harness *h, const char *name, gsize size)
{
	g_autofree char *path = hm_www_path(h, name);

	return hm_random_file(path, size, (guint32)size);
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
	g_autofree char *command = NULL;
	guint64 since = harness_mark(h);
	guint mark = harness_tty_mark(h);
	const char *const allowed[] = { "AT+QFOTADL=2,", "AT+QFLST", "AT+QFDWL=", NULL };

	reply = harness_call(h, NULL, HARNESS_IFACE_FOTA, "FetchMcuFile",
	                     g_variant_new("(ss)", url, filename), NULL, &error);
	g_assert_no_error(error);
	result = hm_wait_finished(h, since, 30000);
	hm_assert_succeeded(result);
	g_assert_cmpstr(harness_dict_str(result, "kind"), ==, "fetch-mcu-file");
	g_assert_cmpstr(harness_dict_str(result, "source"), ==, url);
	g_assert_cmpstr(harness_dict_str(result, "file"), ==, expect_name);
	g_assert_cmpuint(harness_dict_uint64(result, "size"), ==, g_bytes_get_size(content));
	hm_assert_idle_with_result(h, result);

	/* Module-side download only: no reboot, no verification. */
	phases = hm_job_phases(h, since);
	g_assert_cmpstr(phases, ==, "downloading");

	/* What the module reported matches its file list and the served bytes. */
	g_assert_cmpint(hm_ufs_size(h, expect_name), ==, (gint64)g_bytes_get_size(content));
	back = hm_download(h, expect_name, &error);
	g_assert_no_error(error);
	g_assert_true(g_bytes_equal(back, content));

	/* Exactly the seed's command, once; the filename parameter only when given. */
	if (*filename)
		command = g_strdup_printf("AT+QFOTADL=2,\"%s\",\"%s\"", url, filename);
	else
		command = g_strdup_printf("AT+QFOTADL=2,\"%s\"", url);
	g_assert_cmpuint(count_tty_exact(h, mark, command), ==, 1);
	g_assert_cmpuint(hm_count_tty(h, mark, "AT+QFOTADL"), ==, 1);
	hm_assert_tty_only(h, mark, allowed);
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
	g_assert_cmpint(hm_ufs_size(h, "mcu.bin"), ==, -1);
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
	g_assert_cmpint(hm_ufs_size(h, "mcu+v2.bin"), ==, -1);

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
	hm_assert_no_finished(h, since);
	hm_assert_tty_only(h, mark, NULL);
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
	g_autofree char *phases = NULL;
	guint64 since = harness_mark(h);
	guint mark = harness_tty_mark(h);
	const char *const allowed[] = { "AT+QFOTADL=2,", NULL };

	reply = harness_call(h, NULL, HARNESS_IFACE_FOTA, "FetchMcuFile",
	                     g_variant_new("(ss)", url, "out.bin"), NULL, &error);
	g_assert_no_error(error);
	result = hm_wait_finished(h, since, 30000);
	hm_assert_failed(result, error_name);
	g_assert_cmpint(harness_dict_int(result, "code"), ==, code);
	g_assert_cmpstr(harness_dict_str(result, "kind"), ==, "fetch-mcu-file");
	hm_assert_idle_with_result(h, result);
	phases = hm_job_phases(h, since);
	g_assert_cmpstr(phases, ==, "downloading");
	hm_assert_tty_only(h, mark, allowed);
	g_assert_cmpint(hm_ufs_size(h, "out.bin"), ==, -1);
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
