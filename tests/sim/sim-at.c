// SPDX-License-Identifier: LGPL-2.1-or-later
/* The AT command interpreter: identity, network, sleep and reset commands; FOTA and file
 * commands are handed to sim-fota.c and sim-ufs.c.
 */
#include "sim.h"

#include <string.h>

#define SIM_IP "100.68.194.234"

char **
sim_at_split_args(const char *s, gboolean *ok)
{
	g_autoptr(GPtrArray) args = g_ptr_array_new_with_free_func(g_free);
	const char *p = s;

	*ok = TRUE;
	for (;;) {
		while (*p == ' ')
			p++;
		if (*p == '"') {
			const char *end = strchr(p + 1, '"');

			if (end == NULL) {
				*ok = FALSE;
				break;
			}
			g_ptr_array_add(args, g_strndup(p + 1, (gsize)(end - p - 1)));
			p = end + 1;
			while (*p == ' ')
				p++;
		} else {
			gsize n = strcspn(p, ",");

			g_ptr_array_add(args, g_strstrip(g_strndup(p, n)));
			p += n;
		}
		if (*p == '\0')
			break;
		if (*p != ',') {
			*ok = FALSE;
			break;
		}
		p++;
	}
	g_ptr_array_add(args, NULL);
	return (char **)g_ptr_array_free(g_steal_pointer(&args), FALSE);
}

gboolean
sim_registered(Sim *sim)
{
	return !sim->unregistered;
}

gboolean
sim_ip_up(Sim *sim)
{
	if (!sim_registered(sim) || sim->no_ip)
		return FALSE;
	/* NB-IoT activates the default PDN by itself; on GSM the host must (seed 4.2). */
	return !sim->gsm || (sim->pdp_defined && sim->pdp_active);
}

static void
ok(Sim *sim)
{
	sim_send_line(sim, "OK");
}

/* ---- identity just after boot ---- */

static gboolean
on_app_rdy(gpointer data)
{
	Sim *sim = data;

	sim->app_rdy_timer = 0;
	sim->app_ready = TRUE;
	sim_send_line(sim, "APP RDY");
	return G_SOURCE_REMOVE;
}

void
sim_identity_boot(Sim *sim)
{
	sim->identity_failed = 0;
	sim->boot_us = g_get_monotonic_time();
	sim->app_ready = FALSE;
	g_clear_handle_id(&sim->app_rdy_timer, g_source_remove);
	if (sim->app_rdy_ms)
		sim->app_rdy_timer = g_timeout_add(sim->app_rdy_ms, on_app_rdy, sim);
}

gboolean
sim_parse_identity_fail(Sim *sim, const char *spec)
{
	static const char *const kinds[] = { "ok",      "cme14",        "error",
		                             "partial", "manufacturer", "silent" };
	g_auto(GStrv) p = g_strsplit(spec, ":", 2);
	guint64 n = 0;
	int kind = -1;

	for (guint i = 0; i < G_N_ELEMENTS(kinds); i++) {
		if (strcmp(p[0], kinds[i]) == 0)
			kind = (int)i;
	}
	if (kind < 0 || p[1] == NULL)
		return FALSE;
	sim->identity_fail_count = 0;
	sim->identity_fail_secs = 0;
	sim->identity_fail_app = FALSE;
	if (strcmp(p[1], "app") == 0) {
		sim->identity_fail_app = TRUE;
	} else if (g_str_has_suffix(p[1], "s")) {
		g_autofree char *num = g_strndup(p[1], strlen(p[1]) - 1);

		if (!g_ascii_string_to_unsigned(num, 10, 0, 3600, &n, NULL))
			return FALSE;
		sim->identity_fail_secs = (guint)n;
	} else if (g_ascii_string_to_unsigned(p[1], 10, 0, G_MAXUINT32, &n, NULL)) {
		sim->identity_fail_count = (guint)n;
	} else {
		return FALSE;
	}
	sim->identity_fail_kind = kind;
	sim->identity_failed = 0;
	return TRUE;
}

