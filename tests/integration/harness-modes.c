// SPDX-License-Identifier: LGPL-2.1-or-later
/* harness-modes.c: helpers shared by the tests of the seed modes and the file system; see
 * harness-modes.h. */
#include "harness-modes.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gunixfdlist.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#define CALL_MS 60000
#define START_MS 20000
#define STOP_MS 5000

/* ---- what the simulator received ---- */

static const char *const baseline_prefixes[] = { "ATE0",       "AT+CMEE=1", "ATI",
	                                         "AT+CGSN",    "AT+CESQ",   "AT+COPS?",
	                                         "AT+CGPADDR", "AT+CGACT?", "AT+CEREG?",
	                                         "AT+QSCLK",   NULL };

static gboolean
has_any_prefix(const char *line, const char *const *prefixes)
{
	for (guint i = 0; prefixes != NULL && prefixes[i] != NULL; i++) {
		if (g_str_has_prefix(line, prefixes[i]))
			return TRUE;
	}
	return FALSE;
}

void
hm_assert_lines_only(GPtrArray *lines, guint from, const char *const *allowed, const char *who)
{
	for (guint i = from; i < lines->len; i++) {
		const char *line = lines->pdata[i];

		if (strcmp(line, "AT") == 0 || has_any_prefix(line, baseline_prefixes) ||
		    has_any_prefix(line, allowed))
			continue;
		g_error("unexpected line on %s's tty (line %u): \"%s\"", who, i, line);
	}
}

void
hm_assert_tty_only(Harness *h, guint from, const char *const *allowed)
{
	g_autoptr(GPtrArray) lines = harness_tty_lines(h);

	hm_assert_lines_only(lines, from, allowed, "the simulator");
}

guint
hm_count_lines(GPtrArray *lines, guint from, const char *prefix)
{
	guint n = 0;

	for (guint i = from; i < lines->len; i++) {
		if (g_str_has_prefix(lines->pdata[i], prefix))
			n++;
	}
	return n;
}

guint
hm_count_tty(Harness *h, guint from, const char *prefix)
{
	g_autoptr(GPtrArray) lines = harness_tty_lines(h);

	return hm_count_lines(lines, from, prefix);
}

/* ---- waiting ---- */

static gboolean
on_deadline(gpointer data)
{
	*(gboolean *)data = TRUE;
	return G_SOURCE_REMOVE;
}

static gboolean
on_recheck(gpointer data)
{
	return G_SOURCE_CONTINUE;
}

gboolean
hm_wait_cond(gboolean (*cond)(gpointer), gpointer data, guint timeout_ms)
{
	gboolean expired = FALSE;
	guint deadline = g_timeout_add(timeout_ms, on_deadline, &expired);
	guint tick = g_timeout_add(100, on_recheck, NULL);
	gboolean ok;

	while (!(ok = cond(data)) && !expired)
		g_main_context_iteration(NULL, TRUE);
	if (!expired)
		g_source_remove(deadline);
	g_source_remove(tick);
	return ok;
}

/* ---- directories and helper processes ---- */

HmDir *
hm_dir_new(void)
{
	HmDir *d = g_new0(HmDir, 1);
	g_autoptr(GError) error = NULL;

	d->path = g_dir_make_tmp("dfotad-modes-XXXXXX", &error);
	g_assert_no_error(error);
	return d;
}

void
hm_dir_free(HmDir *d)
{
	if (d == NULL)
		return;
	if (g_test_failed() || g_getenv("DFOTA_TEST_KEEP") != NULL) {
		g_printerr("kept %s\n", d->path);
	} else {
		g_autofree char *rm = g_find_program_in_path("rm");
		const char *argv[] = { rm, "-rf", "--", d->path, NULL };

		g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, NULL, NULL,
		             NULL, NULL);
	}
	g_free(d->path);
	g_free(d);
}

char *
hm_dir_file(HmDir *d, const char *name)
{
	return g_build_filename(d->path, name, NULL);
}

struct _HmAux {
	GSubprocess *proc;
	char *out;
	char *ready_file;
	const char *ready_text;
};

/* Runs in the child between fork and exec. */
static void
child_setup(gpointer data)
{
	prctl(PR_SET_PDEATHSIG, SIGTERM);
}

