// SPDX-License-Identifier: LGPL-2.1-or-later
/* dfota-config.c: command line + dfotad.conf → one setup per modem. */
#include "dfota-config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dfota-defaults.h"
#include "dfotad-config.h"

#define DEFAULT_CONFIG DFOTAD_SYSCONFDIR "/dfotad/dfotad.conf"
#define DEFAULT_STATE_DIR DFOTAD_LOCALSTATEDIR "/lib/dfotad"

/* The numeric keys of [daemon] that a [modem NAME] group may override: one row per key with
 * its range and default, so that every such key is range-checked the same way. The ranges
 * hold configuration that can work: a timeout of 0 never can, and neither can a package
 * larger than the module's UFS could ever hold. */
typedef enum {
	TUNABLE_COMMAND_TIMEOUT_MS,
	TUNABLE_DOWNLOAD_TIMEOUT,
	TUNABLE_UPDATE_TIMEOUT,
	TUNABLE_REBOOT_TIMEOUT,
	TUNABLE_UPLOAD_TIMEOUT,
	TUNABLE_FETCH_TIMEOUT,
	TUNABLE_FETCH_DEADLINE,
	TUNABLE_MAX_PACKAGE_SIZE,
	TUNABLE_MAX_QUEUE,
	TUNABLE_IDENTITY_TIMEOUT,
	N_TUNABLES,
} TunableId;

typedef struct {
	const char *key;
	guint64 min, max, def;
} TunableSpec;

static const TunableSpec tunable_specs[N_TUNABLES] = {
	[TUNABLE_COMMAND_TIMEOUT_MS] = { "command-timeout-ms", 10, 600000,
	                                 DFOTA_DEFAULT_COMMAND_TIMEOUT_MS },
	[TUNABLE_DOWNLOAD_TIMEOUT] = { "download-timeout", 1, 86400, 600 },
	[TUNABLE_UPDATE_TIMEOUT] = { "update-timeout", 1, 86400, 600 },
	[TUNABLE_REBOOT_TIMEOUT] = { "reboot-timeout", 1, 86400, 180 },
	[TUNABLE_UPLOAD_TIMEOUT] = { "upload-timeout", 1, 3600, DFOTA_DEFAULT_UPLOAD_TIMEOUT_S },
	[TUNABLE_FETCH_TIMEOUT] = { "fetch-timeout", 1, 3600, 60 },
	[TUNABLE_FETCH_DEADLINE] = { "fetch-deadline", 1, 86400, 1800 },
	[TUNABLE_MAX_PACKAGE_SIZE] = { "max-package-size", 1, DFOTA_CONFIG_MAX_PACKAGE_SIZE,
	                               4194304 },
	[TUNABLE_MAX_QUEUE] = { "max-queue", 1, 100000, 32 },
	[TUNABLE_IDENTITY_TIMEOUT] = { "identity-timeout", 1, 600,
	                               DFOTA_DEFAULT_IDENTITY_TIMEOUT_S },
};

static const char *const overridable_string_keys[] = { "ca-file", NULL };
/* metrics-file is one file for the whole daemon: a [modem] group cannot override it. */
static const char *const daemon_only_keys[] = { "state-dir", "metrics-file", NULL };
static const char *const modem_only_keys[] = { "port", "usb-serial", "usb-vid", "usb-pid",
	                                       "baud", "flow",       NULL };

static const guint valid_bauds[] = { 1200,    2400,    4800,    9600,    19200,  38400,  57600,
	                             115200,  230400,  460800,  500000,  576000, 921600, 1000000,
	                             1152000, 1500000, 2000000, 3000000, 4000000 };

gboolean
dfota_config_baud_is_valid(guint baud)
{
	for (guint i = 0; i < G_N_ELEMENTS(valid_bauds); i++)
		if (valid_bauds[i] == baud)
			return TRUE;
	return FALSE;
}

static gboolean
in_list(const char *key, const char *const *list)
{
	return g_strv_contains(list, key);
}

static gboolean
is_overridable(const char *key)
{
	for (guint i = 0; i < N_TUNABLES; i++)
		if (g_str_equal(tunable_specs[i].key, key))
			return TRUE;
	return in_list(key, overridable_string_keys);
}