/* Whether this identity query (ATI, AT+CGMR, AT+CGSN) still falls in the failing window after
 * boot; counts it when it does. */
static gboolean
identity_fails(Sim *sim)
{
	gboolean fails;

	if (sim->identity_fail_kind == SIM_IDENTITY_OK)
		return FALSE;
	fails = sim->identity_failed < sim->identity_fail_count ||
	        (sim->identity_fail_secs &&
	         g_get_monotonic_time() - sim->boot_us <
	                 (gint64)sim->identity_fail_secs * G_USEC_PER_SEC) ||
	        (sim->identity_fail_app && !sim->app_ready);
	if (fails) {
		sim->identity_failed++;
		sim_log(sim, "(identity query %u after boot fails)", sim->identity_failed);
	}
	return fails;
}

/* Answers a failing identity query (@is_ati: the one whose partial answer has lines). */
static void
identity_fail_answer(Sim *sim, gboolean is_ati)
{
	switch (sim->identity_fail_kind) {
	case SIM_IDENTITY_CME14:
		sim_send_error(sim, 14);
		break;
	case SIM_IDENTITY_ERROR:
		sim_send_line(sim, "ERROR");
		break;
	case SIM_IDENTITY_PARTIAL:
		if (is_ati) {
			sim_send_line(sim, "Quectel_Ltd");
			sim_send_line(sim, "Quectel_%s", sim->model);
		}
		ok(sim);
		break;
	case SIM_IDENTITY_MANUFACTURER:
		if (is_ati)
			sim_send_line(sim, "Quectel_Ltd");
		ok(sim);
		break;
	default: /* silent */
		break;
	}
}

static gboolean
int_arg(const char *tail, int min, int max, int *out)
{
	guint64 v;

	if (tail[0] != '=' ||
	    !g_ascii_string_to_unsigned(tail + 1, 10, (guint64)min, (guint64)max, &v, NULL))
		return FALSE;
	*out = (int)v;
	return TRUE;
}

static void
cmd_cmee(Sim *sim, const char *tail)
{
	if (strcmp(tail, "?") == 0) {
		sim_send_line(sim, "+CMEE: %d", sim->cmee);
		ok(sim);
	} else if (int_arg(tail, 0, 2, &sim->cmee)) {
		ok(sim);
	} else {
		sim_send_error(sim, 50);
	}
}

static void
cmd_cgsn(Sim *sim, const char *tail)
{
	if (strcmp(tail, "=?") != 0 && identity_fails(sim)) {
		identity_fail_answer(sim, FALSE);
		return;
	}
	if (strcmp(tail, "=1") == 0)
		sim_send_line(sim, "+CGSN: %s", sim->imei);
	else if (*tail == '\0' || strcmp(tail, "=0") == 0)
		sim_send_line(sim, "%s", sim->imei);
	else if (strcmp(tail, "=?") != 0) {
		sim_send_error(sim, 50);
		return;
	}
	ok(sim);
}

static void
cmd_cesq(Sim *sim, const char *tail)
{
	sim_send_line(sim, sim->gsm ? "+CESQ: 40,0,255,255,255,255" : "+CESQ: 99,99,255,255,20,45");
	ok(sim);
}

static void
cmd_cops(Sim *sim, const char *tail)
{
	if (strcmp(tail, "?") == 0) {
		if (!sim_registered(sim))
			sim_send_line(sim, "+COPS: 0");
		else if (sim->gsm)
			sim_send_line(sim, "+COPS: 0,2,\"46000\",0");
		else
			sim_send_line(sim, "+COPS: 0,2,\"46011\",9");
	}
	ok(sim);
}

