// SPDX-License-Identifier: LGPL-2.1-or-later
/* test-soak.c: many jobs with random faults: one Finished per started
 * job with the outcome the fault implies, no State stuck in busy, daemon RSS grown by at
 * most 5 % after the warm-up jobs and the same number of open fds at the end as after the
 * first job.
 *
 * DFOTA_SOAK_JOBS sets the number of jobs (default 20, the CI version; the 'soak' suite runs
 * 200); DFOTA_SOAK_SEED replays a run (the seed is printed); DFOTA_SOAK_RSS_CHECK=0 leaves
 * out the RSS bound (under valgrind, whose own memory is what RSS shows).
 */
#include "fault-helpers.h"

typedef enum {
	FAULT_NONE,
	FAULT_HTTPEND,      /* error 6503 httpend: the download fails */
	FAULT_END,          /* error 6508 end: the update fails */
	FAULT_SYNC,         /* error 6502 sync: AT+QFOTADL refused, no job starts */
	FAULT_CUT_UPDATING, /* power cut while updating: resumed, succeeds */
	FAULT_CUT_DOWNLOAD, /* power cut while downloading: ModemLost */
	N_FAULTS
} Fault;

static const char *const fault_names[] = { "none",      "httpend-6503", "end-6508",
	                                   "sync-6502", "cut-updating", "cut-downloading" };

static guint64
proc_rss_kib(int pid)
{
	g_autofree char *path = g_strdup_printf("/proc/%d/status", pid);
	g_autofree char *text = read_file_or_empty(path);
	const char *line = strstr(text, "VmRSS:");

	g_assert_nonnull(line);
	return g_ascii_strtoull(line + strlen("VmRSS:"), NULL, 10);
}

static guint
proc_fd_count(int pid)
{
	g_autofree char *path = g_strdup_printf("/proc/%d/fd", pid);
	g_autoptr(GDir) dir = g_dir_open(path, 0, NULL);
	guint n = 0;

	g_assert_nonnull(dir);
	while (g_dir_read_name(dir) != NULL)
		n++;
	return n;
}

static char *
revision_name(guint n)
{
	return g_strdup_printf("BC65JAR%02uA%02u", 1 + n / 100, 1 + n % 100);
}