/* Reads an unsigned integer key; absent keys leave *out alone. */
static gboolean
get_uint(GKeyFile *kf, const char *file, const char *group, const char *key, guint64 min,
         guint64 max, guint64 *out, GError **error)
{
	g_autofree char *s = g_key_file_get_string(kf, group, key, NULL);
	guint64 v;

	if (!s)
		return TRUE;
	g_strstrip(s);
	if (!g_ascii_string_to_unsigned(s, 10, 0, max, &v, NULL) || v < min) {
		g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
		            "%s: [%s] %s=%s: expected a whole number from %" G_GUINT64_FORMAT
		            " to %" G_GUINT64_FORMAT,
		            file, group, key, s, min, max);
		return FALSE;
	}
	*out = v;
	return TRUE;
}

typedef struct {
	guint64 v[N_TUNABLES];
	char *ca_file;
} Tunables;

static void
tunables_init(Tunables *t)
{
	for (guint i = 0; i < N_TUNABLES; i++)
		t->v[i] = tunable_specs[i].def;
	t->ca_file = NULL;
}

static gboolean
read_tunables(GKeyFile *kf, const char *file, const char *group, Tunables *t, GError **error)
{
	g_autofree char *ca = NULL;

	for (guint i = 0; i < N_TUNABLES; i++) {
		const TunableSpec *spec = &tunable_specs[i];
		if (!get_uint(kf, file, group, spec->key, spec->min, spec->max, &t->v[i], error))
			return FALSE;
	}
	ca = g_key_file_get_string(kf, group, "ca-file", NULL);
	if (ca) {
		g_free(t->ca_file);
		/* Empty: the system's CA bundle, as when the key is absent. */
		t->ca_file = *g_strstrip(ca) ? g_strdup(ca) : NULL;
	}
	return TRUE;
}

static void
apply_tunables(DfotaModemSetup *m, const Tunables *t, const char *state_dir)
{
	m->modem.command_timeout_ms = (guint)t->v[TUNABLE_COMMAND_TIMEOUT_MS];
	m->modem.max_queue = (guint)t->v[TUNABLE_MAX_QUEUE];
	m->modem.data_phase_timeout_s = (guint)t->v[TUNABLE_UPLOAD_TIMEOUT];
	m->modem.identity_timeout_s = (guint)t->v[TUNABLE_IDENTITY_TIMEOUT];
	m->fota.state_dir = g_strdup(state_dir);
	m->fota.download_timeout_s = (guint)t->v[TUNABLE_DOWNLOAD_TIMEOUT];
	m->fota.update_timeout_s = (guint)t->v[TUNABLE_UPDATE_TIMEOUT];
	m->fota.reboot_timeout_s = (guint)t->v[TUNABLE_REBOOT_TIMEOUT];
	m->fota.upload_timeout_s = (guint)t->v[TUNABLE_UPLOAD_TIMEOUT];
	m->fota.fetch_timeout_s = (guint)t->v[TUNABLE_FETCH_TIMEOUT];
	m->fota.fetch_deadline_s = (guint)t->v[TUNABLE_FETCH_DEADLINE];
	m->fota.max_package_size = t->v[TUNABLE_MAX_PACKAGE_SIZE];
	m->fota.ca_file = g_strdup(t->ca_file);
}

static void
setup_free(DfotaModemSetup *m)
{
	dfota_modem_config_clear(&m->modem);
	dfota_fota_config_clear(&m->fota);
	g_free(m);
}