static gboolean
aux_exited(gpointer data)
{
	/* The identifier (the PID) is cleared once GLib has reaped the child. */
	return g_subprocess_get_identifier(((HmAux *)data)->proc) == NULL;
}

static gboolean
aux_ready(gpointer data)
{
	HmAux *a = data;
	g_autofree char *contents = NULL;

	if (aux_exited(a))
		return TRUE;
	if (!g_file_get_contents(a->ready_file, &contents, NULL, NULL))
		return FALSE;
	return strstr(contents, a->ready_text) != NULL;
}

static void
on_aux_exit(GObject *source, GAsyncResult *res, gpointer data)
{
	/* Being dispatched woke the main context: waiters re-check whether it is alive. */
	g_subprocess_wait_finish(G_SUBPROCESS(source), res, NULL);
}

HmAux *
hm_aux_start(const char *const *argv, const char *out, const char *ready_file,
             const char *ready_text)
{
	HmAux *a = g_new0(HmAux, 1);
	g_autoptr(GSubprocessLauncher) launcher =
	        g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDERR_MERGE);
	g_autoptr(GError) error = NULL;
	g_autofree char *cmdline = g_strjoinv(" ", (char **)argv);

	a->out = g_strdup(out);
	a->ready_file = g_strdup(ready_file);
	a->ready_text = ready_text;
	g_subprocess_launcher_set_stdout_file_path(launcher, out);
	g_subprocess_launcher_set_child_setup(launcher, child_setup, NULL, NULL);
	a->proc = g_subprocess_launcher_spawnv(launcher, argv, &error);
	g_assert_no_error(error);
	g_subprocess_wait_async(a->proc, NULL, on_aux_exit, NULL);
	g_test_message("started pid %s: %s", g_subprocess_get_identifier(a->proc), cmdline);
	if (!hm_wait_cond(aux_ready, a, START_MS) || aux_exited(a)) {
		g_autofree char *text = NULL;

		g_file_get_contents(out, &text, NULL, NULL);
		g_error("%s did not start: %s", cmdline, text);
	}
	return a;
}

void
hm_aux_free(HmAux *a)
{
	if (a == NULL)
		return;
	if (!aux_exited(a)) {
		g_subprocess_send_signal(a->proc, SIGTERM);
		if (!hm_wait_cond(aux_exited, a, STOP_MS)) {
			g_subprocess_force_exit(a->proc);
			g_subprocess_wait(a->proc, NULL, NULL);
		}
	}
	if (g_test_failed()) {
		g_autofree char *text = NULL;

		g_file_get_contents(a->out, &text, NULL, NULL);
		g_printerr("==== %s ====\n%s\n", a->out, text != NULL ? text : "");
	}
	g_clear_object(&a->proc);
	g_free(a->out);
	g_free(a->ready_file);
	g_free(a);
}

struct _HmSim {
	HmDir *dir;
	char *link;
	char *log;
	HmAux *aux;
};

HmSim *
hm_sim_start(const char *const *args)
{
	HmSim *s = g_new0(HmSim, 1);
	g_autoptr(GPtrArray) argv = g_ptr_array_new();
	g_autofree char *out = NULL;
	const char *sim = g_getenv("DFOTA_SIM");

	g_assert_nonnull(sim);
	s->dir = hm_dir_new();
	s->link = hm_dir_file(s->dir, "tty");
	s->log = hm_dir_file(s->dir, "sim.log");
	out = hm_dir_file(s->dir, "sim.out");
	{
		const char *const defaults[] = {
			sim,          "--link",         s->link,  "--log",           s->log,
			"--revision", HARNESS_REV_FROM, "--imei", "866971030054321", "--time-scale",
			"0.02"
		};

		for (guint i = 0; i < G_N_ELEMENTS(defaults); i++)
			g_ptr_array_add(argv, (gpointer)defaults[i]);
	}
	for (guint i = 0; args != NULL && args[i] != NULL; i++)
		g_ptr_array_add(argv, (gpointer)args[i]);
	g_ptr_array_add(argv, NULL);
	s->aux = hm_aux_start((const char *const *)argv->pdata, out, out, "READY ");
	return s;
}

