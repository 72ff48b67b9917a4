// SPDX-License-Identifier: LGPL-2.1-or-later
/* test-upgrade.c: org.dfotad1.Fota.Upgrade end to end (seed 3.1 and 4.1/4.2): progress,
 * order of events, Finished, properties afterwards; power cut and forced resume. */
#include "harness.h"

#include <string.h>

/* The value @name of @iface had after the last PropertiesChanged before @upto (exclusive),
 * or NULL when no such signal announced it. */
static GVariant *
announced_value(GPtrArray *events, guint upto, const char *iface, const char *name)
{
	GVariant *found = NULL;

	for (guint i = 0; i < upto && i < events->len; i++) {
		HarnessEvent *ev = events->pdata[i];
		const char *changed_iface;
		g_autoptr(GVariant) changed = NULL;
		GVariant *v;

		if (ev->type != HARNESS_EVENT_SIGNAL ||
		    g_strcmp0(ev->member, "PropertiesChanged") != 0 ||
		    g_strcmp0(ev->path, HARNESS_MODEM_PATH) != 0)
			continue;
		g_variant_get(ev->body, "(&s@a{sv}@as)", &changed_iface, &changed, NULL);
		if (strcmp(changed_iface, iface) != 0)
			continue;
		v = g_variant_lookup_value(changed, name, NULL);
		if (v != NULL) {
			g_clear_pointer(&found, g_variant_unref);
			found = v;
		}
	}
	return found;
}

static int
find_event(GPtrArray *events, HarnessEventType type, const char *member, guint32 reply_serial)
{
	for (guint i = 0; i < events->len; i++) {
		HarnessEvent *ev = events->pdata[i];

		if (ev->type != type)
			continue;
		if (type == HARNESS_EVENT_REPLY && ev->reply_serial == reply_serial)
			return (int)i;
		if (type == HARNESS_EVENT_SIGNAL && g_strcmp0(ev->member, member) == 0 &&
		    g_strcmp0(ev->path, HARNESS_MODEM_PATH) == 0)
			return (int)i;
	}
	return -1;
}

/* Checks every Progress: percent 0-100, never decreasing within one stay in a phase, each
 * module step of 10 announced in the download and update phases. Returns the phases in the
 * order they were entered, comma-separated, without a final "idle". */
static char *
check_progress(GPtrArray *events)
{
	g_autoptr(GString) phases = g_string_new(NULL);
	g_autofree char *current = NULL;
	guint seen_steps = 0; /* bit i: percent 10*i was announced in the current stay */
	guint last = 0;
	gboolean first = TRUE;

	for (guint i = 0; i <= events->len; i++) {
		HarnessEvent *ev = i < events->len ? events->pdata[i] : NULL;
		const char *phase = NULL;
		guint32 percent = 0;

		if (ev != NULL &&
		    (ev->type != HARNESS_EVENT_SIGNAL || g_strcmp0(ev->member, "Progress") != 0 ||
		     g_strcmp0(ev->path, HARNESS_MODEM_PATH) != 0))
			continue;
		if (ev != NULL) {
			g_assert_cmpstr(g_variant_get_type_string(ev->body), ==, "(su)");
			g_variant_get(ev->body, "(&su)", &phase, &percent);
			g_assert_cmpuint(percent, <=, 100);
			if (first) {
				/* Upgrade starts in downloading at 0. */
				g_assert_cmpstr(phase, ==, "downloading");
				g_assert_cmpuint(percent, ==, 0);
				first = FALSE;
			}
		}
		if (ev == NULL || g_strcmp0(phase, current) != 0) {
			/* A stay in a phase ends: a completed module phase saw every step. */
			if (g_strcmp0(current, "downloading") == 0 ||
			    g_strcmp0(current, "updating") == 0) {
				if (last == 100 && seen_steps != 0x7ff)
					g_error("%s reached 100 but skipped steps (mask 0x%x)",
					        current, seen_steps);
			}
			if (ev == NULL)
				break;
			if (phases->len > 0)
				g_string_append_c(phases, ',');
			g_string_append(phases, phase);
			g_free(current);
			current = g_strdup(phase);
			seen_steps = 0;
			last = percent;
		}
		g_assert_cmpuint(percent, >=, last);
		last = percent;
		if (percent % 10 == 0)
			seen_steps |= 1u << (percent / 10);
	}
	if (g_str_has_suffix(phases->str, ",idle"))
		g_string_truncate(phases, phases->len - strlen(",idle"));
	return g_string_free(g_steal_pointer(&phases), FALSE);
}

