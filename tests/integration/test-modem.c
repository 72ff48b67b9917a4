// SPDX-License-Identifier: LGPL-2.1-or-later
/* test-modem.c: org.dfotad1.Modem against the simulator: identity, network, passthrough
 * commands, refusals, URCs, several clients, timeouts. */
#include "harness.h"

#include <string.h>

static void
assert_prop_str(Harness *h, const char *name, const char *expected)
{
	g_autoptr(GVariant) v = harness_get_property(h, HARNESS_IFACE_MODEM, name);

	g_assert_cmpstr(g_variant_get_type_string(v), ==, "s");
	g_assert_cmpstr(g_variant_get_string(v, NULL), ==, expected);
}

static gboolean
network_known(GVariant *network)
{
	g_autoptr(GVariant) ip = g_variant_lookup_value(network, "ip-address", NULL);

	return ip != NULL;
}

static void
test_identity(void)
{
	g_autoptr(Harness) h = harness_new(NULL);
	g_autoptr(GVariant) device = NULL;
	g_autoptr(GVariant) network = NULL;

	assert_prop_str(h, "State", "ready");
	assert_prop_str(h, "Manufacturer", "Quectel_Ltd");
	assert_prop_str(h, "Model", "Quectel_BC65");
	assert_prop_str(h, "Revision", HARNESS_REV_FROM);
	/* the harness's simulator runs with --imei 866971030012345 */
	assert_prop_str(h, "Imei", "866971030012345");
	assert_prop_str(h, "Port", harness_link_path(h));

	device = harness_get_property(h, HARNESS_IFACE_MODEM, "Device");
	g_assert_cmpstr(g_variant_get_type_string(device), ==, "a{sv}");
	g_assert_cmpuint(g_variant_n_children(device), ==, 0);

	/* The network figures may be read after State turned ready: wait for them. */
	g_assert_true(harness_wait_property_cond(h, HARNESS_IFACE_MODEM, "Network", network_known,
	                                         10000));
	network = harness_get_property(h, HARNESS_IFACE_MODEM, "Network");
	g_assert_cmpstr(g_variant_get_type_string(network), ==, "a{sv}");
	g_assert_true(harness_dict_bool(network, "registered"));
	g_assert_cmpstr(harness_dict_str(network, "access-technology"), ==, "nb-iot");
	g_assert_cmpstr(harness_dict_str(network, "operator"), ==, "46011");
	g_assert_true(g_hostname_is_ip_address(harness_dict_str(network, "ip-address")));

	/* Idle FOTA side. */
	{
		g_autoptr(GVariant) phase = harness_get_property(h, HARNESS_IFACE_FOTA, "Phase");
		g_autoptr(GVariant) job = harness_get_property(h, HARNESS_IFACE_FOTA, "Job");

		g_assert_cmpstr(g_variant_get_string(phase, NULL), ==, "idle");
		g_assert_cmpuint(g_variant_n_children(job), ==, 0);
	}
}

static guint
count_tty(Harness *h, guint from, const char *line)
{
	g_autoptr(GPtrArray) lines = harness_tty_lines(h);
	guint n = 0;

	for (guint i = from; i < lines->len; i++)
		n += g_str_equal(lines->pdata[i], line);
	return n;
}

static void
assert_identity(Harness *h, const char *revision)
{
	assert_prop_str(h, "Manufacturer", "Quectel_Ltd");
	assert_prop_str(h, "Model", "Quectel_BC65");
	assert_prop_str(h, "Revision", revision);
	assert_prop_str(h, "Imei", "866971030012345");
}

/* A module whose identity queries fail or answer in part for a while after boot (here: the
 * daemon starts while it boots). The daemon asks again and sets the properties only from
 * complete answers; State turns ready once they are known. */