void
hm_sim_free(HmSim *s)
{
	if (s == NULL)
		return;
	hm_aux_free(s->aux);
	if (g_test_failed()) {
		g_autofree char *log = NULL;

		g_file_get_contents(s->log, &log, NULL, NULL);
		g_printerr("==== second simulator's log ====\n%s\n", log != NULL ? log : "");
	}
	hm_dir_free(s->dir);
	g_free(s->link);
	g_free(s->log);
	g_free(s);
}

GPtrArray *
hm_sim_tty_lines(HmSim *s)
{
	g_autofree char *contents = NULL;
	g_auto(GStrv) lines = NULL;
	GPtrArray *out = g_ptr_array_new_with_free_func(g_free);

	if (!g_file_get_contents(s->log, &contents, NULL, NULL))
		return out;
	lines = g_strsplit(contents, "\n", -1);
	for (guint i = 0; lines[i] != NULL; i++) {
		if (g_str_has_prefix(lines[i], "> "))
			g_ptr_array_add(out, g_strdup(lines[i] + 2));
	}
	return out;
}

guint
hm_sim_tty_mark(HmSim *s)
{
	g_autoptr(GPtrArray) lines = hm_sim_tty_lines(s);

	return lines->len;
}

typedef struct {
	Harness *h;
	const char *path;
	const char *state;
} StateWait;

static gboolean
modem_in_state(gpointer data)
{
	StateWait *sw = data;
	g_autoptr(GVariant) ret = g_dbus_connection_call_sync(
	        harness_bus(sw->h), HARNESS_BUS_NAME, sw->path, HARNESS_IFACE_PROPS, "Get",
	        g_variant_new("(ss)", HARNESS_IFACE_MODEM, "State"), G_VARIANT_TYPE("(v)"),
	        G_DBUS_CALL_FLAGS_NONE, CALL_MS, NULL, NULL);
	g_autoptr(GVariant) value = NULL;

	/* Not there yet: the daemon has not opened the second port. */
	if (ret == NULL)
		return FALSE;
	g_variant_get(ret, "(v)", &value);
	return strcmp(g_variant_get_string(value, NULL), sw->state) == 0;
}

Harness *
hm_harness_with_second_modem(HmSim *sim, const char *daemon_keys, const char *group,
                             const char *modem_keys)
{
	/* The harness writes [daemon] keys only: the modem's group follows them. */
	g_autofree char *keys_text = g_strdup_printf("%s[modem %s]\nport=%s\n%s", daemon_keys,
	                                             group, sim->link, modem_keys);
	const char *const keys[] = { keys_text, NULL };
	HarnessOptions opts = { .daemon_keys = keys };
	Harness *h = harness_new(&opts);
	StateWait sw = { h, HM_MODEM1_PATH, "ready" };

	if (!hm_wait_cond(modem_in_state, &sw, START_MS))
		g_error("Modem/1 on %s never became ready", sim->link);
	return h;
}

/* ---- calls and UFS ---- */

GVariant *
hm_call_at(Harness *h, const char *path, const char *iface, const char *method, GVariant *params,
           int fd, GError **error)
{
	g_autoptr(GUnixFDList) fds = NULL;

	if (fd >= 0) {
		g_autoptr(GError) local = NULL;

		fds = g_unix_fd_list_new();
		g_unix_fd_list_append(fds, fd, &local);
		g_assert_no_error(local);
	}
	return g_dbus_connection_call_with_unix_fd_list_sync(
	        harness_bus(h), HARNESS_BUS_NAME, path, iface, method, params, NULL,
	        G_DBUS_CALL_FLAGS_NONE, CALL_MS, fds, NULL, NULL, error);
}

GVariant *
hm_call_fd(Harness *h, const char *iface, const char *method, GVariant *params, int fd,
           GError **error)
{
	return hm_call_at(h, HARNESS_MODEM_PATH, iface, method, params, fd, error);
}

int
hm_open(const char *path, int flags)
{
	int fd = open(path, flags | O_CLOEXEC, 0600);

	if (fd < 0)
		g_error("open %s: %s", path, g_strerror(errno));
	return fd;
}

void
hm_upload_at(Harness *h, const char *path, const char *file, const char *name, GError **error)
{
	int fd = hm_open(file, O_RDONLY);
	g_autoptr(GVariant) ret = hm_call_at(h, path, HARNESS_IFACE_FILES, "Upload",
	                                     g_variant_new("(sh)", name, 0), fd, error);

	close(fd);
}