static gboolean
parse_modem_group(GKeyFile *kf, const char *file, const char *group, const Tunables *defaults,
                  const char *state_dir, DfotaConfig *cfg, GError **error)
{
	g_autoptr(GError) local = NULL;
	DfotaModemSetup *m;
	Tunables t = *defaults;
	g_autofree char *flow = NULL;
	guint64 baud = 115200, vid = 0, pid = 0;
	gboolean ok = FALSE;

	t.ca_file = g_strdup(defaults->ca_file);
	m = g_new0(DfotaModemSetup, 1);
	m->modem.name = g_strdup(group + strlen("modem "));
	g_strstrip(m->modem.name);
	if (!*m->modem.name) {
		g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_GROUP_NOT_FOUND,
		            "%s: [modem] needs a name: [modem NAME]", file);
		goto out;
	}
	m->modem.port = g_key_file_get_string(kf, group, "port", NULL);
	m->modem.usb_serial = g_key_file_get_string(kf, group, "usb-serial", NULL);
	if (!m->modem.port && !m->modem.usb_serial &&
	    !g_key_file_has_key(kf, group, "usb-vid", NULL)) {
		g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_KEY_NOT_FOUND,
		            "%s: [%s] needs port= or usb-serial= (or usb-vid=/usb-pid=)", file,
		            group);
		goto out;
	}
	if (!get_uint(kf, file, group, "baud", 1, 4000000, &baud, error))
		goto out;
	if (!dfota_config_baud_is_valid((guint)baud)) {
		g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
		            "%s: [%s] baud=%" G_GUINT64_FORMAT " is not a rate the serial port can "
		            "use (e.g. 9600, 115200, 921600)",
		            file, group, baud);
		goto out;
	}
	m->modem.baud = (guint)baud;
	flow = g_key_file_get_string(kf, group, "flow", NULL);
	if (flow && !g_str_equal(g_strstrip(flow), "none") && !g_str_equal(flow, "rtscts")) {
		g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
		            "%s: [%s] flow=%s: expected none or rtscts", file, group, flow);
		goto out;
	}
	m->modem.rtscts = flow && g_str_equal(flow, "rtscts");
	for (guint i = 0; i < 2; i++) {
		const char *key = i ? "usb-pid" : "usb-vid";
		g_autofree char *s = g_key_file_get_string(kf, group, key, NULL);
		guint64 *out = i ? &pid : &vid;
		if (s && !g_ascii_string_to_unsigned(g_strstrip(s), 16, 0, 0xffff, out, NULL)) {
			g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
			            "%s: [%s] %s=%s: expected 4 hex digits", file, group, key, s);
			goto out;
		}
	}
	m->modem.usb_vid = (guint16)vid;
	m->modem.usb_pid = (guint16)pid;
	if (!read_tunables(kf, file, group, &t, error))
		goto out;
	apply_tunables(m, &t, state_dir);
	g_ptr_array_add(cfg->modems, m);
	m = NULL;
	ok = TRUE;
out:
	g_free(t.ca_file);
	if (m)
		setup_free(m);
	return ok;
}

/* Empty means no metrics; otherwise an absolute path whose directory is the textfile
 * collector's (the directory may be missing now: that is a warning at write time). */
static gboolean
read_metrics_file(GKeyFile *kf, const char *file, DfotaConfig *cfg, GError **error)
{
	g_autofree char *path = g_key_file_get_string(kf, "daemon", "metrics-file", NULL);

	if (!path || !*g_strstrip(path))
		return TRUE;
	if (!g_path_is_absolute(path) || g_str_has_suffix(path, "/")) {
		g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
		            "%s: [daemon] metrics-file=%s: expected an absolute file path such as "
		            "/var/lib/prometheus/node-exporter/dfotad.prom, or nothing",
		            file, path);
		return FALSE;
	}
	cfg->metrics_file = g_steal_pointer(&path);
	return TRUE;
}

static gboolean
check_keys(GKeyFile *kf, const char *file, const char *group, gboolean is_modem, GError **error)
{
	g_auto(GStrv) keys = g_key_file_get_keys(kf, group, NULL, NULL);

	for (guint i = 0; keys && keys[i]; i++) {
		const char *k = keys[i];
		gboolean known = is_overridable(k) || (is_modem ? in_list(k, modem_only_keys)
		                                                : in_list(k, daemon_only_keys));
		if (!known && is_modem && in_list(k, daemon_only_keys)) {
			g_set_error(
			        error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
			        "%s: \"%s\" in [%s] is daemon-wide and cannot be set per modem: "
			        "move it to [daemon] (see dfotad.conf(5))",
			        file, k, group);
			return FALSE;
		}
		if (!known) {
			g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_KEY_NOT_FOUND,
			            "%s: unknown key \"%s\" in [%s] (see dfotad.conf(5))", file, k,
			            group);
			return FALSE;
		}
	}
	return TRUE;
}