/* Runs one Upgrade that must succeed and checks everything the contract promises about it. */
static void
run_successful_upgrade(Harness *h, const char *url, const char *from, const char *to,
                       const char *expected_phases)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) reply = NULL;
	g_autoptr(GVariant) result = NULL;
	g_autoptr(GPtrArray) events = NULL;
	g_autofree char *phases = NULL;
	gint64 wall_start = g_get_real_time();
	guint64 since = harness_mark(h);
	guint32 serial = 0;
	int reply_at, progress_at, finished_at;

	reply = harness_call(h, NULL, HARNESS_IFACE_FOTA, "Upgrade", g_variant_new("(s)", url),
	                     &serial, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(g_variant_get_type_string(reply), ==, "()");

	result = harness_wait_finished(h, since, 90000);
	harness_message_variant("Finished", result);
	g_assert_true(harness_dict_bool(result, "success"));
	g_assert_cmpint(harness_dict_int(result, "code"), ==, 0);
	g_assert_cmpstr(harness_dict_str(result, "error"), ==, "");
	g_assert_cmpstr(harness_dict_str(result, "kind"), ==, "upgrade");
	g_assert_cmpstr(harness_dict_str(result, "source"), ==, url);
	g_assert_cmpstr(harness_dict_str(result, "from-revision"), ==, from);
	g_assert_cmpstr(harness_dict_str(result, "to-revision"), ==, to);
	harness_dict_str(result, "message");
	g_assert_cmpuint(harness_dict_uint64(result, "id"), >, 0);
	g_assert_cmpuint(harness_dict_uint64(result, "started"), >=, (guint64)wall_start - 1000000);
	g_assert_cmpuint(harness_dict_uint64(result, "finished"), >=,
	                 harness_dict_uint64(result, "started"));
	g_assert_cmpuint(harness_dict_uint64(result, "finished"), <=,
	                 (guint64)g_get_real_time() + 1000000);

	/* Properties after the job. */
	{
		g_autoptr(GVariant) phase = harness_get_property(h, HARNESS_IFACE_FOTA, "Phase");
		g_autoptr(GVariant) percent =
		        harness_get_property(h, HARNESS_IFACE_FOTA, "Percent");
		g_autoptr(GVariant) job = harness_get_property(h, HARNESS_IFACE_FOTA, "Job");
		g_autoptr(GVariant) last =
		        harness_get_property(h, HARNESS_IFACE_FOTA, "LastResult");
		g_autoptr(GVariant) rev = harness_get_property(h, HARNESS_IFACE_MODEM, "Revision");
		g_autoptr(GVariant) state = harness_get_property(h, HARNESS_IFACE_MODEM, "State");

		g_assert_cmpstr(g_variant_get_string(phase, NULL), ==, "idle");
		g_assert_cmpuint(g_variant_get_uint32(percent), ==, 0);
		g_assert_cmpuint(g_variant_n_children(job), ==, 0);
		g_assert_true(g_variant_equal(last, result));
		g_assert_cmpstr(g_variant_get_string(rev, NULL), ==, to);
		g_assert_cmpstr(g_variant_get_string(state, NULL), ==, "ready");
	}

	events = harness_events(h, since);
	reply_at = find_event(events, HARNESS_EVENT_REPLY, NULL, serial);
	progress_at = find_event(events, HARNESS_EVENT_SIGNAL, "Progress", 0);
	finished_at = find_event(events, HARNESS_EVENT_SIGNAL, "Finished", 0);
	g_assert_cmpint(reply_at, >=, 0);
	g_assert_cmpint(progress_at, >=, 0);
	g_assert_cmpint(finished_at, >=, 0);
	/* The reply comes before any signal of its job. */
	g_assert_cmpint(reply_at, <, progress_at);
	g_assert_cmpint(progress_at, <, finished_at);
	/* No Progress after Finished. */
	for (guint i = finished_at + 1; i < events->len; i++) {
		HarnessEvent *ev = events->pdata[i];

		g_assert_false(ev->type == HARNESS_EVENT_SIGNAL &&
		               g_strcmp0(ev->member, "Progress") == 0);
	}

	phases = check_progress(events);
	g_test_message("phases: %s", phases);
	g_assert_cmpstr(phases, ==, expected_phases);

	/* Job was set (and announced) while the job ran. */
	{
		gboolean job_seen = FALSE;

		for (guint i = 0; i < (guint)finished_at && !job_seen; i++) {
			g_autoptr(GVariant) job =
			        announced_value(events, i + 1, HARNESS_IFACE_FOTA, "Job");

			if (job == NULL || g_variant_n_children(job) == 0)
				continue;
			job_seen = TRUE;
			g_assert_cmpstr(harness_dict_str(job, "kind"), ==, "upgrade");
			g_assert_cmpstr(harness_dict_str(job, "source"), ==, url);
			g_assert_cmpstr(harness_dict_str(job, "from-revision"), ==, from);
			g_assert_cmpuint(harness_dict_uint64(job, "id"), ==,
			                 harness_dict_uint64(result, "id"));
			g_assert_cmpuint(harness_dict_uint64(job, "started"), ==,
			                 harness_dict_uint64(result, "started"));
		}
		g_assert_true(job_seen);
	}
	/* Before Finished, the final state was already announced. */
	{
		g_autoptr(GVariant) phase =
		        announced_value(events, finished_at, HARNESS_IFACE_FOTA, "Phase");
		g_autoptr(GVariant) job =
		        announced_value(events, finished_at, HARNESS_IFACE_FOTA, "Job");
		g_autoptr(GVariant) last =
		        announced_value(events, finished_at, HARNESS_IFACE_FOTA, "LastResult");
		g_autoptr(GVariant) state =
		        announced_value(events, finished_at, HARNESS_IFACE_MODEM, "State");
		g_autoptr(GVariant) rev =
		        announced_value(events, finished_at, HARNESS_IFACE_MODEM, "Revision");

		g_assert_nonnull(phase);
		g_assert_cmpstr(g_variant_get_string(phase, NULL), ==, "idle");
		g_assert_nonnull(job);
		g_assert_cmpuint(g_variant_n_children(job), ==, 0);
		g_assert_nonnull(last);
		g_assert_true(g_variant_equal(last, result));
		g_assert_nonnull(state);
		g_assert_cmpstr(g_variant_get_string(state, NULL), ==, "ready");
		g_assert_nonnull(rev);
		g_assert_cmpstr(g_variant_get_string(rev, NULL), ==, to);
	}
	/* Modem.State said busy while the job ran. */
	{
		gboolean busy_seen = FALSE;

		for (guint i = 0; i < (guint)finished_at && !busy_seen; i++) {
			g_autoptr(GVariant) state =
			        announced_value(events, i + 1, HARNESS_IFACE_MODEM, "State");

			busy_seen = state != NULL &&
			            strcmp(g_variant_get_string(state, NULL), "busy") == 0;
		}
		g_assert_true(busy_seen);
	}
}