void
hm_upload(Harness *h, const char *file, const char *name, GError **error)
{
	hm_upload_at(h, HARNESS_MODEM_PATH, file, name, error);
}

GBytes *
hm_download_at(Harness *h, const char *path, const char *name, GError **error)
{
	g_autofree char *file = g_strdup_printf("%s/download-%s", harness_tmpdir(h), name);
	int fd = hm_open(file, O_WRONLY | O_CREAT | O_TRUNC);
	g_autoptr(GVariant) ret = hm_call_at(h, path, HARNESS_IFACE_FILES, "Download",
	                                     g_variant_new("(sh)", name, 0), fd, error);
	char *contents = NULL;
	gsize len = 0;

	close(fd);
	if (ret == NULL)
		return NULL;
	g_assert_true(g_file_get_contents(file, &contents, &len, NULL));
	return g_bytes_new_take(contents, len);
}

GBytes *
hm_download(Harness *h, const char *name, GError **error)
{
	return hm_download_at(h, HARNESS_MODEM_PATH, name, error);
}

gint64
hm_ufs_size_at(Harness *h, const char *path, const char *name)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) ret =
	        hm_call_at(h, path, HARNESS_IFACE_FILES, "List", NULL, -1, &error);
	g_autoptr(GVariantIter) iter = NULL;
	const char *fname;
	guint64 size;
	gint64 found = -1;

	g_assert_no_error(error);
	g_assert_cmpstr(g_variant_get_type_string(ret), ==, "(a(st))");
	g_variant_get(ret, "(a(st))", &iter);
	while (g_variant_iter_next(iter, "(&st)", &fname, &size)) {
		if (strcmp(fname, name) == 0)
			found = (gint64)size;
	}
	return found;
}

gint64
hm_ufs_size(Harness *h, const char *name)
{
	return hm_ufs_size_at(h, HARNESS_MODEM_PATH, name);
}

GBytes *
hm_random_file(const char *file, gsize size, guint32 seed)
{
	g_autoptr(GRand) rand = g_rand_new_with_seed(seed);
	guint8 *buf = g_malloc(size);
	g_autoptr(GError) error = NULL;

	for (gsize i = 0; i < size; i++)
		buf[i] = (guint8)g_rand_int_range(rand, 0, 256);
	g_file_set_contents(file, (const char *)buf, (gssize)size, &error);
	g_assert_no_error(error);
	return g_bytes_new_take(buf, size);
}

/* ---- jobs ---- */

char *
hm_job_phases_at(Harness *h, const char *path, guint64 since, guint *fetch_max)
{
	g_autoptr(GPtrArray) events = harness_events(h, since);
	g_autoptr(GString) phases = g_string_new(NULL);
	g_autofree char *current = NULL;
	guint last = 0;

	if (fetch_max != NULL)
		*fetch_max = 0;
	for (guint i = 0; i < events->len; i++) {
		HarnessEvent *ev = events->pdata[i];
		const char *phase;
		guint32 percent;

		if (ev->type != HARNESS_EVENT_SIGNAL || g_strcmp0(ev->member, "Progress") != 0 ||
		    g_strcmp0(ev->path, path) != 0)
			continue;
		g_variant_get(ev->body, "(&su)", &phase, &percent);
		g_assert_cmpuint(percent, <=, 100);
		if (g_strcmp0(phase, current) != 0) {
			if (phases->len > 0)
				g_string_append_c(phases, ',');
			g_string_append(phases, phase);
			g_free(current);
			current = g_strdup(phase);
			last = percent;
		}
		if (percent < last)
			g_error("%s went back from %u%% to %u%%", phase, last, percent);
		last = percent;
		if (fetch_max != NULL && strcmp(phase, "fetching") == 0)
			*fetch_max = MAX(*fetch_max, percent);
	}
	if (g_str_has_suffix(phases->str, ",idle"))
		g_string_truncate(phases, phases->len - strlen(",idle"));
	return g_string_free(g_steal_pointer(&phases), FALSE);
}

char *
hm_job_phases(Harness *h, guint64 since)
{
	return hm_job_phases_at(h, HARNESS_MODEM_PATH, since, NULL);
}