static void
check_identity_after_boot(const char *spec)
{
	const char *const sim_args[] = { "--identity-fail", spec, NULL };
	HarnessOptions opts = { .sim_args = sim_args };
	g_autoptr(Harness) h = harness_new(&opts);
	g_autoptr(GError) error = NULL;
	g_autofree char *out = NULL;

	g_test_message("identity queries after boot: %s", spec);
	assert_prop_str(h, "State", "ready");
	assert_identity(h, HARNESS_REV_FROM);
	g_assert_cmpuint(count_tty(h, 0, "ATI"), >=, 2);
	out = harness_command(h, NULL, "AT+CGMR", 0, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(out, ==, HARNESS_REV_FROM);
}

static void
test_identity_cme14(void)
{
	check_identity_after_boot("cme14:3");
}

static void
test_identity_error(void)
{
	check_identity_after_boot("error:3");
}

static void
test_identity_partial(void)
{
	check_identity_after_boot("partial:3");
}

static void
test_identity_manufacturer_only(void)
{
	check_identity_after_boot("manufacturer:3");
}

/* Failing for the first seconds after RDY: measured from a reboot, so that the window does not
 * depend on how long the daemon takes to start. */
static void
test_identity_seconds(void)
{
	g_autoptr(Harness) h = harness_new(NULL);
	guint mark;

	harness_control(h, "identity-fail cme14:3s");
	mark = harness_tty_mark(h);
	harness_control(h, "reboot");
	g_assert_true(harness_wait_property(h, HARNESS_IFACE_MODEM, "State",
	                                    g_variant_new_string("rebooting"), 10000));
	g_assert_true(harness_wait_property(h, HARNESS_IFACE_MODEM, "State",
	                                    g_variant_new_string("ready"), 20000));
	assert_identity(h, HARNESS_REV_FROM);
	g_assert_cmpuint(count_tty(h, mark, "ATI"), >=, 2);
}

static void
test_identity_silent(void)
{
	check_identity_after_boot("silent:1");
}

/* "RDY" first, "APP RDY" 3 s later, identity refused until then; a revision with a suffix
 * is reported whole, before and after the reboot. */
static void
test_identity_app_rdy_suffix(void)
{
	const char *const sim_args[] = { "--revision", "BC65JAR01A02_BETA0203", "--app-rdy", "3000",
		                         NULL };
	HarnessOptions opts = { .sim_args = sim_args };
	g_autoptr(Harness) h = harness_new(&opts);
	g_autoptr(GError) error = NULL;
	g_autofree char *out = NULL;
	guint mark;

	assert_identity(h, "BC65JAR01A02_BETA0203");
	harness_control(h, "identity-fail cme14:app");
	mark = harness_tty_mark(h);
	harness_control(h, "reboot");
	g_assert_true(harness_wait_property(h, HARNESS_IFACE_MODEM, "State",
	                                    g_variant_new_string("rebooting"), 10000));
	g_assert_true(harness_wait_property(h, HARNESS_IFACE_MODEM, "State",
	                                    g_variant_new_string("ready"), 20000));
	assert_identity(h, "BC65JAR01A02_BETA0203");
	/* refused at least once before APP RDY, then answered */
	g_assert_cmpuint(count_tty(h, mark, "ATI"), >=, 2);
	out = harness_command(h, NULL, "AT", 0, &error);
	g_assert_no_error(error);
}

/* A boot line arriving inside the ATI answer is a URC, never a line of the answer: the
 * identity stays right and the line is announced as Urc. */
static void
check_boot_line_inside_ati(const char *line)
{
	const char *const sim_args[] = { "--ati-urc", line, NULL };
	HarnessOptions opts = { .sim_args = sim_args };
	g_autoptr(Harness) h = harness_new(&opts);
	g_autoptr(GError) error = NULL;
	g_autofree char *ati = NULL;
	g_autoptr(GPtrArray) events = NULL;
	guint64 since = harness_mark(h);
	guint urcs = 0;

	assert_identity(h, HARNESS_REV_FROM);
	ati = harness_command(h, NULL, "ATI", 0, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(ati, ==, "Quectel_Ltd\nQuectel_BC65\nRevision: " HARNESS_REV_FROM);
	g_assert_true(harness_wait_signals(h, since, HARNESS_IFACE_MODEM, "Urc", 1, 10000));
	events = harness_events(h, since);
	for (guint i = 0; i < events->len; i++) {
		HarnessEvent *ev = events->pdata[i];
		const char *got = NULL;

		if (ev->type != HARNESS_EVENT_SIGNAL || g_strcmp0(ev->member, "Urc") != 0)
			continue;
		g_variant_get(ev->body, "(&s)", &got);
		g_assert_cmpstr(got, ==, line);
		urcs++;
	}
	g_assert_cmpuint(urcs, >=, 1);
}

static void
test_identity_app_rdy_inside_ati(void)
{
	check_boot_line_inside_ati("APP RDY");
}

static void
test_identity_last_upgrade_inside_ati(void)
{
	check_boot_line_inside_ati("Last upgrade was not finished,continue upgrade");
}

static void
test_identity_powered_down_inside_ati(void)
{
	check_boot_line_inside_ati("POWERED DOWN");
}

/* The module never gives its identity within identity-timeout: a log line, the properties
 * keep what they had (empty at the first start), and the modem serves commands. */
static void
test_identity_bound_at_start(void)
{
	const char *const sim_args[] = { "--identity-fail", "cme14:100000", NULL };
	const char *const daemon_keys[] = { "identity-timeout=2", NULL };
	HarnessOptions opts = { .sim_args = sim_args, .daemon_keys = daemon_keys };
	g_autoptr(Harness) h = harness_new(&opts);
	g_autoptr(GError) error = NULL;
	g_autofree char *out = NULL;
	guint tries = count_tty(h, 0, "ATI");

	assert_prop_str(h, "State", "ready");
	assert_prop_str(h, "Manufacturer", "");
	assert_prop_str(h, "Model", "");
	assert_prop_str(h, "Revision", "");
	assert_prop_str(h, "Imei", "");
	g_test_message("ATI asked %u times", tries);
	g_assert_cmpuint(tries, >=, 2);
	g_assert_cmpuint(tries, <=, 4);
	out = harness_command(h, NULL, "AT+CESQ", 0, &error);
	g_assert_no_error(error);
	g_assert_true(g_str_has_prefix(out, "+CESQ: "));
}

static void
test_identity_bound_after_reboot(void)
{
	const char *const daemon_keys[] = { "identity-timeout=2", NULL };
	HarnessOptions opts = { .daemon_keys = daemon_keys };
	g_autoptr(Harness) h = harness_new(&opts);
	g_autoptr(GError) error = NULL;
	g_autofree char *out = NULL;
	guint64 since;

	assert_identity(h, HARNESS_REV_FROM);
	harness_control(h, "identity-fail partial:100000");
	since = harness_mark(h);
	harness_control(h, "reboot");
	g_assert_true(harness_wait_property(h, HARNESS_IFACE_MODEM, "State",
	                                    g_variant_new_string("rebooting"), 10000));
	g_assert_true(harness_wait_property(h, HARNESS_IFACE_MODEM, "State",
	                                    g_variant_new_string("ready"), 20000));
	/* Never a partial identity: what was known stays, and no change was announced. */
	assert_identity(h, HARNESS_REV_FROM);
	{
		g_autoptr(GPtrArray) events = harness_events(h, since);

		for (guint i = 0; i < events->len; i++) {
			HarnessEvent *ev = events->pdata[i];
			g_autoptr(GVariant) changed = NULL;

			if (ev->type != HARNESS_EVENT_SIGNAL ||
			    g_strcmp0(ev->member, "PropertiesChanged") != 0)
				continue;
			g_variant_get_child(ev->body, 1, "@a{sv}", &changed);
			g_assert_false(g_variant_lookup(changed, "Revision", "&s", NULL));
			g_assert_false(g_variant_lookup(changed, "Manufacturer", "&s", NULL));
			g_assert_false(g_variant_lookup(changed, "Model", "&s", NULL));
		}
	}
	out = harness_command(h, NULL, "AT", 0, &error);
	g_assert_no_error(error);
}

static void
test_commands(void)
{
	g_autoptr(Harness) h = harness_new(NULL);
	g_autoptr(GError) error = NULL;
	g_autofree char *cesq = NULL;
	g_autofree char *ati = NULL;
	g_autofree char *test_cmd = NULL;
	g_autofree char *unknown = NULL;
	g_auto(GStrv) lines = NULL;

	cesq = harness_command(h, NULL, "AT+CESQ", 0, &error);
	g_assert_no_error(error);
	g_assert_true(g_str_has_prefix(cesq, "+CESQ: "));
	g_assert_null(strchr(cesq, '\n'));

	ati = harness_command(h, NULL, "ATI", 0, &error);
	g_assert_no_error(error);
	lines = g_strsplit(ati, "\n", -1);
	g_assert_cmpuint(g_strv_length(lines), ==, 3);
	g_assert_cmpstr(lines[0], ==, "Quectel_Ltd");
	g_assert_cmpstr(lines[1], ==, "Quectel_BC65");
	g_assert_cmpstr(lines[2], ==, "Revision: " HARNESS_REV_FROM);

	/* The test form of the upgrade command is harmless and allowed. */
	test_cmd = harness_command(h, NULL, "AT+QFOTADL=?", 0, &error);
	g_assert_no_error(error);
	g_assert_true(harness_tty_find(h, 0, "AT+QFOTADL=?") >= 0);

	unknown = harness_command(h, NULL, "AT+DFOTANOSUCH", 0, &error);
	harness_assert_error(error, "CommandFailed");
	g_assert_null(unknown);
	g_clear_error(&error);

	/* timeout_ms up to ten minutes; above, InvalidArgument before anything is sent */
	{
		guint mark = harness_tty_mark(h);
		g_autofree char *too_long = harness_command(h, NULL, "AT+CESQ", 600001, &error);
		g_autofree char *longest = NULL;

		harness_assert_error(error, "InvalidArgument");
		g_assert_null(too_long);
		g_clear_error(&error);
		longest = harness_command(h, NULL, "AT+CGSN=1", 600000, &error);
		g_assert_no_error(error);
		g_assert_cmpstr(longest, ==, "+CGSN: 866971030012345");
		g_assert_cmpint(harness_tty_find(h, mark, "AT+CESQ"), <, 0);
	}
}

static guint
count_urcs(Harness *h, guint64 since, const char *prefix)
{
	g_autoptr(GPtrArray) events = harness_events(h, since);
	guint n = 0;

	for (guint i = 0; i < events->len; i++) {
		HarnessEvent *ev = events->pdata[i];
		const char *line = NULL;

		if (ev->type != HARNESS_EVENT_SIGNAL || g_strcmp0(ev->member, "Urc") != 0)
			continue;
		g_variant_get(ev->body, "(&s)", &line);
		if (g_str_has_prefix(line, prefix))
			n++;
	}
	return n;
}

static void
test_chains(void)
{
	g_autoptr(Harness) h = harness_new(NULL);
	guint64 since = harness_mark(h);
	struct {
		const char *command;
		const char *response;
	} chains[] = {
		{ "AT+CGMR;+CEREG?", HARNESS_REV_FROM "\n+CEREG: 0,1" },
		{ "AT+CGMR;+CGSN=1", HARNESS_REV_FROM "\n+CGSN: 866971030012345" },
		{ "ATI;+CGSN=1", "Quectel_Ltd\nQuectel_BC65\nRevision: " HARNESS_REV_FROM
		                 "\n+CGSN: 866971030012345" },
		{ "at + cgmr ; + cereg ?", HARNESS_REV_FROM "\n+CEREG: 0,1" },
	};

	for (guint i = 0; i < G_N_ELEMENTS(chains); i++) {
		g_autoptr(GError) error = NULL;
		g_autofree char *resp = harness_command(h, NULL, chains[i].command, 0, &error);

		g_test_message("chain %s", chains[i].command);
		g_assert_no_error(error);
		g_assert_cmpstr(resp, ==, chains[i].response);
	}
	/* the +CEREG: lines answered the chains: none of them was a Urc */
	harness_round_trip(h);
	g_assert_cmpuint(count_urcs(h, since, "+CEREG:"), ==, 0);

	/* an error anywhere in the chain fails the call */
	{
		g_autoptr(GError) error = NULL;
		g_autofree char *resp = harness_command(h, NULL, "AT+CGMR;+DFOTANOSUCH", 0, &error);

		harness_assert_error(error, "CommandFailed");
		g_assert_null(resp);
	}
}

/* A command the daemon cannot know puts the module at a '>' prompt or in data mode: the daemon
 * leaves it, fails the call, and the modem goes on answering. */
static void
test_prompt_and_data_mode_left(void)
{
	g_autoptr(Harness) h = harness_new(NULL);
	static const struct {
		const char *command;
		const char *needle;  /* in the message */
		const char *left_by; /* the simulator's note that the mode was left */
	} modes[] = {
		{ "AT+SIMPROMPT", "prompt", "(ESC: prompt of SIMPROMPT cancelled)" },
		{ "AT+SIMCONNECT", "CONNECT", "(+++: left data mode of SIMCONNECT" },
	};

	for (guint i = 0; i < G_N_ELEMENTS(modes); i++) {
		g_autoptr(GError) error = NULL;
		g_autofree char *resp = NULL;
		g_autofree char *next = NULL;
		guint mark = harness_tty_mark(h);

		resp = harness_command(h, NULL, modes[i].command, 20000, &error);
		harness_assert_error(error, "CommandFailed");
		g_assert_nonnull(strstr(error->message, modes[i].needle));
		g_assert_null(resp);
		g_assert_cmpint(harness_tty_find(h, mark, modes[i].left_by), >, 0);
		g_clear_error(&error);
		/* the channel is usable: the next command is answered, not taken as data */
		next = harness_command(h, NULL, "AT+CGSN=1", 0, &error);
		g_assert_no_error(error);
		g_assert_cmpstr(next, ==, "+CGSN: 866971030012345");
		g_assert_true(harness_wait_property(h, HARNESS_IFACE_MODEM, "State",
		                                    g_variant_new_string("ready"), 5000));
	}
}

static void
test_refused(void)
{
	g_autoptr(Harness) h = harness_new(NULL);
	g_autofree char *long_cmd = NULL;
	guint mark;
	int sentinel;
	struct {
		const char *command;
		const char *needle; /* what would show in the simulator's log had it gone out */
	} refused[] = {
		{ "ATE1", "ATE1" },
		{ "AT+CMEE=0", "AT+CMEE=0" },
		{ "AT+QFOTADL=\"http://x/y\"", "AT+QFOTADL=\"http" },
		{ "AT+QSCLK=1", "AT+QSCLK" },
		{ "AT+IPR=9600", "AT+IPR" },
		{ "ATZ", "ATZ" },
		{ "AT&F", "AT&F" },
		{ "AT+QFUPL=\"a\",1,1,1", "AT+QFUPL" },
		{ "AT+QFDWL=\"a\"", "AT+QFDWL" },
		{ "hello", "hello" },
		{ "AT\rAT", NULL },
		{ "AT+CGSN=1\nATZ", "ATZ" },
		/* concatenated and chained commands are checked one by one */
		{ "ATI&F", "ATI&F" },
		{ "ATIE1", "ATIE1" },
		{ "ATI+QSCLK=1", "QSCLK" },
		{ "AT+CGMR\";+QSCLK=1", "QSCLK" },
		{ "AT+CGMR;+QSCLK=1", "QSCLK" },
		{ "at + qsclk = 1", "qsclk" },
		{ "ATI\xc3\xa9", "ATI\xc3\xa9" },
		/* what takes the modem away from the daemon */
		{ "AT+QPOWD=1", "QPOWD" },
		{ "AT+QURCCFG=\"urcport\",\"uart1\"", "QURCCFG" },
		/* prompt and data mode: the simulator would wait for data after these */
		{ "AT+CMGS=\"123\"", "AT+CMGS" },
		{ "AT+QISEND=0", "AT+QISEND" },
		{ "ATD123;", "ATD123" },
		{ "ATO", "ATO" },
		{ "ATA", "ATA" },
		{ NULL, "AT+XXXXXXXX" },
	};

	/* 1025 bytes: one over the limit. */
	long_cmd = g_strnfill(1025, 'X');
	memcpy(long_cmd, "AT+", 3);
	refused[G_N_ELEMENTS(refused) - 1].command = long_cmd;

	mark = harness_tty_mark(h);
	for (guint i = 0; i < G_N_ELEMENTS(refused); i++) {
		g_autoptr(GError) error = NULL;
		g_autofree char *resp = harness_command(h, NULL, refused[i].command, 0, &error);

		g_test_message("refused? %.40s", refused[i].command);
		harness_assert_error(error, "InvalidCommand");
		g_assert_null(resp);
		/* The message says what to use instead: it must say something. */
		g_assert_cmpuint(strlen(error->message), >, 0);
	}

	/* A command that does go out marks the end: everything before it reached the log. */
	{
		g_autoptr(GError) error = NULL;
		g_autofree char *resp = harness_command(h, NULL, "AT+CGSN=1", 0, &error);

		g_assert_no_error(error);
	}
	sentinel = harness_wait_tty(h, mark, "AT+CGSN=1", 10000);
	g_assert_cmpint(sentinel, >=, 0);
	{
		g_autoptr(GPtrArray) lines = harness_tty_lines(h);

		for (guint i = mark; i < (guint)sentinel; i++) {
			for (guint j = 0; j < G_N_ELEMENTS(refused); j++) {
				if (refused[j].needle != NULL &&
				    strstr(lines->pdata[i], refused[j].needle) != NULL)
					g_error("refused command reached the tty: %s",
					        (char *)lines->pdata[i]);
			}
		}
	}
	/* Never, in the whole session: the daemon itself has no reason to send these. */
	g_assert_cmpint(harness_tty_find(h, 0, "ATE1"), <, 0);
	g_assert_cmpint(harness_tty_find(h, 0, "AT+CMEE=0"), <, 0);
	g_assert_cmpint(harness_tty_find(h, 0, "AT+QFOTADL=\""), <, 0);
	g_assert_cmpint(harness_tty_find(h, 0, "hello"), <, 0);
}

static void
test_urc(void)
{
	g_autoptr(Harness) h = harness_new(NULL);
	g_autoptr(GPtrArray) events = NULL;
	guint64 since = harness_mark(h);
	guint found = 0;

	harness_control(h, "urc +CEREG: 1");
	harness_control(h, "urc +QATWAKEUP");
	g_assert_true(harness_wait_signals(h, since, HARNESS_IFACE_MODEM, "Urc", 2, 10000));

	events = harness_events(h, since);
	for (guint i = 0; i < events->len; i++) {
		HarnessEvent *ev = events->pdata[i];
		const char *line = NULL;

		if (ev->type != HARNESS_EVENT_SIGNAL || g_strcmp0(ev->member, "Urc") != 0)
			continue;
		g_assert_cmpstr(g_variant_get_type_string(ev->body), ==, "(s)");
		g_variant_get(ev->body, "(&s)", &line);
		if (found == 0)
			g_assert_cmpstr(line, ==, "+CEREG: 1");
		else if (found == 1)
			g_assert_cmpstr(line, ==, "+QATWAKEUP");
		found++;
	}
	g_assert_cmpuint(found, ==, 2);
}

typedef struct {
	const char *command;
	const char *prefix;
	char *response;
	GError *error;
	guint order;
	guint *done;
} Pending;

static void
on_command_done(GObject *source, GAsyncResult *res, gpointer data)
{
	Pending *p = data;
	g_autoptr(GVariant) ret =
	        g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), res, &p->error);

	if (ret != NULL)
		g_variant_get(ret, "(s)", &p->response);
	p->order = (*p->done)++;
	g_main_context_wakeup(NULL);
}

