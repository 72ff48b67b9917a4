/* dfota-validate.c: argument checks before anything reaches the tty, and the Xor16 checksum. */
#include "dfota-validate.h"

#include <string.h>

#include "dfota-error.h"

#define MODULE_URL_MAX 511 /* seed 3.1 / 3.3 */
/* libcurl has no such limit; signed URLs of object stores are often longer than 511. */
#define HOST_URL_MAX 2048
#define FILENAME_MAX_BYTES 58 /* seed 3.3 note */
#define COMMAND_MAX 1024

static gboolean
is_control(guchar c)
{
	return c < 0x20 || c == 0x7f;
}

/* Rules shared by both URL kinds: every byte must be safe inside a quoted AT parameter. */
static gboolean
check_url_chars(const char *url, GError **error)
{
	for (const guchar *p = (const guchar *)url; *p; p++) {
		if (is_control(*p)) {
			g_set_error(error, DFOTA_ERROR, DFOTA_ERROR_INVALID_URL,
			            "URL contains a control character (0x%02x) at offset %u: "
			            "remove it",
			            *p, (guint)(p - (const guchar *)url));
			return FALSE;
		}
		if (*p >= 0x80) {
			g_set_error(error, DFOTA_ERROR, DFOTA_ERROR_INVALID_URL,
			            "URL contains a non-ASCII byte at offset %u: percent-encode it",
			            (guint)(p - (const guchar *)url));
			return FALSE;
		}
		if (*p == ' ') {
			g_set_error(error, DFOTA_ERROR, DFOTA_ERROR_INVALID_URL,
			            "URL contains a space at offset %u: percent-encode it as %%20",
			            (guint)(p - (const guchar *)url));
			return FALSE;
		}
		if (*p == '"') {
			g_set_error(error, DFOTA_ERROR, DFOTA_ERROR_INVALID_URL,
			            "URL contains a double quote at offset %u: percent-encode it "
			            "as %%22",
			            (guint)(p - (const guchar *)url));
			return FALSE;
		}
	}
	return TRUE;
}

/* @rest points just after "scheme://". Checks that a host is present and the port, when
 * given, is 1–65535. The host is not resolved: any name or address passes. */
static gboolean
check_authority(const char *rest, GError **error)
{
	gsize alen = strcspn(rest, "/?#");
	g_autofree char *authority = g_strndup(rest, alen);
	const char *host = strrchr(authority, '@');
	const char *port = NULL;
	gsize host_len;

	host = host ? host + 1 : authority;
	if (host[0] == '[') {
		const char *close = strchr(host, ']');
		if (close == NULL) {
			g_set_error_literal(error, DFOTA_ERROR, DFOTA_ERROR_INVALID_URL,
			                    "URL has an unterminated IPv6 address: add the ']'");
			return FALSE;
		}
		host_len = (gsize)(close - host) - 1;
		if (close[1] == ':')
			port = close + 2;
		else if (close[1] != '\0') {
			g_set_error_literal(error, DFOTA_ERROR, DFOTA_ERROR_INVALID_URL,
			                    "URL has text after the IPv6 address: expected ':port' "
			                    "or '/'");
			return FALSE;
		}
	} else {
		const char *colon = strchr(host, ':');
		host_len = colon ? (gsize)(colon - host) : strlen(host);
		if (colon)
			port = colon + 1;
	}
	if (host_len == 0) {
		g_set_error_literal(error, DFOTA_ERROR, DFOTA_ERROR_INVALID_URL,
		                    "URL has no host: use http://<host>[:<port>]/<path>");
		return FALSE;
	}
	if (port != NULL) {
		guint64 value = 0;
		if (*port == '\0') {
			g_set_error_literal(error, DFOTA_ERROR, DFOTA_ERROR_INVALID_URL,
			                    "URL has an empty port after ':': give a port "
			                    "1-65535 or drop the ':'");
			return FALSE;
		}
		for (const char *p = port; *p; p++) {
			if (!g_ascii_isdigit(*p)) {
				g_set_error(error, DFOTA_ERROR, DFOTA_ERROR_INVALID_URL,
				            "URL port \"%s\" is not a number: give a port 1-65535",
				            port);
				return FALSE;
			}
			value = value * 10 + (guint64)(*p - '0');
			if (value > 65535)
				break;
		}
		if (value < 1 || value > 65535) {
			g_set_error(error, DFOTA_ERROR, DFOTA_ERROR_INVALID_URL,
			            "URL port %s is out of range: give a port 1-65535", port);
			return FALSE;
		}
	}
	return TRUE;
}