static void
cmd_creg(Sim *sim, const char *tail)
{
	int n;

	if (strcmp(tail, "?") == 0) {
		sim_send_line(sim, "+CEREG: %d,%d", sim->cereg_n, sim_registered(sim) ? 1 : 0);
		ok(sim);
	} else if (int_arg(tail, 0, 5, &n)) {
		sim->cereg_n = n;
		ok(sim);
	} else {
		sim_send_error(sim, 50);
	}
}

static void
cmd_cgreg(Sim *sim, const char *tail)
{
	if (strcmp(tail, "?") == 0)
		sim_send_line(sim, "+CGREG: 0,%d", sim_registered(sim) ? 1 : 0);
	ok(sim);
}

static void
cmd_cgpaddr(Sim *sim, const char *tail)
{
	if (*tail != '\0' && strcmp(tail, "=1") != 0) {
		sim_send_error(sim, 50);
		return;
	}
	if (sim_ip_up(sim))
		sim_send_line(sim, "+CGPADDR: 1," SIM_IP);
	else
		sim_send_line(sim, "+CGPADDR: 1");
	ok(sim);
}

static void
cmd_cgdcont(Sim *sim, const char *tail)
{
	const char *ip = sim_ip_up(sim) ? "\"" SIM_IP "\"" : "";

	if (strcmp(tail, "?") == 0) {
		if (!sim->gsm)
			sim_send_line(sim, "+CGDCONT: 1,\"IP\",\"cmnbiot\",%s,0,0", ip);
		else if (sim->pdp_defined)
			sim_send_line(sim, "+CGDCONT: 1,\"IP\",,%s,0,0", ip);
		ok(sim);
	} else if (g_str_has_prefix(tail, "=1,")) {
		sim->pdp_defined = TRUE;
		ok(sim);
	} else if (strcmp(tail, "=?") == 0) {
		ok(sim);
	} else {
		sim_send_error(sim, 50);
	}
}

static void
cmd_cgact(Sim *sim, const char *tail)
{
	if (strcmp(tail, "?") == 0) {
		sim_send_line(sim, "+CGACT: 1,%d", sim_ip_up(sim) ? 1 : 0);
		ok(sim);
	} else if (strcmp(tail, "=1,1") == 0 || strcmp(tail, "=1") == 0) {
		if (!sim_registered(sim) || (sim->gsm && !sim->pdp_defined)) {
			sim_send_error(sim, 30);
			return;
		}
		sim->pdp_active = TRUE;
		ok(sim);
	} else if (strcmp(tail, "=0,1") == 0 || strcmp(tail, "=0") == 0) {
		sim->pdp_active = FALSE;
		ok(sim);
	} else {
		sim_send_error(sim, 50);
	}
}

static void
cmd_qsclk(Sim *sim, const char *tail)
{
	if (strcmp(tail, "?") == 0) {
		sim_send_line(sim, "+QSCLK: %d", sim->qsclk);
		ok(sim);
	} else if (int_arg(tail, 0, 2, &sim->qsclk)) {
		ok(sim);
	} else {
		sim_send_error(sim, 50);
	}
}

static void
cmd_qrst(Sim *sim, const char *tail)
{
	if (strcmp(tail, "=1") != 0) {
		sim_send_error(sim, 50);
		return;
	}
	ok(sim);
	sim_reboot(sim, FALSE);
}

static void
cmd_cfun(Sim *sim, const char *tail)
{
	if (strcmp(tail, "?") == 0)
		sim_send_line(sim, "+CFUN: %d", sim->radio_off ? 0 : 1);
	else if (strcmp(tail, "=0") == 0)
		sim->radio_off = TRUE;
	else if (strcmp(tail, "=1") == 0)
		sim->radio_off = FALSE;
	ok(sim);
}

static void
cmd_cpin(Sim *sim, const char *tail)
{
	if (strcmp(tail, "?") == 0)
		sim_send_line(sim, "+CPIN: READY");
	ok(sim);
}