static void
send_async(GDBusConnection *conn, Pending *p, guint timeout_ms)
{
	g_dbus_connection_call(conn, HARNESS_BUS_NAME, HARNESS_MODEM_PATH, HARNESS_IFACE_MODEM,
	                       "Command", g_variant_new("(su)", p->command, timeout_ms),
	                       G_VARIANT_TYPE("(s)"), G_DBUS_CALL_FLAGS_NONE, 60000, NULL,
	                       on_command_done, p);
}

static void
wait_done(guint *done, guint n, guint timeout_ms)
{
	gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;

	/* The replies wake the context; the deadline guards a daemon that never answers. */
	while (*done < n) {
		g_assert_cmpint(g_get_monotonic_time(), <, deadline);
		g_main_context_iteration(NULL, TRUE);
	}
}

static void
test_concurrent_clients(void)
{
	g_autoptr(Harness) h = harness_new(NULL);
	static const struct {
		const char *command;
		const char *prefix;
	} kinds[] = {
		{ "AT+CGSN=1", "+CGSN: 866971030012345" },
		{ "ATI", "Quectel_Ltd\nQuectel_BC65\nRevision: " },
		{ "AT+CESQ", "+CESQ: " },
		{ "AT+COPS?", "+COPS: " },
	};
	enum { N_CLIENTS = 4, PER_CLIENT = 6 };
	GDBusConnection *clients[N_CLIENTS];
	Pending pending[N_CLIENTS * PER_CLIENT];
	guint64 since = harness_mark(h);
	guint done = 0;

	for (guint c = 0; c < N_CLIENTS; c++)
		clients[c] = harness_new_client(h);
	for (guint i = 0; i < G_N_ELEMENTS(pending); i++) {
		guint c = i % N_CLIENTS;
		guint k = (i / N_CLIENTS + c) % G_N_ELEMENTS(kinds);

		pending[i] = (Pending){ kinds[k].command, kinds[k].prefix, NULL, NULL, 0, &done };
		send_async(clients[c], &pending[i], 0);
		/* URCs mid-stream, between and inside the responses. (Not with a prefix of a
		 * command in flight: the contract credits such a line to the command.) */
		if (i % 5 == 0)
			harness_control(h, "urc +CEREG: %u", i % 6);
	}
	wait_done(&done, G_N_ELEMENTS(pending), 60000);

	for (guint i = 0; i < G_N_ELEMENTS(pending); i++) {
		g_assert_no_error(pending[i].error);
		g_test_message("%s -> %s", pending[i].command, pending[i].response);
		g_assert_true(g_str_has_prefix(pending[i].response, pending[i].prefix));
		/* Exactly the command's own response: no URC folded in. */
		g_assert_null(strstr(pending[i].response, "+CEREG"));
		if (strcmp(pending[i].command, "AT+CGSN=1") == 0)
			g_assert_cmpstr(pending[i].response, ==, "+CGSN: 866971030012345");
		else if (strcmp(pending[i].command, "ATI") == 0)
			g_assert_cmpstr(pending[i].response, ==,
			                "Quectel_Ltd\nQuectel_BC65\nRevision: " HARNESS_REV_FROM);
		else
			g_assert_null(strchr(pending[i].response, '\n'));
		g_free(pending[i].response);
	}
	/* Every injected +CEREG reached the Urc signal (none was swallowed by a response). */
	g_assert_true(harness_wait_signals(h, since, HARNESS_IFACE_MODEM, "Urc", 5, 10000));
	{
		g_autoptr(GPtrArray) events = harness_events(h, since);
		guint cereg = 0;

		for (guint i = 0; i < events->len; i++) {
			HarnessEvent *ev = events->pdata[i];
			const char *line;

			if (ev->type != HARNESS_EVENT_SIGNAL || g_strcmp0(ev->member, "Urc") != 0)
				continue;
			g_variant_get(ev->body, "(&s)", &line);
			if (g_str_has_prefix(line, "+CEREG: "))
				cereg++;
		}
		g_assert_cmpuint(cereg, ==, 5);
	}
	for (guint c = 0; c < N_CLIENTS; c++)
		g_object_unref(clients[c]);
}

