// SPDX-License-Identifier: LGPL-2.1-or-later
/* AT+QFOTADL: the three modes of the seed (3.1 URL, 3.2 local, 3.3 MCU file), their URCs in
 * the clean or the seed's own spelling, error injection, power cuts and forced-upgrade resume.
 */
#include "sim.h"

#include <string.h>
#include <curl/curl.h>

#define STEP_MS 200.0
#define MAX_URL 511
#define MAX_NAME 58

struct _SimFota {
	SimPhase phase;
	int mode; /* 0: URL upgrade, 1: local upgrade, 2: MCU file download */
	gboolean forced;
	char *filename;
	SimHttp *http;
	gboolean dl_done;
	SimHttpResult res;
	GBytes *package; /* what UPDATING applies; survives a power cut while updating */
	int next_pct;
	guint timer;
	SimInject inject;
	int inject_code;
	guint jobs;       /* alternates the seed's two misspellings of HTTPEND */
	char *url;        /* modes 0 and 2, while the job waits for "release" */
	gboolean waiting; /* accepted, held by "hold start|ok" until "release" */
};

static SimFota *
fota_get(Sim *sim)
{
	if (sim->fota == NULL)
		sim->fota = g_new0(SimFota, 1);
	return sim->fota;
}

SimPhase
sim_fota_phase(Sim *sim)
{
	return sim->fota ? sim->fota->phase : SIM_PHASE_NONE;
}

static void
urc(Sim *sim, const char *what, int value, gboolean percent)
{
	const char *sep = sim->seed_spelling ? ", " : ",";

	if (value < 0)
		sim_send_line(sim, "+QIND: \"FOTA\"%s\"%s\"", sep, what);
	else
		sim_send_line(sim, "+QIND: \"FOTA\"%s\"%s\"%s%d%s", sep, what, sep, value,
		              percent ? "%" : "");
}

static void
urc_httpend(Sim *sim, int code)
{
	SimFota *f = fota_get(sim);

	if (!sim->seed_spelling)
		urc(sim, "HTTPEND", code, FALSE);
	else
		urc(sim, f->jobs % 2 ? "HTTTPEND" : "HTTPPEND", code, FALSE);
}

static void
job_reset(SimFota *f)
{
	g_clear_handle_id(&f->timer, g_source_remove);
	if (f->http) {
		sim_http_cancel(f->http);
		f->http = NULL;
	}
	g_clear_pointer(&f->res.body, g_bytes_unref);
	g_clear_pointer(&f->filename, g_free);
	g_clear_pointer(&f->url, g_free);
	f->waiting = FALSE;
	f->dl_done = FALSE;
	f->phase = SIM_PHASE_NONE;
	f->forced = FALSE;
	f->inject = SIM_INJECT_NONE;
}

void
sim_fota_free(Sim *sim)
{
	if (sim->fota == NULL)
		return;
	job_reset(sim->fota);
	g_clear_pointer(&sim->fota->package, g_bytes_unref);
	g_clear_pointer(&sim->fota, g_free);
}

void
sim_fota_cancel(Sim *sim)
{
	SimFota *f = sim->fota;

	if (f == NULL || f->phase == SIM_PHASE_NONE)
		return;
	if (f->waiting) {
		/* held by "hold": the job never began, and its held OK goes before the restart */
		sim_release_output(sim);
		job_reset(f);
		return;
	}
	/* Losing power while UPDATING leaves the new image half written: the module finishes
	 * the update on its next boot (seed 3.1 note). A download is simply lost. */
	if (f->phase == SIM_PHASE_UPDATING)
		sim->forced_upgrade_pending = TRUE;
	else
		g_clear_pointer(&f->package, g_bytes_unref);
	job_reset(f);
}

/* TRUE when a configured power cut fired (the job is gone then). */
static gboolean
maybe_power_cut(Sim *sim, SimPhase phase, int pct)
{
	if (sim->cut_phase != phase || pct < sim->cut_pct)
		return FALSE;
	sim->cut_phase = SIM_PHASE_NONE;
	sim_reboot(sim, TRUE);
	return TRUE;
}

