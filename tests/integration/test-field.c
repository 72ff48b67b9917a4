// SPDX-License-Identifier: LGPL-2.1-or-later
/* test-field.c: what field modules do that the application note does not show, each taught
 * to the simulator (--field, --power-cut start:0 / end:0, --inject-error with codes outside
 * 6500–6509, the control FIFO's "cfun 0"), and each ending in exactly one truthful Finished.
 */
#include "fault-helpers.h"

/* Runs one Upgrade on a simulator started with @sim_args; returns its Finished after the modem
 * is ready again, having checked that exactly one Finished came. */
static GVariant *run_upgrade_traced(const char *const *sim_args, const char *const *keys,
                                    char **phases_out, char **trace_out);

static GVariant *
run_upgrade(const char *const *sim_args, const char *const *keys, char **phases_out)
{
	return run_upgrade_traced(sim_args, keys, phases_out, NULL);
}

static GVariant *
run_upgrade_traced(const char *const *sim_args, const char *const *keys, char **phases_out,
                   char **trace_out)
{
	HarnessOptions opts = { .sim_args = sim_args, .daemon_keys = keys };
	g_autoptr(Harness) h = harness_new(&opts);
	g_autofree char *url = NULL;
	g_autofree char *trace = NULL;
	GVariant *result;
	guint64 since;

	harness_make_package(h, "update.pack", "BC65", HARNESS_REV_FROM, HARNESS_REV_TO, NULL);
	url = harness_url(h, "update.pack");
	since = harness_mark(h);
	fh_upgrade(h, url);
	result = harness_wait_finished(h, since, 90000);
	trace = fh_progress_trace(h, since);
	g_test_message("progress: %s", trace);
	g_test_message("Finished: %s", fh_printed(result));
	g_assert_true(fh_wait_state(h, "ready", 30000));
	g_assert_cmpuint(harness_count_signals(h, since, HARNESS_IFACE_FOTA, "Finished"), ==, 1);
	if (phases_out)
		*phases_out = fh_phases(h, since);
	if (trace_out)
		*trace_out = g_steal_pointer(&trace);
	return result;
}

static void
assert_success(GVariant *result)
{
	g_assert_true(harness_dict_bool(result, "success"));
	g_assert_cmpint(harness_dict_int(result, "code"), ==, 0);
	g_assert_cmpstr(harness_dict_str(result, "from-revision"), ==, HARNESS_REV_FROM);
	g_assert_cmpstr(harness_dict_str(result, "to-revision"), ==, HARNESS_REV_TO);
}

/* No DOWNLOADING at all, then HTTPEND: the phase stays downloading, no early Timeout. */
static void
test_no_downloading(void)
{
	const char *const sim_args[] = { "--field", "no-downloading", NULL };
	g_autofree char *phases = NULL;
	g_autofree char *trace = NULL;
	g_autoptr(GVariant) result = run_upgrade_traced(sim_args, NULL, &phases, &trace);

	assert_success(result);
	g_assert_cmpstr(phases, ==, "downloading,updating,rebooting,verifying");
	/* No invented progress: 0 until HTTPEND says the package is there. */
	g_assert_true(g_str_has_prefix(trace, "downloading:0 downloading:100 updating:0"));
}

/* HTTPEND with a code outside 6500–6509: DownloadFailed, the code kept. */
static void
test_httpend_702(void)
{
	const char *const sim_args[] = { "--inject-error", "702:httpend", NULL };
	g_autoptr(GVariant) result = run_upgrade(sim_args, NULL, NULL);

	g_assert_false(harness_dict_bool(result, "success"));
	g_assert_true(harness_error_name_is(harness_dict_str(result, "error"), "DownloadFailed"));
	g_assert_cmpint(harness_dict_int(result, "code"), ==, 702);
	g_assert_nonnull(strstr(harness_dict_str(result, "message"), "702"));
}

/* END with a code outside 6500–6509: UpgradeFailed, the code kept. */
static void
test_end_601(void)
{
	const char *const sim_args[] = { "--inject-error", "601:end", NULL };
	g_autoptr(GVariant) result = run_upgrade(sim_args, NULL, NULL);

	g_assert_false(harness_dict_bool(result, "success"));
	g_assert_true(harness_error_name_is(harness_dict_str(result, "error"), "UpgradeFailed"));
	g_assert_cmpint(harness_dict_int(result, "code"), ==, 601);
}