static void
cmd_cgmr(Sim *sim, const char *tail)
{
	if (*tail != '\0' && strcmp(tail, "=?") != 0) {
		sim_send_error(sim, 50);
		return;
	}
	if (*tail == '\0' && identity_fails(sim)) {
		identity_fail_answer(sim, FALSE);
		return;
	}
	if (*tail == '\0')
		sim_send_line(sim, "%s", sim->revision);
	ok(sim);
}

/* AT+QISEND=<id>,<len>,<data> sends at once; without the data the module prompts for it. */
static void
cmd_qisend(Sim *sim, const char *tail)
{
	gboolean parsed;
	g_auto(GStrv) args = tail[0] == '=' ? sim_at_split_args(tail + 1, &parsed) : NULL;

	if (args == NULL || !parsed || g_strv_length(args) < 1) {
		sim_send_error(sim, 50);
		return;
	}
	if (g_strv_length(args) >= 3) {
		ok(sim);
		sim_send_line(sim, "SEND OK");
		return;
	}
	sim_mode_enter_prompt(sim, "QISEND");
}

static void
cmd_cmgs(Sim *sim, const char *tail)
{
	if (strcmp(tail, "=?") == 0) {
		ok(sim);
		return;
	}
	sim_mode_enter_prompt(sim, "CMGS");
}

/* Test-only commands a daemon cannot know: a prompt and a data mode. */
static void
cmd_simprompt(Sim *sim, const char *tail)
{
	sim_mode_enter_prompt(sim, "SIMPROMPT");
}

static void
cmd_simconnect(Sim *sim, const char *tail)
{
	sim_mode_enter_data(sim, "SIMCONNECT");
}

static void
cmd_file(Sim *sim, const char *name, const char *tail)
{
	sim_ufs_command(sim, name, tail);
}

typedef struct {
	const char *name;
	void (*run)(Sim *sim, const char *tail);
} SimCommand;

static const SimCommand commands[] = {
	{ "CMEE", cmd_cmee },           { "CGSN", cmd_cgsn },
	{ "CESQ", cmd_cesq },           { "COPS", cmd_cops },
	{ "CEREG", cmd_creg },          { "CGREG", cmd_cgreg },
	{ "CGPADDR", cmd_cgpaddr },     { "CGDCONT", cmd_cgdcont },
	{ "CGACT", cmd_cgact },         { "QSCLK", cmd_qsclk },
	{ "QRST", cmd_qrst },           { "CFUN", cmd_cfun },
	{ "CPIN", cmd_cpin },           { "QFOTADL", sim_fota_command },
	{ "CGMR", cmd_cgmr },           { "QISEND", cmd_qisend },
	{ "CMGS", cmd_cmgs },           { "CMGW", cmd_cmgs },
	{ "SIMPROMPT", cmd_simprompt }, { "SIMCONNECT", cmd_simconnect },
};

static const char *const file_commands[] = { "QFLDS", "QFLST", "QFDEL", "QFUPL", "QFDWL" };

