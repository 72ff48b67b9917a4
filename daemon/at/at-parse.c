// SPDX-License-Identifier: LGPL-2.1-or-later
/* at-parse.c: pure parsers for BC65/BC92 responses and URCs. No I/O, no state. */
#include "at-parse.h"

#include <string.h>

#include "dfota-cmdline.h"

static const char *
skip_spaces(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

/* Strict integer: optional '-', digits, nothing else. */
static gboolean
parse_int(const char *s, int *out)
{
	gint64 v;

	if (s == NULL || *s == '\0')
		return FALSE;
	if (!g_ascii_string_to_signed(s, 10, G_MININT, G_MAXINT, &v, NULL))
		return FALSE;
	*out = (int)v;
	return TRUE;
}

static gboolean
parse_u64(const char *s, guint64 *out)
{
	if (s == NULL || *s == '\0' || !g_ascii_isdigit(*s))
		return FALSE;
	return g_ascii_string_to_unsigned(s, 10, 0, G_MAXUINT64, out, NULL);
}

/* The parameters after @prefix ("+COPS:"), split at commas outside quotes, trimmed and
 * unquoted. NULL when the line does not carry @prefix or a quote is unterminated or
 * followed by anything but a comma. */
static GStrv
split_params(const char *line, const char *prefix)
{
	g_autoptr(GStrvBuilder) builder = g_strv_builder_new();
	gsize plen = strlen(prefix);
	const char *p;

	if (line == NULL)
		return NULL;
	line = skip_spaces(line);
	if (g_ascii_strncasecmp(line, prefix, plen) != 0)
		return NULL;
	p = skip_spaces(line + plen);
	if (*p == '\0')
		return g_strv_builder_end(builder);
	for (;;) {
		g_autofree char *token = NULL;
		p = skip_spaces(p);
		if (*p == '"') {
			const char *close = strchr(p + 1, '"');
			if (close == NULL)
				return NULL;
			token = g_strndup(p + 1, (gsize)(close - p - 1));
			p = skip_spaces(close + 1);
			if (*p != ',' && *p != '\0')
				return NULL;
		} else {
			gsize n = strcspn(p, ",");
			token = g_strstrip(g_strndup(p, n));
			p += n;
		}
		g_strv_builder_add(builder, token);
		if (*p == '\0')
			break;
		p++; /* the comma */
	}
	return g_strv_builder_end(builder);
}

DfotaAtFinal
dfota_at_parse_final(const char *line, int *code)
{
	g_autofree char *t = NULL;
	DfotaAtFinal kind = DFOTA_AT_FINAL_NONE;
	const char *rest = NULL;
	int dummy;

	if (code == NULL)
		code = &dummy;
	*code = -1;
	if (line == NULL)
		return DFOTA_AT_FINAL_NONE;
	t = g_strstrip(g_strdup(line));
	if (g_str_equal(t, "OK"))
		return DFOTA_AT_FINAL_OK;
	if (g_str_equal(t, "ERROR"))
		return DFOTA_AT_FINAL_ERROR;
	if (g_str_equal(t, "NO CARRIER"))
		return DFOTA_AT_FINAL_NO_CARRIER;
	if (g_str_has_prefix(t, "+CME ERROR:")) {
		kind = DFOTA_AT_FINAL_CME_ERROR;
		rest = t + strlen("+CME ERROR:");
	} else if (g_str_has_prefix(t, "+CMS ERROR:")) {
		kind = DFOTA_AT_FINAL_CMS_ERROR;
		rest = t + strlen("+CMS ERROR:");
	} else {
		return DFOTA_AT_FINAL_NONE;
	}
	if (!parse_int(skip_spaces(rest), code))
		*code = -1;
	return kind;
}

gboolean
dfota_at_is_connect(const char *line)
{
	if (line == NULL)
		return FALSE;
	line = skip_spaces(line);
	return g_str_has_prefix(line, "CONNECT") &&
	       (line[7] == '\0' || line[7] == ' ' || line[7] == '\t');
}

char *
dfota_at_expected_prefix(const char *command)
{
	const char *p;
	gsize n = 0;
	GString *s;

	if (command == NULL)
		return NULL;
	p = skip_spaces(command);
	if (g_ascii_strncasecmp(p, "AT", 2) != 0)
		return NULL;
	p = skip_spaces(p + 2);
	/* Extended commands only: basic ones (ATI, ATE0, AT) answer without a prefix. */
	if (*p != '+' && *p != '$' && *p != '^')
		return NULL;
	while (g_ascii_isalnum(p[1 + n]) || p[1 + n] == '_')
		n++;
	if (n == 0)
		return NULL;
	s = g_string_new(NULL);
	g_string_append_c(s, *p);
	for (gsize i = 0; i < n; i++)
		g_string_append_c(s, g_ascii_toupper(p[1 + i]));
	g_string_append_c(s, ':');
	return g_string_free(s, FALSE);
}

char **
dfota_at_expected_prefixes(const char *command)
{
	g_autoptr(GPtrArray) cmds = command ? dfota_cmdline_split(command, NULL) : NULL;
	g_autoptr(GPtrArray) prefixes = g_ptr_array_new_with_free_func(g_free);

	if (cmds == NULL) {
		/* Not a line the splitter takes (the daemon's own commands all are): the first
		 * command's prefix, as for a single command. */
		char *one = dfota_at_expected_prefix(command);
		if (one)
			g_ptr_array_add(prefixes, one);
	}
	for (guint i = 0; cmds && i < cmds->len; i++) {
		const DfotaCmdlineCommand *cmd = g_ptr_array_index(cmds, i);
		gsize n = strspn(cmd->name + 1, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_");
		g_autofree char *prefix = NULL;
		gboolean seen = FALSE;

		if (cmd->kind != DFOTA_CMDLINE_EXTENDED || n == 0)
			continue;
		prefix = g_strdup_printf("%c%.*s:", cmd->name[0], (int)n, cmd->name + 1);
		for (guint k = 0; k < prefixes->len; k++)
			seen = seen || g_str_equal(prefixes->pdata[k], prefix);
		if (!seen)
			g_ptr_array_add(prefixes, g_steal_pointer(&prefix));
	}
	if (prefixes->len == 0)
		return NULL;
	g_ptr_array_add(prefixes, NULL);
	return (char **)g_ptr_array_free(g_steal_pointer(&prefixes), FALSE);
}

gboolean
dfota_at_parse_ati(const char *const *lines, DfotaAtIdentity *out)
{
	memset(out, 0, sizeof(*out));
	for (gsize i = 0; lines != NULL && lines[i] != NULL; i++) {
		g_autofree char *t = g_strstrip(g_strdup(lines[i]));
		if (*t == '\0')
			continue;
		if (g_ascii_strncasecmp(t, "Revision:", 9) == 0) {
			g_free(out->revision);
			out->revision = g_strdup(skip_spaces(t + 9));
		} else if (g_ascii_strncasecmp(t, "SubEdition:", 11) == 0) {
			g_free(out->sub_edition);
			out->sub_edition = g_strdup(skip_spaces(t + 11));
		} else if (out->manufacturer == NULL) {
			out->manufacturer = g_steal_pointer(&t);
		} else if (out->model == NULL) {
			out->model = g_steal_pointer(&t);
		}
	}
	if (out->manufacturer && out->model && out->revision && *out->revision)
		return TRUE;
	dfota_at_identity_clear(out);
	return FALSE;
}

void
dfota_at_identity_clear(DfotaAtIdentity *id)
{
	g_clear_pointer(&id->manufacturer, g_free);
	g_clear_pointer(&id->model, g_free);
	g_clear_pointer(&id->revision, g_free);
	g_clear_pointer(&id->sub_edition, g_free);
}

gboolean
dfota_at_parse_cesq(const char *line, DfotaAtCesq *out)
{
	g_auto(GStrv) v = split_params(line, "+CESQ:");
	int f[6];
	/* 99 is "unknown" for rxlev and ber, 255 for the others (3GPP 27.007). */
	static const int unknown[6] = { 99, 99, 255, 255, 255, 255 };

	if (v == NULL || g_strv_length(v) != 6)
		return FALSE;
	for (int i = 0; i < 6; i++) {
		if (!parse_int(v[i], &f[i]) || f[i] < 0)
			return FALSE;
		if (f[i] == unknown[i])
			f[i] = -1;
	}
	out->rxlev = f[0];
	out->ber = f[1];
	out->rscp = f[2];
	out->ecno = f[3];
	out->rsrq = f[4];
	out->rsrp = f[5];
	return TRUE;
}

gboolean
dfota_at_parse_cops(const char *line, DfotaAtCops *out)
{
	g_auto(GStrv) v = split_params(line, "+COPS:");
	guint n;
	int mode, act;

	memset(out, 0, sizeof(*out));
	if (v == NULL || (n = g_strv_length(v)) == 0 || !parse_int(v[0], &mode))
		return FALSE;
	out->mode = mode;
	out->rat = DFOTA_AT_RAT_UNKNOWN;
	if (n >= 3 && *v[2] != '\0') {
		out->oper = g_strdup(v[2]);
		out->registered = TRUE;
	}
	if (n >= 4 && parse_int(v[3], &act)) {
		if (act == 9)
			out->rat = DFOTA_AT_RAT_NBIOT;
		else if (act == 0 || act == 1 || act == 3)
			out->rat = DFOTA_AT_RAT_GSM;
	}
	return TRUE;
}

void
dfota_at_cops_clear(DfotaAtCops *cops)
{
	g_clear_pointer(&cops->oper, g_free);
}

const char *
dfota_at_rat_to_string(DfotaAtRat rat)
{
	switch (rat) {
	case DFOTA_AT_RAT_NBIOT:
		return "nb-iot";
	case DFOTA_AT_RAT_GSM:
		return "gsm";
	case DFOTA_AT_RAT_UNKNOWN:
	default:
		return "unknown";
	}
}

gboolean
dfota_at_parse_cgpaddr(const char *line, int *cid, char **address)
{
	g_auto(GStrv) v = split_params(line, "+CGPADDR:");
	int c;

	*address = NULL;
	if (v == NULL || g_strv_length(v) == 0 || !parse_int(v[0], &c))
		return FALSE;
	*cid = c;
	if (v[1] != NULL && *v[1] != '\0')
		*address = g_strdup(v[1]);
	return TRUE;
}

gboolean
dfota_at_parse_cgact(const char *line, int *cid, int *state)
{
	g_auto(GStrv) v = split_params(line, "+CGACT:");
	int c, s;

	if (v == NULL || g_strv_length(v) != 2 || !parse_int(v[0], &c) || !parse_int(v[1], &s))
		return FALSE;
	*cid = c;
	*state = s;
	return TRUE;
}

static char *
dup_nonempty(const char *s)
{
	return (s != NULL && *s != '\0') ? g_strdup(s) : NULL;
}

gboolean
dfota_at_parse_cgdcont(const char *line, DfotaAtCgdcont *out)
{
	g_auto(GStrv) v = split_params(line, "+CGDCONT:");
	guint n;
	int cid;

	memset(out, 0, sizeof(*out));
	if (v == NULL || (n = g_strv_length(v)) < 2 || !parse_int(v[0], &cid))
		return FALSE;
	out->cid = cid;
	out->pdp_type = dup_nonempty(v[1]);
	if (n >= 3)
		out->apn = dup_nonempty(v[2]);
	if (n >= 4)
		out->address = dup_nonempty(v[3]);
	return TRUE;
}

void
dfota_at_cgdcont_clear(DfotaAtCgdcont *ctx)
{
	g_clear_pointer(&ctx->pdp_type, g_free);
	g_clear_pointer(&ctx->apn, g_free);
	g_clear_pointer(&ctx->address, g_free);
}

static gboolean
all_digits(const char *s, gsize min, gsize max)
{
	gsize n = strlen(s);

	if (n < min || n > max)
		return FALSE;
	for (gsize i = 0; i < n; i++) {
		if (!g_ascii_isdigit(s[i]))
			return FALSE;
	}
	return TRUE;
}

char *
dfota_at_parse_imei(const char *line)
{
	g_auto(GStrv) v = split_params(line, "+CGSN:");
	g_autofree char *t = NULL;

	if (v != NULL) {
		/* 15 digits of IMEI, 16 for an IMEISV. */
		if (g_strv_length(v) == 1 && all_digits(v[0], 15, 16))
			return g_strdup(v[0]);
		return NULL;
	}
	if (line == NULL)
		return NULL;
	t = g_strstrip(g_strdup(line));
	return all_digits(t, 15, 15) ? g_steal_pointer(&t) : NULL;
}

static const struct {
	const char *name;
	DfotaFotaEvent event;
} fota_events[] = {
	{ "HTTPSTART", DFOTA_FOTA_EVENT_HTTPSTART },
	{ "DOWNLOADING", DFOTA_FOTA_EVENT_DOWNLOADING },
	/* The seed spells the end of the download three ways (3.1, 4.1, 4.2). */
	{ "HTTPEND", DFOTA_FOTA_EVENT_HTTPEND },
	{ "HTTPPEND", DFOTA_FOTA_EVENT_HTTPEND },
	{ "HTTTPEND", DFOTA_FOTA_EVENT_HTTPEND },
	{ "START", DFOTA_FOTA_EVENT_START },
	{ "UPDATING", DFOTA_FOTA_EVENT_UPDATING },
	{ "END", DFOTA_FOTA_EVENT_END },
};

gboolean
dfota_fota_urc_parse(const char *line, DfotaFotaUrc *out)
{
	g_auto(GStrv) v = split_params(line, "+QIND:");
	guint n;

	memset(out, 0, sizeof(*out));
	out->value = -1;
	if (v == NULL || (n = g_strv_length(v)) < 2 || g_ascii_strcasecmp(v[0], "FOTA") != 0)
		return FALSE;
	if (*v[1] == '\0' || n > 3)
		return FALSE;
	out->name = g_strdup(v[1]);
	out->event = DFOTA_FOTA_EVENT_UNKNOWN;
	for (gsize i = 0; i < G_N_ELEMENTS(fota_events); i++) {
		if (g_ascii_strcasecmp(v[1], fota_events[i].name) == 0) {
			out->event = fota_events[i].event;
			break;
		}
	}
	if (n == 3) {
		/* Percentages come with or without '%'; an unreadable value is reported as
		 * absent rather than guessed. */
		g_autofree char *val = g_strdup(v[2]);
		gsize len = strlen(val);
		int x;
		if (len > 0 && val[len - 1] == '%')
			val[len - 1] = '\0';
		g_strchomp(val);
		if (parse_int(val, &x))
			out->value = x;
	}
	return TRUE;
}

void
dfota_fota_urc_clear(DfotaFotaUrc *urc)
{
	g_clear_pointer(&urc->name, g_free);
}

gboolean
dfota_at_parse_qflst(const char *line, char **name, guint64 *size)
{
	g_auto(GStrv) v = split_params(line, "+QFLST:");
	guint64 s;

	const char *n;

	if (v == NULL || g_strv_length(v) != 2 || !parse_u64(v[1], &s))
		return FALSE;
	/* Some firmware names every file with its drive ("UFS:fota.pack"); the drive is not
	 * part of the name the other file commands take. */
	n = v[0];
	while (g_ascii_strncasecmp(n, "UFS:", 4) == 0)
		n += 4; /* every one of them, so that a name read back reads the same */
	if (*n == '\0')
		return FALSE;
	*name = g_strdup(n);
	*size = s;
	return TRUE;
}

gboolean
dfota_at_qflst_is_directory(const char *name)
{
	return name != NULL && *name != '\0' && g_str_has_suffix(name, "/");
}

gboolean
dfota_at_parse_qflds(const char *line, guint64 *free_bytes, guint64 *total_bytes)
{
	g_auto(GStrv) v = split_params(line, "+QFLDS:");
	guint64 f, t;

	if (v == NULL || g_strv_length(v) != 2 || !parse_u64(v[0], &f) || !parse_u64(v[1], &t))
		return FALSE;
	*free_bytes = f;
	*total_bytes = t;
	return TRUE;
}

gboolean
dfota_at_parse_transfer_result(const char *line, const char *prefix, guint64 *size,
                               guint16 *checksum)
{
	g_auto(GStrv) v = split_params(line, prefix);
	guint64 s, c;
	gsize len;

	if (v == NULL || g_strv_length(v) != 2 || !parse_u64(v[0], &s))
		return FALSE;
	/* Hexadecimal in either case, with or without zero padding ("3a5c", "3A5C", "00ff",
	 * "ff", "000000ff"). */
	len = strlen(v[1]);
	if (len == 0 || len > 16 || strspn(v[1], "0123456789abcdefABCDEF") != len)
		return FALSE;
	if (!g_ascii_string_to_unsigned(v[1], 16, 0, 0xffff, &c, NULL))
		return FALSE;
	*size = s;
	*checksum = (guint16)c;
	return TRUE;
}

gboolean
dfota_at_is_boot_urc(const char *line)
{
	g_autofree char *t = NULL;

	if (line == NULL)
		return FALSE;
	t = g_strstrip(g_strdup(line));
	/* "RDY" is what a BC65/BC92 prints when its AT interface is up; REBOOT_CAUSE_* is the
	 * banner of the older Neul-based NB-IoT firmware some BC modules still print. */
	return g_str_equal(t, "RDY") || g_str_has_prefix(t, "REBOOT_CAUSE_");
}