gboolean
dfota_config_load(DfotaConfig *cfg, const DfotaConfigArgs *args, GError **error)
{
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autoptr(GError) local = NULL;
	const char *file = args->config_file ? args->config_file : DEFAULT_CONFIG;
	g_auto(GStrv) groups = NULL;
	Tunables t;
	g_autofree char *state_dir = NULL;
	gboolean ok = FALSE;

	memset(cfg, 0, sizeof(*cfg));
	tunables_init(&t);
	cfg->modems = g_ptr_array_new_with_free_func((GDestroyNotify)setup_free);

	if (!g_key_file_load_from_file(kf, file, G_KEY_FILE_NONE, &local)) {
		if (args->config_file ||
		    !g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
			g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_PARSE, "%s: %s", file,
			            local->message);
			goto out;
		}
	}
	groups = g_key_file_get_groups(kf, NULL);
	for (guint i = 0; groups[i]; i++) {
		if (!g_str_equal(groups[i], "daemon") && !g_str_has_prefix(groups[i], "modem ") &&
		    !g_str_equal(groups[i], "modem")) {
			g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_GROUP_NOT_FOUND,
			            "%s: unknown group [%s]; expected [daemon] or [modem NAME]",
			            file, groups[i]);
			goto out;
		}
		if (!check_keys(kf, file, groups[i], !g_str_equal(groups[i], "daemon"), error))
			goto out;
	}
	if (g_key_file_has_group(kf, "daemon")) {
		if (!read_tunables(kf, file, "daemon", &t, error))
			goto out;
		state_dir = g_key_file_get_string(kf, "daemon", "state-dir", NULL);
		/* Checked even when --state-dir overrides it: the file must work on its own. */
		if (state_dir && !g_path_is_absolute(g_strstrip(state_dir))) {
			g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
			            "%s: [daemon] state-dir=%s: expected an absolute path (the "
			            "directory for the job records; default %s)",
			            file, state_dir, DEFAULT_STATE_DIR);
			goto out;
		}
		if (!read_metrics_file(kf, file, cfg, error))
			goto out;
	}
	if (args->state_dir) {
		g_free(state_dir);
		if (!*args->state_dir) {
			/* "" would put the job records in whatever the working directory is. */
			g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
			            "--state-dir is empty: give the directory for the job records "
			            "(default %s)",
			            DEFAULT_STATE_DIR);
			goto out;
		}
		/* Relative to where the daemon was started. */
		state_dir = g_canonicalize_filename(args->state_dir, NULL);
	} else if (!state_dir) {
		state_dir = args->session ? g_build_filename(g_get_user_state_dir(), "dfotad", NULL)
		                          : g_strdup(DEFAULT_STATE_DIR);
	}
	cfg->state_dir = g_strdup(state_dir);

	if (args->port) {
		DfotaModemSetup *m = g_new0(DfotaModemSetup, 1);
		guint baud = args->baud ? args->baud : 115200;

		if (!dfota_config_baud_is_valid(baud)) {
			g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
			            "--baud %u is not a rate the serial port can use (e.g. 9600, "
			            "115200, 921600)",
			            baud);
			setup_free(m);
			goto out;
		}
		m->modem.name = g_strdup("0");
		m->modem.port = g_strdup(args->port);
		m->modem.baud = baud;
		apply_tunables(m, &t, state_dir);
		g_ptr_array_add(cfg->modems, m);
	} else if (args->baud) {
		g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
		            "--baud needs --port (in a config file, use baud= in [modem NAME])");
		goto out;
	}
	for (guint i = 0; groups[i]; i++) {
		if (g_str_equal(groups[i], "daemon"))
			continue;
		if (!parse_modem_group(kf, file, groups[i], &t, state_dir, cfg, error))
			goto out;
	}
	if (cfg->modems->len == 0) {
		g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_GROUP_NOT_FOUND,
		            "No modem configured: give --port PATH or a [modem NAME] group with "
		            "port= in %s",
		            file);
		goto out;
	}
	ok = TRUE;
out:
	g_free(t.ca_file);
	if (!ok)
		dfota_config_clear(cfg);
	return ok;
}

void
dfota_config_clear(DfotaConfig *cfg)
{
	g_clear_pointer(&cfg->state_dir, g_free);
	g_clear_pointer(&cfg->metrics_file, g_free);
	g_clear_pointer(&cfg->modems, g_ptr_array_unref);
}