/* One command: "AT" and a single basic or extended command. */
static void
execute_one(Sim *sim, const char *line)
{
	g_autofree char *name = NULL;
	const char *rest;
	gsize n;
	guint i;

	rest = line + 2;
	if (*rest == '\0') {
		ok(sim);
		return;
	}
	if (g_ascii_strcasecmp(rest, "I") == 0 && identity_fails(sim)) {
		identity_fail_answer(sim, TRUE);
		return;
	}
	if (g_ascii_strcasecmp(rest, "I") == 0) {
		/* URCs come at any time, also between a command and its answer */
		if (sim->ati_urc)
			sim_send_line(sim, "%s", sim->ati_urc);
		sim_send_line(sim, "Quectel_Ltd");
		sim_send_line(sim, "Quectel_%s", sim->model);
		sim_send_line(sim, "Revision: %s", sim->revision);
		ok(sim);
		return;
	}
	if (g_ascii_strcasecmp(rest, "E0") == 0 || g_ascii_strcasecmp(rest, "E1") == 0) {
		sim->echo = rest[1] == '1';
		ok(sim);
		return;
	}
	if (*rest != '+') {
		sim_send_line(sim, "ERROR");
		return;
	}
	rest++;
	n = strspn(rest, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789");
	name = g_ascii_strup(rest, (gssize)n);
	rest += n;
	for (i = 0; i < G_N_ELEMENTS(commands); i++) {
		if (strcmp(name, commands[i].name) == 0) {
			commands[i].run(sim, rest);
			return;
		}
	}
	for (i = 0; i < G_N_ELEMENTS(file_commands); i++) {
		if (strcmp(name, file_commands[i]) == 0) {
			cmd_file(sim, name, rest);
			return;
		}
	}
	sim_send_line(sim, "ERROR");
}

/* Splits what follows "AT" into its commands the way V.250 reads a line: basic commands (a
 * letter or '&' and a letter, then digits; S<n>=<v> / S<n>?; D and the rest of the line) follow
 * each other directly, an extended command runs to the next ';' outside quotes. NULL when the
 * text is none of these (the module answers ERROR). */
static GPtrArray *
split_line(const char *p)
{
	g_autoptr(GPtrArray) pieces = g_ptr_array_new_with_free_func(g_free);

	while (*p) {
		const char *start = p;

		if (*p == '+') {
			gboolean quoted = FALSE;

			while (*p && (quoted || *p != ';')) {
				if (*p == '"')
					quoted = !quoted;
				p++;
			}
		} else if (*p == 'D' || *p == 'd') {
			p += strlen(p);
		} else if (*p == 'S' || *p == 's') {
			p++;
			while (g_ascii_isdigit(*p))
				p++;
			if (*p == '?')
				p++;
			else if (*p == '=')
				for (p++; g_ascii_isdigit(*p); p++)
					;
		} else if (g_ascii_isalpha(*p) || (*p == '&' && g_ascii_isalpha(p[1]))) {
			p += *p == '&' ? 2 : 1;
			while (g_ascii_isdigit(*p))
				p++;
		} else {
			return NULL;
		}
		g_ptr_array_add(pieces, g_strndup(start, (gsize)(p - start)));
		if (*p == ';')
			p++;
	}
	return g_steal_pointer(&pieces);
}

void
sim_at_execute(Sim *sim, const char *raw)
{
	g_autofree char *line = g_strstrip(g_strdup(raw));
	g_autoptr(GPtrArray) pieces = NULL;

	if (*line == '\0')
		return; /* a bare CR: modules answer nothing */
	if (sim->delay_next_ms > 0) {
		sim_hold_output(sim, sim->delay_next_ms);
		sim->delay_next_ms = 0;
	}
	if (g_ascii_strncasecmp(line, "AT", 2) != 0) {
		sim_send_line(sim, "ERROR");
		return;
	}
	{
		/* V.250: spaces outside strings do not count */
		gboolean quoted = FALSE;
		char *w = line;

		for (const char *r = line; *r; r++) {
			if (*r == '"')
				quoted = !quoted;
			if (quoted || *r != ' ')
				*w++ = *r;
		}
		*w = '\0';
	}
	pieces = split_line(line + 2);
	if (pieces == NULL) {
		sim_send_line(sim, "ERROR");
		return;
	}
	if (pieces->len <= 1) {
		execute_one(sim, line);
		return;
	}
	/* A chain: each command's lines in turn, one final result; an error ends the line. */
	for (guint i = 0; i < pieces->len; i++) {
		g_autofree char *one = g_strconcat("AT", (char *)pieces->pdata[i], NULL);
		gboolean last = i + 1 == pieces->len;

		sim->chain_hold_ok = !last;
		sim->chain_final = 0;
		execute_one(sim, one);
		sim->chain_hold_ok = FALSE;
		if (last || sim->chain_final != 1 || sim->mode != SIM_MODE_COMMAND)
			break;
	}
}