static void
test_soak(void)
{
	const char *jobs_env = g_getenv("DFOTA_SOAK_JOBS");
	const char *seed_env = g_getenv("DFOTA_SOAK_SEED");
	guint n_jobs = jobs_env ? (guint)g_ascii_strtoull(jobs_env, NULL, 10) : 20;
	guint32 seed = seed_env ? (guint32)g_ascii_strtoull(seed_env, NULL, 10)
	                        : (guint32)g_get_real_time();
	/* Warm-up: RSS is compared with its value after this many jobs. */
	guint warmup = MIN(20, n_jobs / 2);
	const char *const keys[] = { "download-timeout=30", "update-timeout=30", NULL };
	HarnessOptions opts = { .daemon_keys = keys };
	g_autoptr(Harness) h = NULL;
	g_autoptr(GRand) rand = g_rand_new_with_seed(seed);
	const char *asan = g_getenv("ASAN_OPTIONS");
	g_autofree char *asan_opts = g_strconcat(asan ? asan : "", asan && *asan ? ":" : "",
	                                         "quarantine_size_mb=0", NULL);
	guint counts[N_FAULTS] = { 0 };
	guint rev_n = 0, started = 0;
	guint64 rss_warm = 0, rss_end, fds_first = 0, fds_end;
	int pid;
	gint64 t_start = g_get_monotonic_time();

	/* Under AddressSanitizer freed memory sits in a quarantine (256 MB by default) and
	 * shows as RSS growth: without it, RSS says what the daemon itself keeps. */
	g_setenv("ASAN_OPTIONS", asan_opts, TRUE);
	h = harness_new(&opts);
	pid = fh_daemon_pid(h);
	g_assert_cmpuint(n_jobs, >=, 2);
	g_test_message("soak: %u jobs, seed %u (DFOTA_SOAK_SEED replays it)", n_jobs, seed);
	for (guint j = 0; j < n_jobs; j++) {
		Fault fault = j == 0 ? FAULT_NONE : (Fault)g_rand_int_range(rand, 0, N_FAULTS);
		g_autofree char *from = revision_name(rev_n);
		g_autofree char *to = revision_name(rev_n + 1);
		g_autofree char *name = g_strdup_printf("p%u.pack", j);
		g_autofree char *url = NULL;
		g_autoptr(GError) error = NULL;
		g_autoptr(GVariant) reply = NULL;
		g_autoptr(GVariant) result = NULL;
		g_autofree char *state = NULL;
		guint64 since;
		guint pct = 10 * (guint)g_rand_int_range(rand, 0, 10);

		/* The harness starts the simulator at HARNESS_REV_FROM, revision_name(0). */
		harness_make_package(h, name, "BC65", from, to, NULL);
		url = harness_url(h, name);
		switch (fault) {
		case FAULT_HTTPEND:
			harness_control(h, "error 6503 httpend");
			break;
		case FAULT_END:
			harness_control(h, "error 6508 end");
			break;
		case FAULT_SYNC:
			harness_control(h, "error 6502 sync");
			break;
		case FAULT_CUT_UPDATING:
			harness_control(h, "powercut updating %u", pct);
			break;
		case FAULT_CUT_DOWNLOAD:
			harness_control(h, "powercut downloading %u", pct);
			break;
		default:
			break;
		}
		counts[fault]++;
		since = harness_mark(h);
		reply = harness_call(h, NULL, HARNESS_IFACE_FOTA, "Upgrade",
		                     g_variant_new("(s)", url), NULL, &error);
		if (fault == FAULT_SYNC) {
			/* Refused synchronously: no job, so no Finished. */
			harness_assert_error(error, "PackageTooLarge");
			harness_round_trip(h);
			g_assert_cmpuint(
			        harness_count_signals(h, since, HARNESS_IFACE_FOTA, "Finished"), ==,
			        0);
		} else {
			g_assert_no_error(error);
			started++;
			result = harness_wait_finished(h, since, 90000);
			switch (fault) {
			case FAULT_NONE:
			case FAULT_CUT_UPDATING:
				g_assert_true(harness_dict_bool(result, "success"));
				g_assert_cmpstr(harness_dict_str(result, "to-revision"), ==, to);
				rev_n++;
				break;
			case FAULT_HTTPEND:
				g_assert_false(harness_dict_bool(result, "success"));
				g_assert_cmpint(harness_dict_int(result, "code"), ==, 6503);
				g_assert_true(harness_error_name_is(
				        harness_dict_str(result, "error"), "DownloadFailed"));
				break;
			case FAULT_END:
				g_assert_false(harness_dict_bool(result, "success"));
				g_assert_cmpint(harness_dict_int(result, "code"), ==, 6508);
				g_assert_true(harness_error_name_is(
				        harness_dict_str(result, "error"), "UpgradeFailed"));
				break;
			case FAULT_CUT_DOWNLOAD:
				g_assert_false(harness_dict_bool(result, "success"));
				g_assert_true(harness_error_name_is(
				        harness_dict_str(result, "error"), "ModemLost"));
				break;
			default:
				g_assert_not_reached();
			}
			g_assert_cmpstr(harness_dict_str(result, "from-revision"), ==, from);
		}
		/* No stuck busy: the modem comes back to ready after every job. */
		if (!fh_wait_state(h, "ready", 30000)) {
			state = fh_state(h);
			g_error("job %u (%s): State stuck at %s", j, fault_names[fault], state);
		}
		if (j == 0)
			fds_first = proc_fd_count(pid);
		if (j + 1 == warmup)
			rss_warm = proc_rss_kib(pid);
		if (g_test_verbose() || (j + 1) % 20 == 0)
			g_test_message("job %u (%s) done; RSS %" G_GUINT64_FORMAT " KiB, %u fds", j,
			               fault_names[fault], proc_rss_kib(pid), proc_fd_count(pid));
	}
	/* Every armed fault was used up by its own job (each job downloads and, unless it
	 * failed before, updates), so nothing is pending: measure at rest. */
	rss_end = proc_rss_kib(pid);
	fds_end = proc_fd_count(pid);
	g_test_message("soak figures: %u jobs (%u started) in %.1f s; faults none %u, httpend %u, "
	               "end %u, sync %u, cut-updating %u, cut-downloading %u",
	               n_jobs, started, (g_get_monotonic_time() - t_start) / 1e6, counts[0],
	               counts[1], counts[2], counts[3], counts[4], counts[5]);
	g_test_message("soak figures: RSS after job %u: %" G_GUINT64_FORMAT
	               " KiB, at the end: %" G_GUINT64_FORMAT
	               " KiB (%+.2f %%); open fds after the first job: %" G_GUINT64_FORMAT
	               ", at the end: %" G_GUINT64_FORMAT,
	               warmup, rss_warm, rss_end, 100.0 * ((double)rss_end - rss_warm) / rss_warm,
	               fds_first, fds_end);
	g_printerr("soak: RSS %" G_GUINT64_FORMAT " -> %" G_GUINT64_FORMAT
	           " KiB, fds %" G_GUINT64_FORMAT " -> %" G_GUINT64_FORMAT ", %u jobs, seed %u\n",
	           rss_warm, rss_end, fds_first, fds_end, n_jobs, seed);
	/* Under valgrind the RSS is valgrind's own (tests/valgrind.sh says so). */
	if (g_strcmp0(g_getenv("DFOTA_SOAK_RSS_CHECK"), "0") != 0)
		g_assert_cmpuint(rss_end * 100, <=, rss_warm * 105);
	g_assert_cmpuint(fds_end, ==, fds_first);
	/* Exactly one Finished per started job over the whole run. */
	g_assert_cmpuint(harness_count_signals(h, 0, HARNESS_IFACE_FOTA, "Finished"), ==, started);
}

int
main(int argc, char **argv)
{
	fh_test_init(&argc, &argv);
	g_test_add_func("/soak/jobs-with-faults", test_soak);
	return g_test_run();
}