static void
test_fifo_with_slow_command(void)
{
	g_autoptr(Harness) h = harness_new(NULL);
	g_autoptr(GDBusConnection) a = harness_new_client(h);
	g_autoptr(GDBusConnection) b = harness_new_client(h);
	guint done = 0;
	Pending slow = { "ATI", "Quectel_Ltd", NULL, NULL, 0, &done };
	Pending quick = { "AT+CGSN=1", "+CGSN: ", NULL, NULL, 0, &done };
	guint mark = harness_tty_mark(h);

	/* The module takes a second to answer the next command. */
	harness_control(h, "delay 1000");
	send_async(a, &slow, 0);
	g_assert_cmpint(harness_wait_tty(h, mark, "ATI", 10000), >=, 0);
	send_async(b, &quick, 0);
	wait_done(&done, 2, 30000);

	g_assert_no_error(slow.error);
	g_assert_no_error(quick.error);
	g_assert_true(g_str_has_prefix(slow.response, slow.prefix));
	g_assert_true(g_str_has_prefix(quick.response, quick.prefix));
	/* FIFO: the second command waited for the first. */
	g_assert_cmpuint(slow.order, <, quick.order);
	{
		int ati = harness_tty_find(h, mark, "ATI");
		int cgsn = harness_tty_find(h, mark, "AT+CGSN=1");

		g_assert_cmpint(ati, >=, 0);
		g_assert_cmpint(cgsn, >, ati);
	}
	g_free(slow.response);
	g_free(quick.response);
}

