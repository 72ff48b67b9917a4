// SPDX-License-Identifier: LGPL-2.1-or-later
/* bridge-config.c: reads and checks hawkbit.conf. */
#include "bridge-config.h"

#include <stdarg.h>
#include <string.h>

static const char *const known_keys[] = { "server",       "tenant",        "controller-id",
	                                  "target-token", "gateway-token", "modem",
	                                  "download",     "ca-file",       NULL };

void
bridge_config_free(BridgeConfig *c)
{
	if (c == NULL)
		return;
	g_free(c->server);
	g_free(c->tenant);
	g_free(c->controller_id);
	g_free(c->target_token);
	g_free(c->gateway_token);
	g_free(c->ca_file);
	g_free(c);
}

static gboolean G_GNUC_PRINTF(3, 4) fail(GError **error, const char *path, const char *fmt, ...)
{
	g_autofree char *msg = NULL;
	va_list ap;

	va_start(ap, fmt);
	msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);

	g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE, "%s: %s", path, msg);
	return FALSE;
}

static char *
get_string(GKeyFile *kf, const char *key)
{
	g_autofree char *v = g_key_file_get_string(kf, "client", key, NULL);

	if (v == NULL)
		return NULL;
	g_strstrip(v);
	return *v != '\0' ? g_steal_pointer(&v) : NULL;
}

static gboolean
check_text(const char *value)
{
	for (const char *p = value; p != NULL && *p != '\0'; p++)
		if ((guchar)*p < 0x20 || *p == 0x7f)
			return FALSE;
	return TRUE;
}

BridgeConfig *
bridge_config_load(const char *path, GError **error)
{
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autoptr(BridgeConfig) c = g_new0(BridgeConfig, 1);
	g_auto(GStrv) groups = NULL;
	g_auto(GStrv) keys = NULL;
	g_autofree char *modem = NULL;
	g_autofree char *download = NULL;
	guint64 index = 0;

	if (!g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, error)) {
		g_prefix_error(error, "%s: ", path);
		return NULL;
	}
	groups = g_key_file_get_groups(kf, NULL);
	for (guint i = 0; groups[i] != NULL; i++)
		if (strcmp(groups[i], "client") != 0 &&
		    !fail(error, path, "unknown group [%s]; only [client] is read", groups[i]))
			return NULL;
	keys = g_key_file_get_keys(kf, "client", NULL, NULL);
	for (guint i = 0; keys != NULL && keys[i] != NULL; i++)
		if (!g_strv_contains(known_keys, keys[i]) &&
		    !fail(error, path, "unknown key \"%s\" in [client]", keys[i]))
			return NULL;

	c->server = get_string(kf, "server");
	if (c->server == NULL)
		return fail(error, path, "%s is required in [client]", "server"), NULL;
	if ((!g_str_has_prefix(c->server, "http://") && !g_str_has_prefix(c->server, "https://")) ||
	    !check_text(c->server) || strchr(c->server, ' ') != NULL)
		return fail(error, path, "server \"%s\" is not an http:// or https:// URL",
		            c->server),
		       NULL;
	while (g_str_has_suffix(c->server, "/"))
		c->server[strlen(c->server) - 1] = '\0';
	c->controller_id = get_string(kf, "controller-id");
	if (c->controller_id == NULL)
		return fail(error, path, "%s is required in [client]", "controller-id"), NULL;
	c->tenant = get_string(kf, "tenant");
	if (c->tenant == NULL)
		c->tenant = g_strdup("DEFAULT");
	for (const char *p = c->controller_id; *p != '\0'; p++)
		if (*p == '/' || *p == '?' || *p == '#' || *p == '%' || (guchar)*p <= 0x20 ||
		    (guchar)*p >= 0x7f)
			return fail(error, path,
			            "controller-id \"%s\" has a character not allowed in a "
			            "URL path",
			            c->controller_id),
			       NULL;
	for (const char *p = c->tenant; *p != '\0'; p++)
		if (*p == '/' || *p == '?' || *p == '#' || *p == '%' || (guchar)*p <= 0x20 ||
		    (guchar)*p >= 0x7f)
			return fail(error, path,
			            "tenant \"%s\" has a character not allowed in a URL path",
			            c->tenant),
			       NULL;
	c->target_token = get_string(kf, "target-token");
	c->gateway_token = get_string(kf, "gateway-token");
	if (c->target_token != NULL && c->gateway_token != NULL)
		return fail(error, path, "set target-token or gateway-token, not both"), NULL;
	if (!check_text(c->target_token) || !check_text(c->gateway_token))
		return fail(error, path, "%s has a control character", "the token"), NULL;
	modem = get_string(kf, "modem");
	if (modem != NULL && !g_ascii_string_to_unsigned(modem, 10, 0, G_MAXINT32, &index, NULL))
		return fail(error, path, "modem \"%s\" is not a modem index (0, 1, ...)", modem),
		       NULL;
	c->modem = (guint)index;
	download = get_string(kf, "download");
	if (download != NULL && strcmp(download, "module") == 0)
		c->download_module = TRUE;
	else if (download != NULL && strcmp(download, "host") != 0)
		return fail(error, path, "download \"%s\" is neither host nor module", download),
		       NULL;
	c->ca_file = get_string(kf, "ca-file");
	return g_steal_pointer(&c);
}