static guint
step_ms(Sim *sim)
{
	return (guint)sim_scaled_ms(sim, STEP_MS);
}

static gboolean update_tick(gpointer data);
static void job_go(Sim *sim);

static void
begin_update(Sim *sim)
{
	SimFota *f = fota_get(sim);
	gsize len = 0;
	const guint8 *bytes = f->package ? g_bytes_get_data(f->package, &len) : NULL;

	f->phase = SIM_PHASE_UPDATING;
	if (sim->field & SIM_FIELD_UNKNOWN_STATES)
		urc(sim, "RESTORE", -1, FALSE);
	if (!(sim->field & SIM_FIELD_NO_START))
		urc(sim, "START", -1, FALSE);
	if (sim->cut_phase == SIM_PHASE_AT_START) {
		sim->cut_phase = SIM_PHASE_NONE;
		sim_reboot(sim, TRUE);
		return;
	}
	if (!f->forced && (bytes == NULL || !sim_package_parse(bytes, len, NULL))) {
		urc(sim, "END", 6507, FALSE);
		g_clear_pointer(&f->package, g_bytes_unref);
		job_reset(f);
		return;
	}
	f->next_pct = 0;
	f->timer = g_timeout_add(step_ms(sim), update_tick, sim);
}

static void
finish_update(Sim *sim)
{
	SimFota *f = fota_get(sim);
	SimPackage pkg = { 0 };
	gsize len = 0;
	const guint8 *bytes = g_bytes_get_data(f->package, &len);
	int code = 0;

	if (!sim_package_parse(bytes, len, &pkg))
		code = 6507;
	else if (f->inject == SIM_INJECT_END)
		code = f->inject_code;
	else if (g_ascii_strcasecmp(pkg.model, sim->model) != 0 ||
	         strcmp(pkg.from, sim->revision) != 0)
		code = 6508;
	/* Field modules reboot straight after UPDATING 100: their END never reaches the host. */
	if (code != 0 || !(sim->field & SIM_FIELD_NO_END))
		urc(sim, "END", code, FALSE);
	g_clear_pointer(&f->package, g_bytes_unref);
	job_reset(f);
	if (code == 0) {
		gboolean cut = sim->cut_phase == SIM_PHASE_AT_END;

		g_free(sim->revision);
		sim->revision = g_strdup(pkg.to);
		if (cut)
			sim->cut_phase = SIM_PHASE_NONE;
		sim_reboot(sim, cut);
	}
	sim_package_clear(&pkg);
}

static gboolean
update_tick(gpointer data)
{
	Sim *sim = data;
	SimFota *f = fota_get(sim);
	int pct = f->next_pct;

	if (pct > 100) {
		f->timer = 0;
		finish_update(sim);
		return G_SOURCE_REMOVE;
	}
	/* the seed's forced-upgrade note spells the percentage with '%' */
	urc(sim, "UPDATING", pct, f->forced || sim->seed_spelling);
	f->next_pct += 10;
	if (maybe_power_cut(sim, SIM_PHASE_UPDATING, pct))
		return G_SOURCE_REMOVE; /* the cut already removed this source's id */
	return G_SOURCE_CONTINUE;
}

void
sim_fota_forced_upgrade(Sim *sim)
{
	SimFota *f = fota_get(sim);

	sim->forced_upgrade_pending = FALSE;
	if (f->package == NULL)
		return;
	job_reset(f);
	f->forced = TRUE;
	begin_update(sim);
}

static int
download_result(Sim *sim)
{
	SimFota *f = fota_get(sim);
	gsize len = 0;
	const guint8 *bytes = f->res.body ? g_bytes_get_data(f->res.body, &len) : NULL;

	if (f->inject == SIM_INJECT_HTTPEND)
		return f->inject_code;
	if (f->res.too_large)
		return f->mode == 2 ? 6505 : 6502;
	if (f->res.http_status == 404)
		return 6504;
	if (f->res.curl_code != CURLE_OK || f->res.http_status >= 300 || f->res.http_status < 200)
		return 6503;
	if (f->mode == 2) {
		SimFile *old = sim_ufs_find(sim, f->filename);
		gsize room = sim_ufs_free(sim) + (old ? g_bytes_get_size(old->data) : 0);

		if (len > room || !sim_ufs_store(sim, f->filename, f->res.body))
			return 6505;
		return 0;
	}
	if (len > sim->max_package)
		return 6502;
	if (!sim_package_parse(bytes, len, NULL))
		return 6507;
	return 0;
}