void
hm_assert_no_finished(Harness *h, guint64 since)
{
	harness_round_trip(h);
	g_assert_cmpuint(harness_count_signals(h, since, HARNESS_IFACE_FOTA, "Finished"), ==, 0);
}

void
hm_assert_idle_with_result(Harness *h, GVariant *result)
{
	g_autoptr(GVariant) phase = harness_get_property(h, HARNESS_IFACE_FOTA, "Phase");
	g_autoptr(GVariant) job = harness_get_property(h, HARNESS_IFACE_FOTA, "Job");
	g_autoptr(GVariant) last = harness_get_property(h, HARNESS_IFACE_FOTA, "LastResult");
	g_autoptr(GVariant) state = harness_get_property(h, HARNESS_IFACE_MODEM, "State");

	g_assert_cmpstr(g_variant_get_string(phase, NULL), ==, "idle");
	g_assert_cmpuint(g_variant_n_children(job), ==, 0);
	g_assert_true(g_variant_equal(last, result));
	g_assert_cmpstr(g_variant_get_string(state, NULL), ==, "ready");
}

void
hm_assert_revision(Harness *h, const char *expected)
{
	g_autoptr(GVariant) v = harness_get_property(h, HARNESS_IFACE_MODEM, "Revision");

	g_assert_cmpstr(g_variant_get_string(v, NULL), ==, expected);
}

GVariant *
hm_wait_finished(Harness *h, guint64 since, guint timeout_ms)
{
	GVariant *result = harness_wait_finished(h, since, timeout_ms);

	harness_message_variant("Finished", result);
	return result;
}

typedef struct {
	Harness *h;
	guint64 since;
	const char *path;
} FinishedWait;

static guint
count_finished_at(Harness *h, guint64 since, const char *path, GVariant **first)
{
	g_autoptr(GPtrArray) events = harness_events(h, since);
	guint n = 0;

	for (guint i = 0; i < events->len; i++) {
		HarnessEvent *ev = events->pdata[i];

		if (ev->type != HARNESS_EVENT_SIGNAL || g_strcmp0(ev->member, "Finished") != 0 ||
		    g_strcmp0(ev->iface, HARNESS_IFACE_FOTA) != 0 || g_strcmp0(ev->path, path) != 0)
			continue;
		if (n++ == 0 && first != NULL)
			*first = g_variant_get_child_value(ev->body, 0);
	}
	return n;
}

static gboolean
finished_at(gpointer data)
{
	FinishedWait *fw = data;

	return count_finished_at(fw->h, fw->since, fw->path, NULL) > 0;
}

GVariant *
hm_wait_finished_at(Harness *h, guint64 since, const char *path, guint timeout_ms)
{
	FinishedWait fw = { h, since, path };
	GVariant *result = NULL;
	g_autofree char *what = g_strdup_printf("Finished on %s", path);

	g_assert_true(hm_wait_cond(finished_at, &fw, timeout_ms));
	/* As in harness_wait_finished(): a second Finished sent right after the first would
	 * arrive before these replies. */
	harness_round_trip(h);
	g_free(harness_command(h, NULL, "AT", 0, NULL));
	harness_round_trip(h);
	g_assert_cmpuint(count_finished_at(h, since, path, &result), ==, 1);
	harness_message_variant(what, result);
	return result;
}

void
hm_assert_succeeded(GVariant *result)
{
	g_assert_true(harness_dict_bool(result, "success"));
	g_assert_cmpint(harness_dict_int(result, "code"), ==, 0);
	g_assert_cmpstr(harness_dict_str(result, "error"), ==, "");
}

void
hm_assert_failed(GVariant *result, const char *error_name)
{
	g_assert_false(harness_dict_bool(result, "success"));
	if (!harness_error_name_is(harness_dict_str(result, "error"), error_name))
		g_error("expected %s, the job ended with %s", error_name,
		        harness_dict_str(result, "error"));
}

/* ---- host-side upgrades ---- */

GVariant *
hm_options(const char *sha256, const char *from_revision)
{
	GVariantBuilder b;

	g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
	if (sha256 != NULL)
		g_variant_builder_add(&b, "{sv}", "sha256", g_variant_new_string(sha256));
	if (from_revision != NULL)
		g_variant_builder_add(&b, "{sv}", "from-revision",
		                      g_variant_new_string(from_revision));
	return g_variant_builder_end(&b);
}