static void
test_upgrade_spelling(gconstpointer data)
{
	const char *spelling = data;
	const char *const sim_args[] = { "--spelling", spelling, NULL };
	HarnessOptions opts = { .sim_args = sim_args };
	g_autoptr(Harness) h = harness_new(&opts);
	g_autofree char *url = NULL;
	guint mark;

	harness_make_package(h, "update.pack", "BC65", HARNESS_REV_FROM, HARNESS_REV_TO, NULL);
	url = harness_url(h, "update.pack");
	mark = harness_tty_mark(h);
	run_successful_upgrade(h, url, HARNESS_REV_FROM, HARNESS_REV_TO,
	                       "downloading,updating,rebooting,verifying");
	/* What went out on the line: exactly the seed's command. */
	{
		g_autofree char *cmd = g_strdup_printf("AT+QFOTADL=\"%s\"", url);
		int at = harness_tty_find(h, mark, cmd);
		g_autoptr(GPtrArray) lines = harness_tty_lines(h);

		g_assert_cmpint(at, >=, 0);
		g_assert_cmpstr(lines->pdata[at], ==, cmd);
	}
}

static void
test_upgrade_bc92_gsm(void)
{
	const char *const sim_args[] = { "--model",    "BC92",         "--rat", "gsm",
		                         "--revision", "BC92JBR01A01", NULL };
	HarnessOptions opts = { .sim_args = sim_args };
	g_autoptr(Harness) h = harness_new(&opts);
	g_autofree char *url = NULL;
	g_autoptr(GVariant) model = harness_get_property(h, HARNESS_IFACE_MODEM, "Model");
	guint mark;
	int cgdcont, cgact, qfotadl;

	g_assert_cmpstr(g_variant_get_string(model, NULL), ==, "Quectel_BC92");
	harness_make_package(h, "update.pack", "BC92", "BC92JBR01A01", "BC92JBR01A02", NULL);
	url = harness_url(h, "update.pack");
	mark = harness_tty_mark(h);
	run_successful_upgrade(h, url, "BC92JBR01A01", "BC92JBR01A02",
	                       "downloading,updating,rebooting,verifying");

	/* Seed 4.2: PDP context configured and activated before the download command. */
	qfotadl = harness_tty_find(h, mark, "AT+QFOTADL=\"");
	g_assert_cmpint(qfotadl, >=, 0);
	cgdcont = harness_tty_find(h, 0, "AT+CGDCONT=1,\"IP\"");
	g_assert_cmpint(cgdcont, >=, 0);
	cgact = harness_tty_find(h, cgdcont, "AT+CGACT=1,1");
	g_assert_cmpint(cgact, >, cgdcont);
	g_assert_cmpint(qfotadl, >, cgact);
}

static void
test_upgrade_power_cut(void)
{
	const char *const sim_args[] = { "--power-cut", "updating:50", NULL };
	HarnessOptions opts = { .sim_args = sim_args };
	g_autoptr(Harness) h = harness_new(&opts);
	g_autofree char *url = NULL;

	harness_make_package(h, "update.pack", "BC65", HARNESS_REV_FROM, HARNESS_REV_TO, NULL);
	url = harness_url(h, "update.pack");
	/* Seed 3.1 note: the module resumes the upgrade at the next power-on; the daemon goes
	 * through rebooting and enters updating again at 0, and still finishes once. */
	run_successful_upgrade(h, url, HARNESS_REV_FROM, HARNESS_REV_TO,
	                       "downloading,updating,rebooting,updating,rebooting,verifying");
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_data_func("/upgrade/seed-spelling", "seed", test_upgrade_spelling);
	g_test_add_data_func("/upgrade/clean-spelling", "clean", test_upgrade_spelling);
	g_test_add_func("/upgrade/bc92-gsm", test_upgrade_bc92_gsm);
	g_test_add_func("/upgrade/power-cut-resume", test_upgrade_power_cut);
	return g_test_run();
}