/* UPDATING reaches 100 and the module reboots at once, END lost: the new revision decides. */
static void
test_no_end(void)
{
	const char *const sim_args[] = { "--field", "no-end", NULL };
	/* Far beyond the wait below: the job must not sit out reboot-timeout for a resume. */
	const char *const keys[] = { "reboot-timeout=600", NULL };
	g_autofree char *phases = NULL;
	g_autoptr(GVariant) result = run_upgrade(sim_args, keys, &phases);

	assert_success(result);
	g_assert_cmpstr(phases, ==, "downloading,updating,rebooting,verifying");
}

/* START skipped, unnamed FOTA states, POWERED DOWN, RDY then APP RDY: all tolerated. */
static void
test_no_start_unknown_states(void)
{
	const char *const sim_args[] = { "--field", "no-start,unknown-states,app-rdy", NULL };
	g_autofree char *phases = NULL;
	g_autoptr(GVariant) result = run_upgrade(sim_args, NULL, &phases);

	assert_success(result);
	g_assert_cmpstr(phases, ==, "downloading,updating,rebooting,verifying");
}

/* Quectel's fault test: power cut exactly at START; the module resumes in forced mode. */
static void
test_power_cut_at_start(void)
{
	const char *const sim_args[] = { "--power-cut", "start:0", "--field", "app-rdy", NULL };
	g_autofree char *phases = NULL;
	g_autoptr(GVariant) result = run_upgrade(sim_args, NULL, &phases);

	assert_success(result);
	g_assert_cmpstr(phases, ==, "downloading,updating,rebooting,updating,rebooting,verifying");
}

/* Quectel's fault test: power cut right after END,0 (the END line may die with it). */
static void
test_power_cut_after_end(void)
{
	const char *const sim_args[] = { "--power-cut", "end:0", NULL };
	const char *const keys[] = { "reboot-timeout=600", NULL };
	g_autofree char *phases = NULL;
	g_autoptr(GVariant) result = run_upgrade(sim_args, keys, &phases);

	assert_success(result);
	g_assert_cmpstr(phases, ==, "downloading,updating,rebooting,verifying");
}

/* Quectel's fault test: the radio switched off during the download (AT+CFUN=0 on the
 * module's other port); the module reports HTTPEND,702: one DownloadFailed. */
static void
test_cfun0_during_download(void)
{
	const char *const sim_args[] = { "--time-scale", "4", NULL };
	HarnessOptions opts = { .sim_args = sim_args };
	g_autoptr(Harness) h = harness_new(&opts);
	g_autofree char *url = NULL;
	g_autoptr(GVariant) result = NULL;
	guint64 since;

	harness_make_package(h, "update.pack", "BC65", HARNESS_REV_FROM, HARNESS_REV_TO, NULL);
	url = harness_url(h, "update.pack");
	since = harness_mark(h);
	fh_upgrade(h, url);
	g_assert_true(fh_wait_progress(h, since, "downloading", 0, 30000));
	harness_control(h, "cfun 0");
	result = harness_wait_finished(h, since, 60000);
	g_test_message("Finished: %s", fh_printed(result));
	g_assert_false(harness_dict_bool(result, "success"));
	g_assert_true(harness_error_name_is(harness_dict_str(result, "error"), "DownloadFailed"));
	g_assert_cmpint(harness_dict_int(result, "code"), ==, 702);
	g_assert_true(fh_wait_state(h, "ready", 30000));
	g_assert_cmpuint(harness_count_signals(h, since, HARNESS_IFACE_FOTA, "Finished"), ==, 1);
}

int
main(int argc, char **argv)
{
	fh_test_init(&argc, &argv);
	g_test_add_func("/field/no-downloading", test_no_downloading);
	g_test_add_func("/field/httpend-702", test_httpend_702);
	g_test_add_func("/field/end-601", test_end_601);
	g_test_add_func("/field/no-end", test_no_end);
	g_test_add_func("/field/no-start-unknown-states", test_no_start_unknown_states);
	g_test_add_func("/field/power-cut-at-start", test_power_cut_at_start);
	g_test_add_func("/field/power-cut-after-end", test_power_cut_after_end);
	g_test_add_func("/field/cfun0-during-download", test_cfun0_during_download);
	return g_test_run();
}