static gboolean
download_tick(gpointer data)
{
	Sim *sim = data;
	SimFota *f = fota_get(sim);
	gboolean ok = f->dl_done && f->res.curl_code == CURLE_OK && !f->res.too_large;
	int have = f->http ? sim_http_percent(f->http) : (ok ? 100 : -1);
	int pct = f->next_pct;
	int code;

	if (sim->radio_off) {
		/* AT+CFUN=0 during a download: the module gives up with a socket error. */
		f->timer = 0;
		urc_httpend(sim, 702);
		job_reset(f);
		return G_SOURCE_REMOVE;
	}
	if (pct <= 100 && (!f->dl_done || ok) && (pct == 0 || have >= pct || ok)) {
		if (!(sim->field & (SIM_FIELD_NO_DOWNLOADING | SIM_FIELD_LOST_DOWNLOAD)))
			urc(sim, "DOWNLOADING", pct, sim->seed_spelling);
		f->next_pct += 10;
		if (maybe_power_cut(sim, SIM_PHASE_DOWNLOADING, pct))
			return G_SOURCE_REMOVE;
		return G_SOURCE_CONTINUE;
	}
	if (!f->dl_done)
		return G_SOURCE_CONTINUE;
	f->timer = 0;
	code = download_result(sim);
	if (sim->field & SIM_FIELD_LOST_DOWNLOAD) {
		/* The module gives up without a word: only the host's download timeout tells. */
		job_reset(f);
		return G_SOURCE_REMOVE;
	}
	urc_httpend(sim, code);
	if (code != 0 || f->mode == 2) {
		job_reset(f);
		return G_SOURCE_REMOVE;
	}
	g_clear_pointer(&f->package, g_bytes_unref);
	f->package = g_bytes_ref(f->res.body);
	begin_update(sim);
	return G_SOURCE_REMOVE;
}

static void
on_http_done(SimHttpResult *res, gpointer user_data)
{
	Sim *sim = user_data;
	SimFota *f = fota_get(sim);

	f->res.http_status = res->http_status;
	f->res.curl_code = res->curl_code;
	f->res.too_large = res->too_large;
	f->res.body = res->body ? g_bytes_ref(res->body) : NULL;
	f->dl_done = TRUE;
	sim_http_cancel(f->http); /* drops our reference; the transfer is over anyway */
	f->http = NULL;
}

/* The file name a downloaded MCU file is stored under (seed 3.3 note). */
static char *
mcu_name(const char *url, const char *given)
{
	const char *path;
	const char *slash;
	g_autofree char *name = NULL;
	const char *p;

	if (given)
		return g_strdup(given);
	path = url + strlen("http://");
	path += strcspn(path, "/");
	name = g_strndup(path, strcspn(path, "?#"));
	g_assert_nonnull(
	        name); /* g_strndup returns NULL only for NULL, which the analyzer misses */
	slash = strrchr(name, '/');
	p = slash ? slash + 1 : name;
	if (*p == '\0' || strlen(p) > MAX_NAME ||
	    strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") !=
	            strlen(p))
		return g_strdup("mcu_update.bin");
	return g_strdup(p);
}