static void
test_timeout(void)
{
	g_autoptr(Harness) h = harness_new(NULL);
	g_autoptr(GError) error = NULL;
	g_autofree char *late = NULL;
	g_autofree char *next = NULL;
	gint64 t0;

	harness_control(h, "delay 3000");
	t0 = g_get_monotonic_time();
	late = harness_command(h, NULL, "AT+CESQ", 500, &error);
	harness_assert_error(error, "Timeout");
	g_assert_null(late);
	/* 500 ms from the write, not the default 5 s. */
	g_assert_cmpint(g_get_monotonic_time() - t0, <, 2500 * 1000);
	g_clear_error(&error);

	/* The late +CESQ/OK must not be credited to this command. */
	next = harness_command(h, NULL, "AT+CGSN=1", 0, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(next, ==, "+CGSN: 866971030012345");
	g_clear_pointer(&next, g_free);
	next = harness_command(h, NULL, "AT+CESQ", 0, &error);
	g_assert_no_error(error);
	g_assert_true(g_str_has_prefix(next, "+CESQ: "));
	g_assert_true(harness_wait_property(h, HARNESS_IFACE_MODEM, "State",
	                                    g_variant_new_string("ready"), 5000));
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/modem/identity", test_identity);
	g_test_add_func("/modem/identity-after-boot/cme14", test_identity_cme14);
	g_test_add_func("/modem/identity-after-boot/error", test_identity_error);
	g_test_add_func("/modem/identity-after-boot/partial", test_identity_partial);
	g_test_add_func("/modem/identity-after-boot/manufacturer-only",
	                test_identity_manufacturer_only);
	g_test_add_func("/modem/identity-after-boot/seconds", test_identity_seconds);
	g_test_add_func("/modem/identity-after-boot/silent", test_identity_silent);
	g_test_add_func("/modem/identity-after-boot/app-rdy-suffix", test_identity_app_rdy_suffix);
	g_test_add_func("/modem/identity-after-boot/bound-at-start", test_identity_bound_at_start);
	g_test_add_func("/modem/identity-after-boot/app-rdy-inside-ati",
	                test_identity_app_rdy_inside_ati);
	g_test_add_func("/modem/identity-after-boot/last-upgrade-inside-ati",
	                test_identity_last_upgrade_inside_ati);
	g_test_add_func("/modem/identity-after-boot/powered-down-inside-ati",
	                test_identity_powered_down_inside_ati);
	g_test_add_func("/modem/identity-after-boot/bound-after-reboot",
	                test_identity_bound_after_reboot);
	g_test_add_func("/modem/commands", test_commands);
	g_test_add_func("/modem/refused", test_refused);
	g_test_add_func("/modem/chains", test_chains);
	g_test_add_func("/modem/prompt-and-data-mode-left", test_prompt_and_data_mode_left);
	g_test_add_func("/modem/urc", test_urc);
	g_test_add_func("/modem/concurrent-clients", test_concurrent_clients);
	g_test_add_func("/modem/fifo-with-slow-command", test_fifo_with_slow_command);
	g_test_add_func("/modem/timeout", test_timeout);
	return g_test_run();
}