static gboolean
validate_url(const char *url, gsize max, gboolean allow_https, GError **error)
{
	const char *rest = NULL;
	gsize len;

	if (url == NULL || *url == '\0') {
		g_set_error_literal(error, DFOTA_ERROR, DFOTA_ERROR_INVALID_URL,
		                    "URL is empty: give http://<host>[:<port>]/<path>");
		return FALSE;
	}
	len = strlen(url);
	if (len > max) {
		g_set_error(error, DFOTA_ERROR, DFOTA_ERROR_INVALID_URL,
		            "URL is %" G_GSIZE_FORMAT " bytes long, more than the %" G_GSIZE_FORMAT
		            " allowed: use a shorter URL",
		            len, max);
		return FALSE;
	}
	if (!check_url_chars(url, error))
		return FALSE;
	if (g_str_has_prefix(url, "http://"))
		rest = url + strlen("http://");
	else if (allow_https && g_str_has_prefix(url, "https://"))
		rest = url + strlen("https://");
	if (rest == NULL) {
		g_set_error_literal(
		        error, DFOTA_ERROR, DFOTA_ERROR_INVALID_URL,
		        allow_https ? "URL must start with http:// or https://"
		                    : "URL must start with http:// (the module cannot download "
		                      "over https; use org.dfotad1.Fota.UpgradeViaHost for "
		                      "https)");
		return FALSE;
	}
	return check_authority(rest, error);
}

gboolean
dfota_validate_module_url(const char *url, GError **error)
{
	return validate_url(url, MODULE_URL_MAX, FALSE, error);
}

gboolean
dfota_validate_host_url(const char *url, GError **error)
{
	return validate_url(url, HOST_URL_MAX, TRUE, error);
}

gboolean
dfota_validate_filename(const char *name, GError **error)
{
	gsize len = name ? strlen(name) : 0;

	if (len == 0) {
		g_set_error_literal(error, DFOTA_ERROR, DFOTA_ERROR_INVALID_FILENAME,
		                    "File name is empty: give 1-58 bytes");
		return FALSE;
	}
	if (len > FILENAME_MAX_BYTES) {
		g_set_error(error, DFOTA_ERROR, DFOTA_ERROR_INVALID_FILENAME,
		            "File name is %" G_GSIZE_FORMAT " bytes long, more than the module's "
		            "%d: use a shorter name",
		            len, FILENAME_MAX_BYTES);
		return FALSE;
	}
	for (const guchar *p = (const guchar *)name; *p; p++) {
		const char *what = NULL;
		if (*p == '/' || *p == '\\')
			what = "a path separator";
		else if (*p == '"')
			what = "a double quote";
		else if (*p == '*' || *p == '?')
			what = "a wildcard (the module's file commands treat it as a pattern)";
		else if (is_control(*p))
			what = "a control character";
		else if (*p >= 0x80)
			what = "a non-ASCII byte";
		if (what) {
			g_set_error(error, DFOTA_ERROR, DFOTA_ERROR_INVALID_FILENAME,
			            "File name contains %s at offset %u: UFS names are plain "
			            "printable ASCII without '/', '\\', '\"', '*' or '?'",
			            what, (guint)(p - (const guchar *)name));
			return FALSE;
		}
	}
	return TRUE;
}

typedef struct {
	const char *prefix; /* upper case, spaces removed */
	const char *why;
} RefusedCommand;

/* Commands that change how the channel frames or parses lines, or that bypass a job. Matched
 * on the command upper-cased with spaces removed, so "at e0" and "AT+qsclk=1" are caught. */