char *
hm_sha256_of(const char *file)
{
	g_autofree char *contents = NULL;
	gsize len = 0;

	g_assert_true(g_file_get_contents(file, &contents, &len, NULL));
	return g_compute_checksum_for_data(G_CHECKSUM_SHA256, (const guchar *)contents, len);
}

char *
hm_www_path(Harness *h, const char *name)
{
	return g_build_filename(harness_tmpdir(h), "www", name, NULL);
}

GVariant *
hm_via_host_fails(Harness *h, const char *url, GVariant *opts, const char *error_name)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) reply = NULL;
	g_autofree char *phases = NULL;
	guint64 since = harness_mark(h);
	guint mark = harness_tty_mark(h);
	GVariant *result;

	reply = harness_call(h, NULL, HARNESS_IFACE_FOTA, "UpgradeViaHost",
	                     g_variant_new("(s@a{sv})", url, opts), NULL, &error);
	g_assert_no_error(error);
	result = hm_wait_finished(h, since, 60000);
	hm_assert_failed(result, error_name);
	g_assert_cmpstr(harness_dict_str(result, "kind"), ==, "upgrade-via-host");
	g_assert_cmpstr(harness_dict_str(result, "source"), ==, url);
	/* The module gave no code for a failure on the gateway's side: -1 (the contract's
	 * LastResult "code"). Not fatal, so that the rest of the test still runs. */
	if (harness_dict_int(result, "code") != -1)
		g_test_fail_printf("%s: LastResult code is %d, expected -1 (the module gave none)",
		                   error_name, harness_dict_int(result, "code"));
	phases = hm_job_phases(h, since);
	g_assert_cmpstr(phases, ==, "fetching");
	/* Nothing reached the module. */
	hm_assert_tty_only(h, mark, NULL);
	hm_assert_revision(h, HARNESS_REV_FROM);
	{
		g_autoptr(GVariant) phase = harness_get_property(h, HARNESS_IFACE_FOTA, "Phase");
		g_autoptr(GVariant) job = harness_get_property(h, HARNESS_IFACE_FOTA, "Job");

		g_assert_cmpstr(g_variant_get_string(phase, NULL), ==, "idle");
		g_assert_cmpuint(g_variant_n_children(job), ==, 0);
	}
	return result;
}

/* A CA (@dir/ca.pem, named @ca_name) and a server certificate for 127.0.0.1 and only that
 * (@dir/server.pem, server.key), made with openssl. */
void
hm_make_test_ca(const char *dir, const char *ca_name)
{
	g_autofree char *ext = g_build_filename(dir, "ext.cnf", NULL);
	g_autofree char *subject = g_strdup_printf("/CN=%s", ca_name);
	g_autoptr(GError) error = NULL;
	const char *const cmds[][32] = {
		{ "openssl",
		  "req",
		  "-x509",
		  "-newkey",
		  "ec",
		  "-pkeyopt",
		  "ec_paramgen_curve:prime256v1",
		  "-nodes",
		  "-keyout",
		  "ca.key",
		  "-out",
		  "ca.pem",
		  "-days",
		  "2",
		  "-subj",
		  subject,
		  "-addext",
		  "basicConstraints=critical,CA:TRUE",
		  "-addext",
		  "keyUsage=critical,keyCertSign,cRLSign",
		  NULL },
		{ "openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
		  "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1",
		  NULL },
		{ "openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey",
		  "ca.key", "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile",
		  "ext.cnf", NULL },
	};

	g_file_set_contents(ext,
	                    "basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1\n"
	                    "extendedKeyUsage=serverAuth\n",
	                    -1, &error);
	g_assert_no_error(error);
	for (guint i = 0; i < G_N_ELEMENTS(cmds); i++) {
		g_autofree char *out = NULL;
		int status = 0;

		g_spawn_sync(dir, (char **)cmds[i], NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL,
		             &out, &status, &error);
		g_assert_no_error(error);
		if (!g_spawn_check_wait_status(status, NULL))
			g_error("%s failed: %s", cmds[i][1], out);
	}
}