void
sim_fota_command(Sim *sim, const char *tail)
{
	SimFota *f = fota_get(sim);
	g_auto(GStrv) args = NULL;
	gboolean ok = FALSE;
	const char *url = NULL;
	SimInject inject = sim->inject_kind;
	int inject_code = sim->inject_code;
	guint nargs;

	if (strcmp(tail, "=?") == 0) {
		sim_send_line(sim, "OK");
		return;
	}
	if (tail[0] != '=' || (args = sim_at_split_args(tail + 1, &ok)) == NULL || !ok ||
	    (nargs = g_strv_length(args)) == 0) {
		sim_send_error(sim, 6501);
		return;
	}
	if (f->phase != SIM_PHASE_NONE) {
		sim_send_error(sim, 6500);
		return;
	}
	if (strcmp(args[0], "1") == 0)
		f->mode = 1;
	else if (strcmp(args[0], "2") == 0)
		f->mode = 2;
	else
		f->mode = 0;
	if ((f->mode == 1 && nargs != 1) || (f->mode == 0 && nargs != 1) ||
	    (f->mode == 2 && (nargs < 2 || nargs > 3))) {
		sim_send_error(sim, 6501);
		return;
	}
	/* one-shot: whatever this command does, the injected error is used up */
	sim->inject_kind = SIM_INJECT_NONE;
	if (f->mode == 1 && inject == SIM_INJECT_HTTPEND)
		inject = SIM_INJECT_SYNC;
	if (f->mode != 1) {
		url = f->mode == 0 ? args[0] : args[1];
		if (g_ascii_strncasecmp(url, "http://", 7) != 0 || strlen(url) > MAX_URL ||
		    (f->mode == 2 && nargs == 3 && strlen(args[2]) > MAX_NAME)) {
			sim_send_error(sim, 6501);
			return;
		}
		if (!sim_ip_up(sim)) {
			sim_send_error(sim, 6503);
			return;
		}
	} else if (sim_ufs_find(sim, "fota.pack") == NULL) {
		sim_send_error(sim, 6506);
		return;
	}
	if (inject == SIM_INJECT_SYNC) {
		sim_send_error(sim, inject_code);
		return;
	}
	job_reset(f);
	f->inject = inject;
	f->inject_code = inject_code;
	f->jobs++;
	if (sim->hold_fota == SIM_HOLD_OK) {
		/* The OK, and all the module says after it, waits for "release". */
		sim_hold_output(sim, 24 * 3600 * 1000);
	}
	sim_send_line(sim, "OK");
	if (f->mode == 1) {
		g_clear_pointer(&f->package, g_bytes_unref);
		f->package = g_bytes_ref(sim_ufs_find(sim, "fota.pack")->data);
	} else {
		f->filename = f->mode == 2 ? mcu_name(url, nargs == 3 ? args[2] : NULL) : NULL;
		f->url = g_strdup(url);
	}
	if (sim->hold_fota != SIM_HOLD_NONE) {
		sim->hold_fota = SIM_HOLD_NONE;
		f->waiting = TRUE;
		f->phase = f->mode == 1 ? SIM_PHASE_UPDATING : SIM_PHASE_DOWNLOADING;
		sim_log(sim, "> (AT+QFOTADL accepted; the job waits for \"release\")");
		return;
	}
	job_go(sim);
}

/* The accepted job sets off: the update of fota.pack, or the download. */
static void
job_go(Sim *sim)
{
	SimFota *f = fota_get(sim);

	if (f->mode == 1) {
		begin_update(sim);
		return;
	}
	f->phase = SIM_PHASE_DOWNLOADING;
	f->next_pct = 0;
	urc(sim, "HTTPSTART", -1, FALSE);
	if (sim->field & SIM_FIELD_UNKNOWN_STATES) {
		urc(sim, "DOWNLOAD START", -1, FALSE);
		urc(sim, "FTPSTART", -1, FALSE);
		urc(sim, "FTPEND", 0, FALSE);
	}
	f->http = sim_http_start(f->url, f->mode == 2 ? sim->ufs_size : sim->max_package,
	                         sim_scaled_ms(sim, 30000) / 1000.0, on_http_done, sim);
	f->timer = g_timeout_add(step_ms(sim), download_tick, sim);
}

void
sim_fota_release(Sim *sim)
{
	SimFota *f = sim->fota;

	sim_release_output(sim);
	sim->hold_fota = SIM_HOLD_NONE;
	if (f == NULL || !f->waiting)
		return;
	f->waiting = FALSE;
	sim_log(sim, "> (release: the job sets off)");
	job_go(sim);
}