static const RefusedCommand refused_commands[] = {
	{ "ATE", "echo is managed by the daemon (responses already come without echo)" },
	{ "AT+CMEE=", "the error format is managed by the daemon (errors are mapped to "
	              "org.dfotad1.Error.* names)" },
	{ "ATV", "the result code format is managed by the daemon" },
	{ "ATQ", "the result code format is managed by the daemon" },
	{ "ATS3", "line termination characters are managed by the daemon" },
	{ "ATS4", "line termination characters are managed by the daemon" },
	{ "ATS5", "line editing characters are managed by the daemon" },
	{ "AT+IPR", "set the line rate with baud= in dfotad.conf" },
	{ "AT+ICF", "the character framing is managed by the daemon" },
	{ "AT+IFC", "set flow control with flow= in dfotad.conf" },
	{ "AT&", "profile commands change the line settings the daemon relies on" },
	{ "ATZ", "a profile reset changes the line settings the daemon relies on; reboot the "
	         "module with AT+QRST=1 or AT+CFUN=1,1 instead" },
	{ "AT+QSCLK", "sleep mode is managed by the daemon" },
	{ "AT+QFUPL", "use org.dfotad1.Files.Upload" },
	{ "AT+QFDWL", "use org.dfotad1.Files.Download" },
	{ "AT+QFOTADL", "use org.dfotad1.Fota.Upgrade, UpgradeLocal or FetchMcuFile" },
};

gboolean
dfota_validate_command(const char *command, GError **error)
{
	g_autoptr(GString) norm = NULL;
	gboolean in_quotes = FALSE;
	gsize len = command ? strlen(command) : 0;

	if (len < 2 || g_ascii_strncasecmp(command, "AT", 2) != 0) {
		g_set_error_literal(error, DFOTA_ERROR, DFOTA_ERROR_INVALID_COMMAND,
		                    "Command must start with AT");
		return FALSE;
	}
	if (len > COMMAND_MAX) {
		g_set_error(error, DFOTA_ERROR, DFOTA_ERROR_INVALID_COMMAND,
		            "Command is %" G_GSIZE_FORMAT " bytes long, more than the %d allowed",
		            len, COMMAND_MAX);
		return FALSE;
	}
	norm = g_string_sized_new(len);
	for (const guchar *p = (const guchar *)command; *p; p++) {
		if (is_control(*p)) {
			g_set_error(error, DFOTA_ERROR, DFOTA_ERROR_INVALID_COMMAND,
			            "Command contains a control character (0x%02x) at offset %u: "
			            "give one command without CR, LF or Ctrl-Z (the daemon "
			            "adds the CR)",
			            *p, (guint)(p - (const guchar *)command));
			return FALSE;
		}
		if (*p == '"')
			in_quotes = !in_quotes;
		/* "AT+CSQ;+QSCLK=1" would smuggle a refused command past the prefix checks and
		 * split one answer into several; one command per call is the rule. */
		if (*p == ';' && !in_quotes) {
			g_set_error_literal(error, DFOTA_ERROR, DFOTA_ERROR_INVALID_COMMAND,
			                    "Command contains ';': chained commands are refused, "
			                    "send one command per call");
			return FALSE;
		}
		if (*p != ' ')
			g_string_append_c(norm, g_ascii_toupper((char)*p));
	}
	if (g_str_equal(norm->str, "AT+QFOTADL=?"))
		return TRUE;
	for (gsize i = 0; i < G_N_ELEMENTS(refused_commands); i++) {
		if (g_str_has_prefix(norm->str, refused_commands[i].prefix)) {
			g_set_error(error, DFOTA_ERROR, DFOTA_ERROR_INVALID_COMMAND,
			            "Command %s… is refused: %s", refused_commands[i].prefix,
			            refused_commands[i].why);
			return FALSE;
		}
	}
	return TRUE;
}

void
dfota_xor16_init(DfotaXor16 *x)
{
	x->sum = 0;
	x->have_high = FALSE;
	x->high = 0;
}

void
dfota_xor16_update(DfotaXor16 *x, const guint8 *data, gsize len)
{
	gsize i = 0;

	if (len == 0)
		return;
	if (x->have_high) {
		x->sum ^= (guint16)((x->high << 8) | data[0]);
		x->have_high = FALSE;
		i = 1;
	}
	for (; i + 1 < len; i += 2)
		x->sum ^= (guint16)((data[i] << 8) | data[i + 1]);
	if (i < len) {
		x->have_high = TRUE;
		x->high = data[i];
	}
}

guint16
dfota_xor16_finish(const DfotaXor16 *x)
{
	return x->have_high ? (guint16)(x->sum ^ (x->high << 8)) : x->sum;
}

guint16
dfota_xor16(const guint8 *data, gsize len)
{
	DfotaXor16 x;

	dfota_xor16_init(&x);
	dfota_xor16_update(&x, data, len);
	return dfota_xor16_finish(&x);
}
